"""Registries for pluggable parts (featurizers, target models, ...).

One registry per kind, filled by a decorator at import time, so adding a part is adding a module and
``--list`` options can read what exists. A duplicate name is a programming error and fails loudly.
A registry can also name the module that registers a part (:meth:`Registry.lazy`): that module is imported
on first use, so a command that needs one part does not pay for importing every other (torch, for one).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from enso_ng.errors import EnsoError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> object mapping with a decorator to fill it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        #: name -> the module whose import registers it, for parts not imported yet
        self._modules: dict[str, str] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorate(obj: T) -> T:
            module = getattr(obj, "__module__", None)
            if name in self._items or self._modules.get(name, module) != module:  # or declared for another module
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return decorate

    def lazy(self, module: str, *names: str) -> None:
        """``names`` are registered by importing ``module``, which is done when one of them is first asked for."""
        for name in names:
            if name in self._items or name in self._modules:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._modules[name] = module

    def unregister(self, name: str) -> T:
        """Remove a part (for tests and plugins that register temporarily)."""
        return self._items.pop(name)

    def get(self, name: str) -> T:
        if name not in self._items and name in self._modules:
            importlib.import_module(self._modules[name])
            if name not in self._items:
                raise ValueError(f"importing {self._modules[name]} did not register {self.kind} {name!r}")
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise EnsoError(f"unknown {self.kind} {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        return sorted({*self._items, *self._modules})

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._modules

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
