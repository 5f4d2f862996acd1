"""Build ``datasets/<name>.parquet`` from a catalog entry or from a user's own file.

The contract: one row per example with ``text`` (non-empty string), ``label`` (string) and ``split``
(train/validation/test, or null where the source has none); the schema metadata records where the bytes
came from, their sha256, the licence, the label counts, what cleaning dropped, and a fingerprint of the
content that later stages use to tell whether their caches still describe this dataset.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from enso_ng import __version__
from enso_ng.download.catalog import CATALOG, DatasetEntry
from enso_ng.download.parsers import Parser, Record, csv_columns, jsonl_fields, parquet_columns
from enso_ng.download.sources import LocalFile
from enso_ng.errors import EnsoError
from enso_ng.formats import DatasetMeta, dataset_schema
from enso_ng.workspace import Workspace, write_parquet

#: how users spell their splits -> the contract's names
SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
    "test": "test",
    "testing": "test",
}


@dataclass
class Cleaned:
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    splits: list[str | None] = field(default_factory=list)
    #: each row's second text (sentence-pair datasets); None for single-text datasets
    pairs: list[str] | None = None
    dropped: Counter = field(default_factory=Counter)
    #: kept rows whose bytes did not all decode (U+FFFD stands in for them)
    repaired: int = 0
    #: kept rows whose label was not in Unicode NFC (``Zoë`` typed with a combining diaeresis)
    normalised: int = 0


def fingerprint(
    texts: list[str], labels: list[str], splits: list[str | None], pairs: list[str] | None = None
) -> str:
    """A sha256 over the content, in order: equal fingerprints mean identical datasets. A pair dataset's second
    texts follow each first text (a single-text dataset's fingerprint is what it always was)."""
    digest = hashlib.sha256()
    seconds = pairs if pairs is not None else [None] * len(texts)
    for text, pair, label, split in zip(texts, seconds, labels, splits):
        both = text if pair is None else f"{text}\x1d{pair}"
        digest.update(f"{both}\x1f{label}\x1f{split or ''}\x1e".encode())
    return digest.hexdigest()


def test_overlap(cleaned: Cleaned) -> dict[str, int]:
    """Test rows whose text is exactly a training (or validation) row's, and how many of those carry a
    label another copy does not: {} where the dataset has no test split, or nothing else."""
    others: dict[str, set[str]] = {}
    tests = []
    texts = cleaned.texts if cleaned.pairs is None else [f"{a}\x1d{b}" for a, b in zip(cleaned.texts, cleaned.pairs)]
    for text, label, split in zip(texts, cleaned.labels, cleaned.splits):
        if split == "test":
            tests.append((text, label))
        else:
            others.setdefault(text, set()).add(label)
    if not tests or not others:
        return {}
    copies = [(text, label) for text, label in tests if text in others]
    conflicting = sum(1 for text, label in copies if others[text] != {label})
    return {"test_rows": len(tests), "duplicates": len(copies), "conflicting": conflicting}


def _row_split(entry: DatasetEntry, file_split: str | None, record: Record, where: str) -> str | None:
    if file_split is not None or record.split is None:
        return file_split
    value = record.split.strip().lower()
    if value not in SPLIT_NAMES:
        raise EnsoError(
            f"{entry.name}: {record.where or where} has split {record.split!r} (expected train, validation or test)"
        )
    return SPLIT_NAMES[value]


def clean(entry: DatasetEntry, records_by_split: Iterable[tuple[str | None, Iterator[Record]]]) -> Cleaned:
    """Apply the entry's rules: strip text, drop empty texts, missing and non-task labels, map labels.

    Every dropped row is counted by reason; an unknown label is an error, never a silent drop.
    """
    out = Cleaned()
    for file_split, records in records_by_split:
        for number, record in enumerate(records, start=1):
            where = f"{file_split + ' ' if file_split else ''}record {number}"
            text, raw_label = record.text.strip(), record.label.strip()
            # one spelling per label: the same letters typed as one code point or as a letter and a
            # combining mark would be two classes that print the same
            nfc = unicodedata.normalize("NFC", raw_label)
            normalised, raw_label = nfc != raw_label, nfc
            split = _row_split(entry, file_split, record, where)
            if not raw_label or raw_label in entry.missing_labels:
                out.dropped["missing label"] += 1
                continue
            if raw_label in entry.drop_labels:
                out.dropped[f"label {raw_label}"] += 1
                continue
            if entry.labels is None:
                label = raw_label
            elif raw_label in entry.labels:
                label = entry.labels[raw_label]
            else:
                raise EnsoError(f"{entry.name}: {where} has unknown label {raw_label!r}")
            pair = None if record.pair is None else record.pair.strip()
            if not text or pair == "":
                out.dropped["empty text"] += 1
                continue
            if (pair is None) != (out.pairs is None) and out.texts:
                raise EnsoError(f"{entry.name}: {where} {'lacks' if pair is None else 'has'} a second text, unlike those before")
            if pair is not None:
                out.pairs = [] if out.pairs is None else out.pairs
                out.pairs.append(pair)
            out.repaired += "\ufffd" in text or "\ufffd" in (pair or "")
            out.normalised += normalised
            out.texts.append(text)
            out.labels.append(label)
            out.splits.append(split)
    return out


@dataclass
class Downloaded:
    """A dataset file's metadata, and whether an existing file was reused."""

    meta: DatasetMeta
    cached: bool
    #: why an existing file was not reused though it matched (damaged), for the user to hear
    note: str = ""


def build(entry: DatasetEntry, workspace: Workspace, mirror: str | None = None, force: bool = False) -> Downloaded:
    """Fetch, verify, clean and write one dataset."""
    path = workspace.dataset_path(entry.name)
    sources = [{"split": split, **source.describe()} for split, source in entry.files.items()]
    recipe = dict(entry.recipe)
    note = ""
    if path.exists() and not force:
        existing, note = DatasetMeta.read_verified(path, "existing")
        if existing is not None and existing.sources == sources and existing.recipe == recipe:
            return Downloaded(existing, cached=True)
    parsed = []
    for split, source in entry.files.items():
        try:
            local = source.fetch(workspace.raw_dir, mirror)
        except EnsoError as exc:
            raise EnsoError(f"{entry.name}: {exc}") from None
        parsed.append((split, entry.parser(local)))
    try:
        cleaned = clean(entry, parsed)
    except EnsoError as exc:
        message = str(exc)
        raise EnsoError(message if message.startswith(f"{entry.name}:") else f"{entry.name}: {message}") from None
    if not cleaned.texts:
        raise EnsoError(f"{entry.name}: no rows left after cleaning (dropped: {dict(cleaned.dropped) or 'none'})")
    labels = Counter(cleaned.labels)
    if len(labels) < 2:
        raise EnsoError(f"{entry.name}: only one label ({next(iter(labels))!r}); a classifier needs two or more")
    overlap = test_overlap(cleaned)
    if overlap.get("duplicates"):
        warning = (
            f"{overlap['duplicates']} of {overlap['test_rows']} test rows repeat a training text exactly "
            f"({overlap['conflicting']} with another label): their scores measure memory, not generalisation"
        )
        note = f"{note}; {warning}" if note else warning
    meta = DatasetMeta(
        name=entry.name,
        task=entry.task,
        description=entry.description,
        sources=sources,
        recipe=recipe,
        licence=entry.licence,
        citation=entry.citation,
        homepage=entry.homepage,
        note=entry.note,
        labels=dict(sorted(labels.items())),
        splits={str(k): v for k, v in sorted(Counter(cleaned.splits).items(), key=lambda kv: str(kv[0]))},
        rows=len(cleaned.texts),
        dropped=dict(cleaned.dropped),
        repaired_rows=cleaned.repaired,
        normalised_labels=cleaned.normalised,
        test_overlap=overlap,
        fingerprint=fingerprint(cleaned.texts, cleaned.labels, cleaned.splits, cleaned.pairs),
        pairs=cleaned.pairs is not None,
        enso_ng_version=__version__,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    columns = {"text": cleaned.texts, "label": cleaned.labels, "split": cleaned.splits}
    if cleaned.pairs is not None:
        columns["text_pair"] = cleaned.pairs
    table = pa.table(columns, schema=dataset_schema(cleaned.pairs is not None))
    write_parquet(path, table, meta.to_dict())
    return Downloaded(meta, cached=False, note=note)


def download(name: str, workspace: Workspace, mirror: str | None = None, force: bool = False) -> Downloaded:
    """Fetch, verify, clean and write one catalog dataset."""
    return build(CATALOG.get(name), workspace, mirror, force)


#: file suffix -> format of ``enso download --from-file``
FILE_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def file_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".bz2")]
    fmt = FILE_FORMATS.get(suffixes[-1] if suffixes else "")
    if fmt is None:
        known = ", ".join(sorted(FILE_FORMATS))
        raise EnsoError(f"{path}: cannot tell the format from the name (known endings: {known}, optionally .gz/.bz2)")
    return fmt


def _file_parser(fmt: str, text: str, label: str, split: str | None, text_pair: str | None = None) -> Parser:
    if fmt == "csv":
        return csv_columns(text, label, split=split, text_pair=text_pair)
    if fmt == "tsv":
        return csv_columns(text, label, delimiter="\t", split=split, text_pair=text_pair)
    if fmt == "jsonl":
        return jsonl_fields(text, label, split, text_pair)
    return parquet_columns(text, label, split, text_pair)


def from_file(
    path: Path,
    name: str,
    text_column: str,
    label_column: str,
    split_column: str | None,
    workspace: Workspace,
    force: bool = False,
    text_pair_column: str | None = None,
) -> Downloaded:
    """Import a user's labelled file under the same contract as a catalog dataset; with ``text_pair_column``
    a sentence-pair dataset (each row's second text in ``text_pair``)."""
    workspace.dataset_path(name, "--name")  # the one name check: one plain file under datasets/
    if name in CATALOG.names():
        raise EnsoError(f"--name {name!r} is a catalog dataset; choose another name for your own data")
    fmt = file_format(path)
    entry = DatasetEntry(
        name=name,
        task="user data",
        description=f"imported from {path.name}",
        files={None: LocalFile.of(path)},
        parser=_file_parser(fmt, text_column, label_column, split_column, text_pair_column),
        labels=None,
        licence="the user's own data",
        citation="",
        homepage="",
        recipe={
            "format": fmt,
            "text_column": text_column,
            "label_column": label_column,
            "split_column": split_column,
            # only where given: a single-text import's recipe (and so its cache) is what it always was
            **({"text_pair_column": text_pair_column} if text_pair_column else {}),
        },
    )
    return build(entry, workspace, force=force)
