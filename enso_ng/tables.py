"""Plain-text tables for the terminal: one printer for every command's listing and summary."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def format_table(
    header: Sequence[str], rows: Iterable[Sequence[object]], right: Iterable[int] = (), rule: bool = False
) -> str:
    """Columns padded to their widest cell; ``right`` columns (numbers) right-aligned; ``rule`` underlines."""
    body = [[str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in [list(header), *body]) for i in range(len(header))]
    right = set(right)

    def line(row: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths))).rstrip()

    lines = [line(header), *([line(["-" * w for w in widths])] if rule else []), *map(line, body)]
    return "\n".join(lines)
