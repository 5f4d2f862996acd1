"""The featurizer interface and its registry.

A featurizer turns texts into frozen vectors. Everything that changes those vectors must appear in
:meth:`Featurizer.params`, because the features cache is keyed on it: a cache whose parameters differ
from the request is rebuilt, never silently reused.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Sequence

import numpy as np
import scipy.sparse as sp

from enso_ng.errors import EnsoError
from enso_ng.registry import Registry

FEATURIZERS: "Registry[type[Featurizer]]" = Registry("featurizer")


class Featurizer(ABC):
    """Base class: ``fit`` on unlabelled texts (a no-op for pre-trained models), then ``transform``."""

    name: ClassVar[str]
    #: one-line description shown by ``enso featurize --list``
    summary: ClassVar[str] = ""
    #: sparse featurizers return CSR matrices and are stored as ``indices``/``values`` lists
    sparse: ClassVar[bool] = False
    #: option name -> (default, help); the CLI's ``--option key=value`` values are checked against it
    options: ClassVar[dict[str, tuple[Any, str]]] = {}
    #: vectors per row (a multi-layer encoder may store one per layer, flattened; see ``layer_mix``)
    layers: int = 1

    def __init__(self, **options: Any) -> None:
        unknown = set(options) - set(self.options)
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise EnsoError(f"featurizer {self.name!r} has no option {', '.join(sorted(unknown))} (options: {known})")
        self.config = {
            key: _coerce(self.name, key, options[key], default) if key in options else default
            for key, (default, _) in self.options.items()
        }

    def params(self) -> dict[str, Any]:
        """Everything that determines the vectors (options, model id, weight checksums)."""
        return dict(self.config)

    def fit(self, texts: Sequence[str]) -> "Featurizer":
        return self

    @property
    @abstractmethod
    def dim(self) -> int:
        """Length of one feature vector (known after ``fit``)."""

    @abstractmethod
    def transform(self, texts: Sequence[str]) -> np.ndarray | sp.csr_matrix:
        """float32 array (n, dim), or a CSR matrix for sparse featurizers."""

    def report(self) -> dict[str, Any]:
        """Statistics worth telling the user after a run (e.g. truncated texts)."""
        return {}


def _coerce(featurizer: str, key: str, value: Any, default: Any) -> Any:
    """Option values arrive as strings from the command line; give them the default's type."""
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    try:
        if isinstance(default, bool):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if isinstance(default, (list, tuple)):
            return type(default)(type(default[0])(part) for part in value.split(","))
        return type(default)(value)
    except ValueError:
        raise EnsoError(f"featurizer {featurizer!r}: option {key}={value!r} is not a {type(default).__name__}") from None
