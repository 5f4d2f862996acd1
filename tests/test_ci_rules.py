"""The suite's own rule: under CI=true nothing may skip, not even a whole module skipped at import (a
missing optional package), and a module that fails to import fails the run. Checked by running pytest on
probe files with this suite's conftest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

MISSING = "enso_probe_no_such_package"
PROBES = {
    "skips": f'import pytest\n\npytest.importorskip("{MISSING}", reason="needs an optional extra")\n\n\n'
    "def test_needs_it():\n    pass\n",
    "breaks": f"import {MISSING}  # noqa: F401\n\n\ndef test_needs_it():\n    pass\n",
}


def _pytest(tmp_path: Path, ci: str, probe: str) -> subprocess.CompletedProcess:
    shutil.copy(Path(__file__).with_name("conftest.py"), tmp_path / "conftest.py")
    (tmp_path / f"test_{probe}.py").write_text(PROBES[probe])
    (tmp_path / "test_fine.py").write_text("def test_fine():\n    pass\n")
    # not a pytest-xdist worker (this test's worker's variables would make the probe's conftest narrow torch's
    # threads, importing torch: seconds per probe, for nothing the probe checks)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")} | {"CI": ci}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize("ci", ["", "true"])
def test_a_module_skipped_at_import_is_counted_and_fails_under_ci(tmp_path, ci):
    done = _pytest(tmp_path, ci, "skips")
    assert "test_skips.py, every test of it: needs an optional extra" in done.stdout, done.stdout
    if ci:
        assert done.returncode == 1 and "CI=true: a skipped test is a failure" in done.stdout, done.stdout
    else:
        assert done.returncode == 0, done.stdout


@pytest.mark.parametrize("ci", ["", "true"])
def test_a_module_that_cannot_import_fails_the_run(tmp_path, ci):
    done = _pytest(tmp_path, ci, "breaks")
    assert done.returncode != 0 and f"No module named '{MISSING}'" in done.stdout, done.stdout


def test_every_mutant_still_names_the_code_it_breaks():
    """Each mutant of ``benchmarks/mutants.py`` replaces text found exactly once in its file, and each test
    that guards it exists: a refactor that moves the code would otherwise turn the README's mutation score
    stale without anyone running the script (the resume-keys mutant went stale that way)."""
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "benchmarks"))
    try:
        import mutants
    finally:
        sys.path.remove(str(root / "benchmarks"))
    assert len(mutants.MUTANTS) >= 22
    for mutant in mutants.MUTANTS:
        text = (root / mutant.path).read_text()
        for old, _ in mutant.edits():
            assert text.count(old) == 1, f"{mutant.name}: its text is in {mutant.path} {text.count(old)} times"
        for test in mutant.tests:
            path, _, name = test.partition("::")
            assert f"def {name.split('[')[0]}(" in (root / path).read_text(), f"{mutant.name}: no test {test}"
