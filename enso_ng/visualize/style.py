"""What every figure of a report shares: a colour per featurizer x model, readable text on coloured
cells, and sizes that fit a laptop screen.

The palette is decided once per report from every pair the report shows, and handed to each figure, so
a pair is the same colour in the learning curves, the bars, the labels-needed chart and the cost chart,
even where one figure draws only some of the pairs.
"""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402

# Labels, dataset and model names come from users' data: a '$' in them ("$US_$EUR") is a character to draw,
# never the start of mathtext (which fails on it, or renders "$x^2$" as a formula). No figure uses mathtext.
plt.rcParams["text.parse_math"] = False

Palette = dict[tuple[str, str], tuple]

#: the widest figure, in inches: at the report's 90 dpi about 1,000 pixels, inside a 1,366-pixel laptop screen
MAX_WIDTH = 11.0


def palette(series: Iterable[tuple[str, str]]) -> Palette:
    """One distinct colour per (featurizer, model), in name order: tab10 up to 10 pairs, tab20 up to 20."""
    names = sorted(set(series))
    if len(names) <= 10:
        cmap, count = plt.get_cmap("tab10"), 10
    elif len(names) <= 20:
        cmap, count = plt.get_cmap("tab20"), 20
    else:
        cmap, count = plt.get_cmap("turbo"), len(names)
    return {s: cmap(i / max(count - 1, 1)) if count > 20 else cmap(i) for i, s in enumerate(names)}


def series_colours(cells: Iterable) -> Palette:
    """The palette of the pairs these cells hold (for a figure drawn on its own)."""
    return palette((c.featurizer, c.model) for c in cells)


def text_colour(rgba: tuple) -> str:
    """Black or white, whichever contrasts more with a cell of colour ``rgba`` (WCAG relative luminance)."""

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(float(c)) for c in rgba[:3])
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    # contrast with black is (L + 0.05) / 0.05, with white 1.05 / (L + 0.05); they are equal at L = 0.179
    return "black" if luminance > 0.179 else "white"


def width(wanted: float) -> float:
    """A figure width no wider than a laptop screen shows at the report's resolution."""
    return min(wanted, MAX_WIDTH)
