"""One exception type for every user-facing failure.

Stages raise :class:`EnsoError` with a message that names the file, row or option at fault; the CLI
turns it into a one-line error and a non-zero exit. Anything else escaping a stage is a bug.
"""


class EnsoError(Exception):
    """A failure caused by input or environment, explained in one line."""


def either(names: list[str] | tuple[str, ...]) -> str:
    """``a, b or c``: the allowed values, as an error message lists them."""
    names = [str(n) for n in names]
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
