"""The featurizer interface, its declarative options, and its registry.

A featurizer turns texts into frozen vectors. Everything that changes those vectors must appear in
:meth:`Featurizer.params`, because the features cache is keyed on it: a cache whose parameters differ
from the request is rebuilt, never silently reused.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np
import scipy.sparse as sp

from enso_ng.errors import EnsoError, either
from enso_ng.registry import Registry

FEATURIZERS: Registry[type[Featurizer]] = Registry("featurizer")


@dataclass(frozen=True)
class Option:
    """One featurizer option, declared once: its default (which fixes its type), help and allowed values.

    Values arrive as strings from ``-o key=value``; :meth:`parse` gives them the default's type and checks
    them against ``choices``, so a bad value fails when the featurizer is built, before any work.
    """

    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    #: what a value must be beyond its type and choices (e.g. "positive"), checked by ``check``
    check: Callable[[Any], bool] | None = None
    check_text: str = ""

    def parse(self, featurizer: str, key: str, value: Any) -> Any:
        value = _coerce(featurizer, key, value, self.default)
        if self.choices is not None and value not in self.choices:
            raise EnsoError(f"featurizer {featurizer!r}: option {key} must be {either(self.choices)}, not {value!r}")
        if self.check is not None and not self.check(value):
            raise EnsoError(f"featurizer {featurizer!r}: option {key} must be {self.check_text}, not {value!r}")
        return value

    def describe(self) -> str:
        allowed = f" [{' | '.join(str(c) for c in self.choices)}]" if self.choices else ""
        return f"{self.default!r}{allowed}: {self.help}"


def positive(value: Any) -> bool:
    return value > 0


F = TypeVar("F", bound="type[Featurizer]")


def register(name: str) -> Callable[[F], F]:
    """Register a featurizer class under ``name``, which becomes its ``name`` (given once, here)."""

    def decorate(cls: F) -> F:
        cls.name = name
        return FEATURIZERS.register(name)(cls)

    return decorate


class Featurizer(ABC):
    """Base class: ``fit`` on unlabelled texts (a no-op for pre-trained models), then ``transform``."""

    #: the registry name, set by :func:`register`
    name: ClassVar[str] = ""
    #: one-line description shown by ``enso featurize --list``
    summary: ClassVar[str] = ""
    #: sparse featurizers return CSR matrices and are stored as ``indices``/``values`` lists
    sparse: ClassVar[bool] = False
    #: option name -> :class:`Option`; the CLI's ``--option key=value`` values are checked against it
    options: ClassVar[dict[str, Option]] = {}
    #: stores an encoder's token ids (lists of ints) instead of vectors: input for models that fine-tune it
    tokens: ClassVar[bool] = False
    #: the option that ``enso featurize --model`` sets (a model id, folder or vectors file), if any
    model_option: ClassVar[str | None] = None
    #: vectors per row (a multi-layer encoder may store one per layer, flattened; see ``layer_mix``)
    layers: int = 1
    #: stores each text's token vectors (``pooling=none``): ``transform`` returns one (tokens, dim) array
    #: per text, written as ``vectors`` in ``dtype``; see :class:`TokenVectorOptions`
    sequence: bool = False
    dtype: str = "float32"
    #: attributes not pickled (loaded weights): a cluster worker receives the fitted featurizer without
    #: them and loads them itself, lazily, from the same path (``enso featurize --scheduler``)
    reloadable: ClassVar[tuple[str, ...]] = ()

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, **dict.fromkeys(self.reloadable)}

    def __init__(self, **options: Any) -> None:
        unknown = set(options) - set(self.options)
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise EnsoError(f"featurizer {self.name!r} has no option {', '.join(sorted(unknown))} (options: {known})")
        self.config = {
            key: option.parse(self.name, key, options[key]) if key in options else option.default
            for key, option in self.options.items()
        }

    def params(self) -> dict[str, Any]:
        """Everything that determines the vectors (options, model id, weight checksums)."""
        return dict(self.config)

    def prepare(self, texts: Sequence[str]) -> None:
        """Settle what depends on the machine and the texts before ``params`` keys the cache (e.g. ``bert``'s
        ``precision=auto``, measured on a sample of them); cheap when already settled."""
        return None

    def fit(self, texts: Sequence[str]) -> Featurizer:
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


#: the options a featurizer that can keep token vectors declares, next to ``pooling`` (with "none" among its
#: choices)
TOKEN_VECTOR_OPTIONS = {
    "max_tokens": Option(
        128,
        "pooling=none: token vectors kept per text (the rest are cut, and counted)",
        check=positive,
        check_text="positive",
    ),
    "dtype": Option("float32", "pooling=none: stored precision of token vectors", choices=("float32", "float16")),
}


def token_vector_setup(featurizer: Featurizer) -> None:
    """Set ``sequence``/``dtype`` from ``pooling``; the token-vector options mean nothing for pooled vectors,
    so setting them there is an error, and they stay out of a pooled file's cache key."""
    featurizer.sequence = featurizer.config["pooling"] == "none"
    featurizer.dtype = str(featurizer.config["dtype"])
    if not featurizer.sequence:
        for key, option in TOKEN_VECTOR_OPTIONS.items():
            if featurizer.config[key] != option.default:
                raise EnsoError(f"featurizer {featurizer.name!r}: option {key} applies to pooling=none only")


def token_vector_params(featurizer: Featurizer, params: dict[str, Any]) -> dict[str, Any]:
    if featurizer.sequence:
        return params
    return {k: v for k, v in params.items() if k not in TOKEN_VECTOR_OPTIONS}


def token_rows(featurizer: Featurizer, vectors: Iterable[np.ndarray], dim: int) -> list[np.ndarray]:
    """``pooling=none``: each text's (tokens, ``dim``) vectors, the first ``max_tokens`` of them, in the stored
    dtype; a text with no tokens gives an empty (0, ``dim``) array, never padding."""
    cap = int(featurizer.config["max_tokens"])
    return [np.asarray(v, dtype=np.float32).reshape(-1, dim)[:cap].astype(featurizer.dtype) for v in vectors]


def capped_count(featurizer: Featurizer, lengths: Iterable[int], cap: int | None = None) -> int:
    """Texts with more tokens than ``pooling=none`` keeps (``cap``, default ``max_tokens``); 0 when pooled."""
    if not featurizer.sequence:
        return 0
    cap = int(featurizer.config["max_tokens"]) if cap is None else cap
    return sum(n > cap for n in lengths)


def token_vector_report(featurizer: Featurizer, capped: int) -> dict[str, Any]:
    """The report entries of a token-vector file (the cap and the texts it cut); none for pooled vectors."""
    return {"max_tokens": featurizer.config["max_tokens"], "capped": capped} if featurizer.sequence else {}


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
        raise EnsoError(
            f"featurizer {featurizer!r}: option {key}={value!r} is not a {type(default).__name__}"
        ) from None
