"""Build ``datasets/<name>.parquet`` from a catalog entry.

The contract: one row per example with ``text`` (non-empty string), ``label`` (string) and ``split``
(train/validation/test, or null where the source has none); the schema metadata records where the bytes
came from, their sha256, the licence, the label counts and a fingerprint of the content that later stages
use to tell whether their caches still describe this dataset.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

import pyarrow as pa

from enso_ng import __version__
from enso_ng.download.catalog import CATALOG, DatasetEntry
from enso_ng.errors import EnsoError
from enso_ng.formats import DATASET_SCHEMA
from enso_ng.workspace import Workspace, read_meta, write_parquet



@dataclass
class Cleaned:
    texts: list[str]
    labels: list[str]
    splits: list[str | None]
    dropped: Counter


def fingerprint(texts: list[str], labels: list[str], splits: list[str | None]) -> str:
    """A sha256 over the content, in order: equal fingerprints mean identical datasets."""
    digest = hashlib.sha256()
    for text, label, split in zip(texts, labels, splits):
        digest.update(f"{text}\x1f{label}\x1f{split or ''}\x1e".encode())
    return digest.hexdigest()


def clean(entry: DatasetEntry, records_by_split) -> Cleaned:
    """Apply the entry's rules: strip text, drop empty texts and non-task labels, map labels to names."""
    out = Cleaned([], [], [], Counter())
    for split, records in records_by_split:
        for number, (text, raw_label) in enumerate(records, start=1):
            text, raw_label = text.strip(), raw_label.strip()
            if raw_label in entry.drop_labels:
                out.dropped[f"label {raw_label}"] += 1
                continue
            if raw_label not in entry.labels:
                where = f"{split} " if split else ""
                raise EnsoError(f"{entry.name}: {where}record {number} has unknown label {raw_label!r}")
            if not text:
                out.dropped["empty text"] += 1
                continue
            out.texts.append(text)
            out.labels.append(entry.labels[raw_label])
            out.splits.append(split)
    return out


def download(name: str, workspace: Workspace, mirror: str | None = None, force: bool = False) -> dict:
    """Fetch, verify, clean and write one catalog dataset; return its metadata."""
    entry = CATALOG.get(name)
    path = workspace.dataset_path(name)
    sources = [{"split": split, **source.describe()} for split, source in entry.files.items()]
    if path.exists() and not force:
        existing = read_meta(path)
        if existing.get("sources") == sources:
            return {**existing, "cached": True}
    parsed = []
    for split, source in entry.files.items():
        try:
            local = source.fetch(workspace.raw_dir, mirror)
        except EnsoError as exc:
            raise EnsoError(f"{name}: {exc}") from None
        parsed.append((split, entry.parser(local)))
    cleaned = clean(entry, parsed)
    if not cleaned.texts:
        raise EnsoError(f"{name}: no rows left after cleaning")
    meta = {
        "kind": "dataset",
        "name": name,
        "task": entry.task,
        "description": entry.description,
        "sources": sources,
        "licence": entry.licence,
        "citation": entry.citation,
        "homepage": entry.homepage,
        "labels": dict(sorted(Counter(cleaned.labels).items())),
        "splits": {str(k): v for k, v in sorted(Counter(cleaned.splits).items(), key=lambda kv: str(kv[0]))},
        "rows": len(cleaned.texts),
        "dropped": dict(cleaned.dropped),
        "fingerprint": fingerprint(cleaned.texts, cleaned.labels, cleaned.splits),
        "enso_ng_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    table = pa.table({"text": cleaned.texts, "label": cleaned.labels, "split": cleaned.splits}, schema=DATASET_SCHEMA)
    write_parquet(path, table, meta)
    return {**meta, "cached": False}
