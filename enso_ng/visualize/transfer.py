"""A transfer run's answer: how much accuracy training on another dataset loses, and how many of the
target's own labels close the gap.

In-domain cells (B's pool, B's test rows) and transferred cells (A's pool, the same test rows, the same
split seeds) are paired seed by seed, so the gap's interval is a paired t-interval across splits: the
variation of the test set and of the seed is common to both sides and drops out.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from enso_ng.formats import RunRecord
from enso_ng.tables import format_table


@dataclass
class Gap:
    """In domain minus transferred, at one training size, over the splits both have."""

    featurizer: str
    model: str
    size: int
    in_domain: float
    transferred: float
    gap: float
    low: float
    high: float
    splits: int


def transfer_names(record: RunRecord) -> tuple[str, str, str, str] | None:
    """(A, B, the transferred cells' dataset, the mixed cells' dataset) of a transfer run; None otherwise."""
    a, b = record.config.get("train_on"), record.config.get("test_on")
    if not a or not b:
        return None
    return a, b, f"{a}-to-{b}", f"{a}-mix-{b}"


def gaps(values: dict, record: RunRecord) -> list[Gap]:
    """Every (featurizer, model, size) with both in-domain and transferred cells: the paired gap.

    ``values`` is :func:`enso_ng.visualize.summary.split_values`' (dataset, size) -> pair -> seed -> value.
    """
    names = transfer_names(record)
    if names is None:
        return []
    _, b, to, _ = names
    out = []
    for (dataset, size), pairs in sorted(values.items()):
        if dataset != b:
            continue
        for (featurizer, model), own in sorted(pairs.items()):
            other = values.get((to, size), {}).get((featurizer, model), {})
            seeds = sorted(set(own) & set(other))
            if not seeds:
                continue
            diff = np.array([own[s] - other[s] for s in seeds])
            mean = float(diff.mean())
            half = (
                float(stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff)))
                if len(diff) > 1
                else np.nan
            )
            out.append(
                Gap(featurizer, model, int(size), float(np.mean([own[s] for s in seeds])),
                    float(np.mean([other[s] for s in seeds])), mean, mean - half, mean + half, len(seeds))
            )  # fmt: skip
    return out


def closing_labels(values: dict, record: RunRecord) -> dict[tuple[str, str], tuple[float, int | None]]:
    """Per (featurizer, model): the in-domain mean at its largest size, and the fewest of B's labels that,
    added to A's pool (``--mix``), reach it (None where no N tried does)."""
    names = transfer_names(record)
    if names is None:
        return {}
    _, b, _, mix = names
    own = {k: v for k, v in values.items() if k[0] == b}
    out: dict[tuple[str, str], tuple[float, int | None]] = {}
    for pair in {p for pairs in own.values() for p in pairs}:
        sizes = sorted(size for (_, size), pairs in own.items() if pair in pairs)
        target = float(np.mean(list(own[(b, sizes[-1])][pair].values())))
        mixed = sorted(
            (size, float(np.mean(list(pairs[pair].values()))))
            for (dataset, size), pairs in values.items()
            if dataset == mix and pair in pairs
        )
        if mixed:
            out[pair] = (target, next((n for n, mean in mixed if mean >= target), None))
    return out


def format_gaps(rows: list[Gap], closing: dict, record: RunRecord, metric: str) -> str:
    a, b, *_ = transfer_names(record) or ("", "")
    table = format_table(
        ["featurizer", "model", "size", "in domain", "transferred", "gap", "paired 95% CI", "splits"],
        [
            [
                g.featurizer,
                g.model,
                g.size,
                f"{g.in_domain:.3f}",
                f"{g.transferred:.3f}",
                f"{g.gap:+.3f}",
                f"[{g.low:+.3f}, {g.high:+.3f}]",
                g.splits,
            ]
            for g in rows
        ],  # fmt: skip
        right=(2, 3, 4, 5, 7),
    )
    lines = [
        f"transfer {a} -> {b} ({metric}: in domain on {b} minus trained on {a}, tested on {b}'s test rows):",
        table,
    ]
    for (featurizer, model), (target, needed) in sorted(closing.items()):
        reach = (
            f"{needed} of {b}'s labels added to {a}'s pool reach it" if needed else "no --mix count tried reaches it"
        )
        lines.append(f"{featurizer} + {model}: in-domain {metric} {target:.3f} at its largest size; {reach}")
    return "\n".join(lines)


def transfer_figure(cells: list, record: RunRecord, metric: str, unit: str) -> plt.Figure:
    """Per featurizer + model: B in domain, A transferred (against A's labels), and A's pool plus N of B's."""
    a, b, to, mix = transfer_names(record)  # type: ignore[misc]
    pairs = sorted({(c.featurizer, c.model) for c in cells if c.dataset == b})
    fig, axes = plt.subplots(1, max(len(pairs), 1), figsize=(4.5 * max(len(pairs), 1), 3.6), squeeze=False)
    for ax, pair in zip(axes[0], pairs):
        for dataset, label in ((b, f"{b} in domain"), (to, f"trained on {a}"), (mix, f"{a}'s pool + N of {b}'s")):
            line = sorted((c.train_size, c.mean, c.ci_low, c.ci_high) for c in cells
                          if (c.dataset, c.featurizer, c.model) == (dataset, *pair))  # fmt: skip
            if line:
                x, mean, low, high = map(np.array, zip(*line))
                ax.plot(x, mean, marker="o", label=label)
                ax.fill_between(x, low, high, alpha=0.15)
        ax.set_xscale("log")
        ticks = sorted({c.train_size for c in cells if (c.featurizer, c.model) == pair})
        ax.minorticks_off()
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_title(" + ".join(pair))
        ax.set_xlabel(f"labelled {unit} (N of {b}'s for the mixed curve)")
        ax.set_ylabel(metric)
        ax.legend(fontsize=7)
    fig.suptitle(f"Transfer {a} -> {b}: tested on {b}'s test rows")
    fig.tight_layout()
    return fig
