"""One parameter spec for every setting a user gives: run options, model parameters, featurizer options.

Each setting is declared once, as a :class:`Param` (default, help, type, choices or an interval), in the
spirit of scikit-learn's ``_parameter_constraints``. The spec parses the string a flag or ``-o`` gives
(:meth:`Param.parse`, the one string parser), checks a value from any source (:meth:`Param.check`, the one
validation and its one-line error) and describes itself (:meth:`Param.describe`, for ``--list`` and click's
help), so nothing else keeps its own list of types, defaults or allowed values.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from enso_ng.errors import EnsoError, either, shown

#: the default of a parameter whose default lives elsewhere (a model's ``__init__`` signature)
UNSET: Any = object()
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_TYPE_TEXT = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


@dataclass(frozen=True)
class Interval:
    """The numbers a parameter may take, ``low`` to ``high`` (None: unbounded), described as ``text``."""

    low: float | None = None
    high: float | None = None
    #: the bound itself is excluded
    low_open: bool = False
    high_open: bool = False
    text: str = ""

    def __contains__(self, value: Any) -> bool:
        if isinstance(value, float) and math.isnan(value):
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below


POSITIVE = Interval(0, None, low_open=True, text="positive")
NON_NEGATIVE = Interval(0, None, text="zero or more")
FOLDS = Interval(2, None, text="at least 2 (folds)")
FRACTION = Interval(0, 1, high_open=True, text="at least 0 and below 1")
PROBABILITY = Interval(0, 1, text="between 0 and 1")
#: float32's smallest normal and largest values: the models compute in float32, where a larger number is
#: infinite (C = 1e39 in an inner-CV path crashed in torch with an overflow) and a smaller one is zero or
#: loses its precision (C = 1e-50 made 1 / (C n) infinite and every probability NaN)
FLOAT32_TINY, FLOAT32_MAX = 1.1754943508222875e-38, 3.4028234663852886e38
POSITIVE_FINITE = Interval(FLOAT32_TINY, FLOAT32_MAX, text="a positive number from 1.2e-38 to 3.4e38 (float32's range)")
FINITE = Interval(-math.inf, math.inf, low_open=True, high_open=True, text="a finite number")


@dataclass(frozen=True)
class Param:
    """One setting: its default (which gives its type unless ``type`` does), help and allowed values.

    A list-valued parameter (``many``: a list or tuple default) holds values of ``type``; ``choices``,
    ``interval`` and ``check`` apply to each of them. ``default=None`` means "not set" (``type`` needed).
    """

    default: Any = UNSET
    help: str = ""
    choices: tuple[Any, ...] | None = None
    interval: Interval | None = None
    #: the type of the value (of each item of a list); from the default where not given
    type: type | None = None
    #: a list of values; from the default where not given
    many: bool | None = None
    #: a rule beyond type, choices and interval, described by ``check_text`` (e.g. bert's ``layers``)
    check_rule: Callable[[Any], bool] | None = None
    #: the rule in words, or a function giving them when asked (names of a registry filled later)
    check_text: str | Callable[[], str] = ""
    #: command-line spellings besides ``--key-name`` (run options), and click's metavar
    flags: tuple[str, ...] = ()
    metavar: str | None = None

    # ---- what the declaration implies -------------------------------------------------------------

    @property
    def is_list(self) -> bool:
        return self.many if self.many is not None else isinstance(self.default, (list, tuple))

    @property
    def kind(self) -> type:
        if self.type is not None:
            return self.type
        sample = self.default[0] if self.is_list and self.default else self.default
        if sample is None or sample is UNSET:
            raise TypeError("a Param whose default is None or unset needs type=")
        return type(sample)

    def with_default(self, default: Any) -> Param:
        return dataclasses.replace(self, default=default)

    def text(self) -> str:
        """What a value (each value of a list) must be, in words: the end of every error about it."""
        if self.choices is not None:
            return either(self.choices)
        if self.check_rule is not None:
            return self.check_text() if callable(self.check_text) else self.check_text
        if self.interval is not None:
            return self.interval.text or _interval_text(self.interval)
        return _TYPE_TEXT.get(self.kind, self.kind.__name__)

    def describe(self) -> str:
        """``default [choices]: help``, as ``--list`` prints it."""
        allowed = f" [{' | '.join(str(c) for c in self.choices)}]" if self.choices else ""
        shown = list(self.default) if isinstance(self.default, tuple) else self.default
        return f"{shown!r}{allowed}: {self.help}"

    # ---- the one parser and the one check -----------------------------------------------------------

    def parse(self, raw: str) -> Any:
        """A value from a string (a flag, ``-o key=value``): a list is comma-separated or JSON."""
        text = raw.strip(" ")  # spaces only: a newline or tab in a name is refused, never trimmed away
        if self.default is None and text.lower() in ("none", "null"):
            return None
        if self.is_list:
            if text.startswith("["):
                try:
                    items = json.loads(text)
                except ValueError:
                    raise ValueError(raw) from None
                return [self._item(i) for i in (items if isinstance(items, list) else [items])]
            return [self._item(part.strip(" ")) for part in text.split(",") if part.strip(" ")]
        return self._item(text)

    def _item(self, value: Any) -> Any:
        kind = self.kind
        if not isinstance(value, str) or kind is str:
            return value
        if kind is bool:
            if value.lower() in _TRUE:
                return True
            if value.lower() in _FALSE:
                return False
            raise ValueError(value)
        return kind(value) if kind in (int, float) else value

    def check(self, value: Any, where: str) -> Any:
        """The value, parsed if a string and typed (an int for a float becomes a float), or a one-line
        ``EnsoError`` naming ``where`` (e.g. "model 'knn': ks") when it is outside the spec."""
        original = value
        try:
            if isinstance(value, str) and (self.kind is not str or self.is_list):
                value = self.parse(value)
            if value is None and self.default is None:
                return None
            if self.is_list:
                items = list(value) if isinstance(value, (list, tuple)) else [value]
                if not items and self.default:
                    raise ValueError("empty")  # a list that may be empty (all datasets) defaults to empty
                typed = [self._typed(self._item(item)) for item in items]
                if not all(self._inside(item) for item in typed):
                    raise _Outside(typed)
                return typed
            typed = self._typed(value)
            if not self._inside(typed):
                raise _Outside(typed)
            return typed
        except (TypeError, ValueError):
            raise EnsoError(f"{where} must be {self._type_text()}, not {shown(original)}") from None
        except _Outside as outside:
            raise EnsoError(f"{where} must be {self.text()}, not {shown(outside.args[0])}") from None

    def _typed(self, value: Any) -> Any:
        kind = self.kind
        if kind is bool:
            if not isinstance(value, bool):
                raise TypeError(value)
        elif kind in (int, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(value)
            if kind is int and not isinstance(value, int):
                raise TypeError(value)
            value = kind(value)
        elif not isinstance(value, kind):
            raise TypeError(value)
        return value

    def _inside(self, value: Any) -> bool:
        return (
            (self.choices is None or value in self.choices)
            and (self.interval is None or value in self.interval)
            and (self.check_rule is None or self.check_rule(value))
        )

    def _type_text(self) -> str:
        one = _TYPE_TEXT.get(self.kind, self.kind.__name__)
        return f"a list of {one.removeprefix('an ').removeprefix('a ')}s" if self.is_list else one


class _Outside(Exception):
    """A typed value outside the spec's choices, interval or rule."""


def _interval_text(interval: Interval) -> str:
    low = None if interval.low is None else f"{'above' if interval.low_open else 'at least'} {_number(interval.low)}"
    high = None if interval.high is None else f"{'below' if interval.high_open else 'at most'} {_number(interval.high)}"
    return " and ".join(p for p in (low, high) if p)


def _number(value: float) -> str:
    """A bound as a user types it: whole numbers in full (4294967295, not 4.29497e+09)."""
    return str(int(value)) if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e16 else f"{value:g}"


def run_option(default: Any, help: str, **spec: Any) -> Any:
    """A field of a run configuration dataclass declared by its :class:`Param` (read back by
    :func:`dataclass_spec`): the click option, the config-file key and the check all come from it."""
    param = Param(default, help, **spec)
    if isinstance(default, (list, tuple)):
        return dataclasses.field(default_factory=lambda: list(default), metadata={"param": param})
    return dataclasses.field(default=default, metadata={"param": param})


def dataclass_spec(cls: type) -> dict[str, Param]:
    """The :class:`Param` of each field declared with :func:`run_option`, in declaration order."""
    return {f.name: f.metadata["param"] for f in dataclasses.fields(cls) if "param" in f.metadata}


def check_values(spec: dict[str, Param], values: dict[str, Any], where: str) -> dict[str, Any]:
    """Each value checked against its spec; a key the spec lacks is an error listing the known ones."""
    out = {}
    for key, value in values.items():
        if key not in spec:
            raise EnsoError(f"{where}has no {key!r} (known: {', '.join(spec)})")
        out[key] = spec[key].check(value, f"{where}{key}")
    return out
