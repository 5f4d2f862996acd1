"""What a dataset entry declares, and the registry that holds them.

Entries are data, like MTEB's task metadata: where the bytes live (pinned by sha256), how to parse them,
how raw labels map to names, which rows are not part of the task, and the licence and citation a user
must honour. Adding a dataset is adding an entry under ``enso_ng/download/catalog/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from enso_ng.download.parsers import Parser
from enso_ng.download.sources import Source
from enso_ng.registry import Registry


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    task: str
    description: str
    #: official split name (train/validation/test) -> source; ``None`` where the source has no split.
    files: Mapping[str | None, Source]
    parser: Parser
    #: raw label -> label name (several raw spellings may map to one name); ``None`` keeps labels as they are.
    labels: Mapping[str, str] | None
    #: a short licence note (the --list column); details go in ``note``.
    licence: str
    citation: str
    homepage: str
    #: raw labels that are not part of the task, such as "I can't tell" (dropped and counted).
    drop_labels: frozenset[str] = field(default_factory=frozenset)
    #: raw labels that mean "no label" in this source (dropped and counted as missing).
    missing_labels: frozenset[str] = field(default_factory=frozenset)
    #: rows after cleaning: asserted by the tests where the bytes are reachable, documented elsewhere.
    rows: int | None = None
    #: anything a user should know: provenance caveats, what cannot be fetched from where.
    note: str = ""
    #: options that change the result beyond the sources (columns chosen for a user's file).
    recipe: Mapping[str, object] = field(default_factory=dict)

    @property
    def classes(self) -> int | None:
        return None if self.labels is None else len(set(self.labels.values()))

    @property
    def origin(self) -> str:
        return ", ".join(dict.fromkeys(source.origin() for source in self.files.values()))


CATALOG: Registry[DatasetEntry] = Registry("dataset")


def add(entry: DatasetEntry) -> DatasetEntry:
    return CATALOG.register(entry.name)(entry)


def same(*names: str) -> dict[str, str]:
    """A label mapping that keeps each raw label as its name."""
    return {name: name for name in names}
