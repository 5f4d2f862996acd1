"""One exception type for every user-facing failure.

Stages raise :class:`EnsoError` with a message that names the file, row or option at fault; the CLI
turns it into a one-line error and a non-zero exit. Anything else escaping a stage is a bug.
"""

import reprlib


class EnsoError(Exception):
    """A failure caused by input or environment, explained in one line."""


def either(names: list[str] | tuple[str, ...]) -> str:
    """``a, b or c``: the allowed values, as an error message lists them."""
    names = [str(n) for n in names]
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]


_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxlist, _SHOWN.maxtuple, _SHOWN.maxdict, _SHOWN.maxset = 3, 6, 6, 4, 6
_SHOWN.maxstring, _SHOWN.maxother = 50, 50


def shown(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut short, built in bounded memory: an error line never prints a whole value back (a
    list of 20,000 items, or one a YAML alias bomb makes look like billions, is not walked)."""
    text = _SHOWN.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
