"""Config files and option values that try to eat memory or flood the terminal (issue 30, item 4), and the
``--test-size`` values that read one way and mean another (issue 30, "decide and document")."""

from __future__ import annotations

import tracemalloc

import pytest

from enso_ng.errors import EnsoError
from enso_ng.experiment.config import from_sources, read_config_file

from conftest import invoke
from reliability import one_line_error


def laughs(levels: int, key: str = "sizes") -> str:
    """A "billion laughs" YAML: under ``key``, a list of anchors, each a list of nine aliases of the one
    before (nine to the power ``levels + 1`` strings once expanded), a few hundred bytes in all."""
    lines = [f"{key}:", '  - &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        lines.append(f"  - &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def _peak_mb(action) -> tuple[float, object]:
    tracemalloc.start()
    try:
        outcome = action()
    finally:
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    return peak, outcome


@pytest.mark.parametrize("levels", [5, 9])
def test_a_billion_laughs_config_fails_fast_in_one_short_line(tmp_path, levels):
    path = tmp_path / "bomb.yaml"
    path.write_text(laughs(levels))
    assert len(path.read_bytes()) < 1000
    warm = tmp_path / "warm.yaml"  # imports, outside the measurement
    warm.write_text("sizes: [0]\n")
    one_line_error(invoke(tmp_path, "experiment", "--config", str(warm)), str(warm))
    peak, result = _peak_mb(lambda: invoke(tmp_path, "experiment", "--config", str(path)))
    line = one_line_error(result, str(path))
    assert len(line) < 400, len(line)
    assert peak < 50, f"{peak:.0f} MB"


def test_an_alias_that_holds_itself_is_one_line(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("sizes: &a [1, *a]\n")
    one_line_error(invoke(tmp_path, "experiment", "--config", str(path)), str(path))


def test_anchors_that_expand_a_little_still_work(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text("base: &s [50, 100]\nsizes: *s\n")
    with pytest.raises(EnsoError, match="unknown key 'base'"):
        read_config_file(path)
    path.write_text("sizes: &s [50, 100]\nper_label: null\n")
    assert read_config_file(path)["sizes"] == [50, 100]


def test_yaml_integers_are_yaml_1_2s(tmp_path):
    """A leading zero is decimal (YAML 1.1 read 050 as octal: size 40, silently); 0o and 0x say a base."""
    path = tmp_path / "zeros.yaml"
    path.write_text("sizes: [050, 0100, 0o20, 0x20, 200]\nseed: 007\n")
    config = read_config_file(path)
    assert config["sizes"] == [50, 100, 16, 32, 200] and config["seed"] == 7
    path.write_text("sizes: [1:30]\n")  # YAML 1.1's base 60 (90): a string here, refused by the option's check
    with pytest.raises(EnsoError, match="sizes"):
        read_config_file(path)


@pytest.mark.parametrize("key", ["sizes", "name", "models", "seed"])
def test_a_huge_bad_value_is_not_printed_back(tmp_path, key):
    path = tmp_path / "big.yaml"
    path.write_text(f"{key}: [" + ", ".join(f'"x{i}"' for i in range(20000)) + "]\n")
    result = invoke(tmp_path, "experiment", "--config", str(path))
    line = one_line_error(result)
    assert len(line) < 400, line[:500]


def test_a_huge_bad_flag_value_is_not_printed_back(tmp_path):
    result = invoke(tmp_path, "experiment", "--sizes", ",".join(["-1"] * 20000))
    assert len(one_line_error(result, "--sizes")) < 400


@pytest.mark.parametrize("value", ["1", "1.0"])
def test_test_size_one_is_refused_as_ambiguous(value):
    with pytest.raises(EnsoError, match=r"--test-size .*ambiguous") as caught:
        from_sources(None, {"test_size": value, "name": "r"})
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("value, expected", [("0.2", 0.2), ("0.999", 0.999), ("2", 2.0), ("500", 500.0)])
def test_test_size_fractions_and_counts_are_kept(value, expected):
    assert from_sources(None, {"test_size": value, "name": "r"}).test_size == expected


@pytest.mark.parametrize("value", ["0", "-0.5", "1.5", "nan", "inf"])
def test_test_size_outside_the_rule_is_refused(value):
    with pytest.raises(EnsoError, match=r"--test-size"):
        from_sources(None, {"test_size": value, "name": "r"})
