"""The featurizer interface, its declarative options, and its registry.

A featurizer turns texts into frozen vectors. Everything that changes those vectors must appear in
:meth:`Featurizer.params`, because the features cache is keyed on it: a cache whose parameters differ
from the request is rebuilt, never silently reused.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np
import scipy.sparse as sp

from enso_ng.errors import EnsoError
from enso_ng.formats import DENSE, TOKEN_VECTORS
from enso_ng.params import POSITIVE, Param
from enso_ng.registry import Registry

FEATURIZERS: Registry[type[Featurizer]] = Registry("featurizer")


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
    #: how the file stores what ``transform`` returns (``formats.LAYOUTS``): dense arrays, CSR matrices
    #: (``sparse``), an encoder's token id lists (``token_ids``), or one (tokens, dim) array per text
    #: (``token_vectors``, set by ``pooling=none``, written in ``dtype``)
    layout: str = DENSE
    #: option name -> its :class:`~enso_ng.params.Param`; ``-o key=value`` values are checked against it
    options: ClassVar[dict[str, Param]] = {}
    #: the option that ``enso featurize --model`` sets (a model id, folder or vectors file), if any
    model_option: ClassVar[str | None] = None
    #: how it takes a sentence-pair dataset: ``"sides"`` (each text embedded alone, rows stored as ``[u, v]``)
    #: or ``"cross"`` (``transform`` is given ``(text, text_pair)`` tuples and encodes each pair as one input)
    pairs: ClassVar[str] = "sides"
    #: vectors per row (a multi-layer encoder may store one per layer, flattened; see ``layer_mix``)
    layers: int = 1
    dtype: str = "float32"
    #: attributes not pickled (loaded weights): a cluster worker receives the fitted featurizer without
    #: them and loads them itself, lazily, from the same path (``enso featurize --scheduler``)
    reloadable: ClassVar[tuple[str, ...]] = ()
    #: told the number of texts each time some are embedded inside ``transform`` (a featurizer that works
    #: in batches calls it per batch), so the progress bar moves with the work, not a block at a time
    on_rows: Callable[[int], None] | None = None

    @property
    def sequence(self) -> bool:
        """Keeps each text's token vectors (the ``token_vectors`` layout)."""
        return self.layout == TOKEN_VECTORS

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, **dict.fromkeys(self.reloadable), "on_rows": None}

    def advanced(self, rows: int) -> None:
        """Tell the progress bar (if one listens) that ``rows`` more texts are embedded."""
        if self.on_rows is not None:
            self.on_rows(rows)

    @classmethod
    def check_known(cls, options: dict[str, Any]) -> None:
        """Every key of ``options`` is an option of this featurizer (a typo is refused, never dropped)."""
        unknown = set(options) - set(cls.options)
        if unknown:
            known = ", ".join(sorted(cls.options)) or "none"
            raise EnsoError(f"featurizer {cls.name!r} has no option {', '.join(sorted(unknown))} (options: {known})")

    def __init__(self, **options: Any) -> None:
        self.check_known(options)
        self.config = {
            key: option.check(options[key], f"featurizer {self.name!r}: option {key}")
            if key in options
            else option.default
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
    "max_tokens": Param(
        128, "pooling=none: token vectors kept per text (the rest are cut, and counted)", interval=POSITIVE
    ),
    "dtype": Param("float32", "pooling=none: stored precision of token vectors", choices=("float32", "float16")),
}


def token_vector_setup(featurizer: Featurizer) -> None:
    """Set ``sequence``/``dtype`` from ``pooling``; the token-vector options mean nothing for pooled vectors,
    so setting them there is an error, and they stay out of a pooled file's cache key."""
    featurizer.layout = TOKEN_VECTORS if featurizer.config["pooling"] == "none" else DENSE
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
