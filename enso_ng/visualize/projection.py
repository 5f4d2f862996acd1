"""A 2-D t-SNE map of one dataset's features, coloured by label: does the representation separate them?"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.manifold import TSNE

from enso_ng.formats import Features
from enso_ng.visualize import style  # noqa: F401  (labels in the legend are drawn literally: see style)


def tsne_figure(feats: Features, title: str, max_points: int = 1500, seed: int = 0) -> plt.Figure:
    """t-SNE (scikit-learn) of at most ``max_points`` rows (a seeded stratified-by-chance sample).

    Features are first reduced to 50 dimensions (PCA, or truncated SVD for sparse tf-idf), the usual
    preparation that makes t-SNE faster and less noisy.
    """
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(feats.labels), min(max_points, len(feats.labels)), replace=False))
    X = feats.pooled()[rows]  # token vectors averaged per text, multi-layer ones over layers
    if X.shape[1] > 50:
        components = min(50, len(rows) - 1)
        reducer = TruncatedSVD(components, random_state=seed) if sp.issparse(X) else PCA(components, random_state=seed)
        reduced = reducer.fit_transform(X)
    else:  # already few dimensions (a two-word vocabulary): nothing to reduce
        reduced = X.toarray() if sp.issparse(X) else np.asarray(X)
    perplexity = float(min(30, max(2, (len(rows) - 1) // 3)))
    init = "pca" if reduced.shape[1] >= 2 else "random"  # a PCA start needs two dimensions
    points = TSNE(2, perplexity=perplexity, init=init, random_state=seed).fit_transform(reduced)
    labels = feats.labels[rows]
    classes = sorted(set(labels))
    colours = plt.get_cmap("tab20" if len(classes) > 10 else "tab10")
    fig, ax = plt.subplots(figsize=(7.5, 6))
    for i, cls in enumerate(classes):
        mask = labels == cls
        ax.scatter(points[mask, 0], points[mask, 1], s=6, color=colours(i % colours.N), label=str(cls), alpha=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("t-SNE 1")
    ax.set_ylabel("t-SNE 2")
    ax.set_title(f"{title} ({len(rows):,} of {len(feats.labels):,} rows)")
    if len(classes) <= 25:
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, markerscale=2, title="label")
    fig.tight_layout()
    return fig
