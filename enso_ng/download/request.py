"""What ``enso download`` asks for, checked before anything is fetched, and carried out: catalog names,
the whole catalog, or the user's own file; and the catalog as a table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from enso_ng import fetch
from enso_ng.download.build import Downloaded, download, from_file
from enso_ng.download.catalog import CATALOG
from enso_ng.download.whole import FAILED, Fetched, download_catalog
from enso_ng.errors import EnsoError
from enso_ng.formats import DatasetMeta
from enso_ng.workspace import Workspace, check_name

#: (name, what it came to or None, the failure line) as each dataset ends
OnEach = Callable[[str, Downloaded | None, str], None]


@dataclass
class DownloadRequest:
    names: tuple[str, ...] = ()
    from_file: Path | None = None
    name: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    split_column: str | None = None
    text_pair_column: str | None = None
    mirror: str | None = None
    timeout: float = fetch.DEFAULT_TIMEOUT_S
    force: bool = False

    def check(self) -> None:
        """Options that do not go together, and unknown names, fail before any download starts."""
        if self.from_file is not None:
            if self.names:
                raise EnsoError("give either catalog names or --from-file, not both")
            if not self.name:
                raise EnsoError("--from-file needs --name NAME for the dataset")
            return
        only_file = (("--name", self.name), ("--split-column", self.split_column))
        for option, value in (*only_file, ("--text-pair-column", self.text_pair_column)):
            if value is not None:
                raise EnsoError(f"{option} applies to --from-file only")
        for dataset in self.names:
            check_name(dataset, "download NAME", "datasets/")
            CATALOG.get(dataset)


@dataclass
class DownloadOutcome:
    """The datasets asked for and those that failed; the whole catalog's states where it was asked for."""

    asked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    catalog: list[Fetched] | None = None

    def summary(self) -> str | None:
        """``summary: N of M ok`` where several datasets were asked for; None for one."""
        if self.catalog is None and len(self.asked) < 2:
            return None
        word = "available" if self.catalog is not None else "ok"
        done = len(self.asked) - len(self.failed)
        return f"summary: {done} of {len(self.asked)} {word}" + (
            f"; failed: {', '.join(self.failed)}" if self.failed else ""
        )

    def check(self) -> None:
        if self.failed:
            names = ", ".join(self.failed)
            raise EnsoError(f"{len(self.failed)} of {len(self.asked)} dataset(s) failed: {names}")


def run_download(workspace: Workspace, request: DownloadRequest, on_each: OnEach) -> DownloadOutcome:
    """Carry out the request; with several names a failure does not stop the others (``on_each`` hears it)."""
    request.check()
    if request.from_file is not None:
        done = from_file(
            request.from_file,
            request.name,
            request.text_column,
            request.label_column,
            request.split_column,
            workspace,
            force=request.force,
            text_pair_column=request.text_pair_column,
        )
        on_each(request.name, done, "")
        return DownloadOutcome([request.name])
    with fetch.timeout(request.timeout):
        if not request.names:
            fetched = download_catalog(
                workspace,
                mirror=request.mirror,
                force=request.force,
                on_each=lambda n, done, reason: on_each(n, done, "" if done else f"{n}: {reason}"),
            )
            failed = [f.name for f in fetched if f.state == FAILED]
            return DownloadOutcome([f.name for f in fetched], failed, fetched)
        names = list(dict.fromkeys(request.names))
        outcome = DownloadOutcome(names)
        for dataset in names:
            try:
                done = download(dataset, workspace, mirror=request.mirror, force=request.force)
            except EnsoError as exc:
                if len(names) == 1:
                    raise
                outcome.failed.append(dataset)
                on_each(dataset, None, str(exc))  # the message starts with the dataset's name
                continue
            on_each(dataset, done, "")
        return outcome


def fetched_table(fetched: list[Fetched]) -> tuple[list[str], list[list[str]]]:
    """The whole catalog's download: name, rows, classes, state and reason of each entry."""
    rows = [
        [
            f.name,
            "" if f.rows is None else f"{f.rows:,}",
            "" if f.classes is None else str(f.classes),
            f.state,
            f.reason,
        ]
        for f in fetched
    ]
    return ["name", "rows", "classes", "state", "reason"], rows


def catalog_table(workspace: Workspace) -> tuple[list[str], list[list[str]]]:
    """The catalog, and any imported datasets, with what is downloaded here."""
    have = {}
    for name in workspace.datasets():
        try:
            have[name] = DatasetMeta.read(workspace.dataset_path(name))
        except EnsoError:
            continue
    rows = []
    for name in CATALOG.names():
        entry, meta = CATALOG.get(name), have.get(name)
        rows.append(
            [
                name,
                entry.task,
                str(entry.classes),
                f"{meta.rows if meta else entry.rows:,}",
                entry.origin,
                entry.licence,
                "yes" if meta else "",
            ]
        )
    for name, meta in have.items():
        if name not in CATALOG:
            source = (meta.sources or [{}])[0].get("path", "file")
            rows.append([name, meta.task, str(len(meta.labels)), f"{meta.rows:,}", source, meta.licence, "yes"])
    for row in rows:
        row[4] = row[4] if len(row[4]) <= 36 else row[4][:35] + "…"
    return ["name", "task", "classes", "rows", "source", "licence", "downloaded"], rows


def dataset_line(workspace: Workspace, name: str, done: Downloaded) -> str:
    """``wrote|cached PATH: N rows (labels)``, and what cleaning dropped."""
    meta = done.meta
    labels = ", ".join(f"{k} {v}" for k, v in meta.labels.items())
    if len(labels) > 100:
        labels = f"{len(meta.labels)} labels"
    dropped = ", ".join(f"{v} {k}" for k, v in meta.dropped.items())
    normalised = f"; {meta.normalised_labels} labels NFC-normalised" if meta.normalised_labels else ""
    return f"{'cached' if done.cached else 'wrote'} {workspace.dataset_path(name)}: {meta.rows} rows ({labels})" + (
        f"; dropped {dropped}{normalised}" if (dropped or normalised) and not done.cached else ""
    )
