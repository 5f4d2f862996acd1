"""Benchmark: enso_ng's ``finetune`` against a plain Hugging Face ``Trainer`` fine-tune, and every strategy
side by side, on the same split plan.

Part 1, fine-tuning speed. For each dataset, split seed and training size, the same training subset (enso_ng's
split plan) is fine-tuned twice from the same MiniLM weights and the same seeded head:

- baseline: ``transformers.Trainer`` as the documentation teaches it (``DataCollatorWithPadding``, random
  batches, an evaluation and a checkpoint per epoch, ``load_best_model_at_end`` on accuracy), given the very
  schedule ``finetune`` uses: the same module (mean pooling, dropout, linear head), AdamW with the same two
  learning rates and weight decay, the same warm-up and linear decay, epochs, batch size, gradient clipping,
  and the same inner validation rows;
- enso_ng: ``MODELS["finetune"]``, as ``enso experiment`` runs it.

``--trainer-group-by-length`` turns on the Trainer's own batching by length, the lever ``finetune`` pulls
by default, to show how much of the difference it accounts for.

The two alternate (which goes first alternates too), so slow phases of a shared machine fall on both; each
side's fit and predict seconds are summed per size. It prints, per dataset and size, both times, the ratio
and both test accuracies, then the totals and the cells per hour.

Part 2, strategies. ``enso experiment`` runs frozen ``logreg`` (bert and tf-idf), the distilled tf-idf student
(teacher ``bert:logreg``) and ``setfit`` (at ``--setfit-sizes``: it is the few-shot strategy, and each of its
cells costs its full contrastive budget) on the same datasets, sizes and split seeds; its wall time is
printed with the table of mean accuracy per strategy and size, next to part 1's ``finetune``.

Part 3, recipes (``--recipes``, on its own: parts 1 and 2 do not run). Issue 32's comparison, every strategy
through ``enso experiment`` in the benchmark's workspace, so all share one split plan: one run with frozen
``-f bert -m logreg`` and ``-f bert_tokens -m finetune`` (the new recipe, finetune's defaults: LP-FT, every
label used), one run of the old recipe (``-o finetune.lp=false -o finetune.valid_fraction=0.2``), and ``setfit``
with frozen logreg beside it at ``--setfit-sizes`` (``K/label`` is a ``--per-label K`` run, exactly K
examples of every class; plain numbers are sizes). Each strategy's accuracy is paired with frozen logreg's on
the same (dataset, sampler, size, split seed); per dataset and size it prints each strategy's mean accuracy,
the mean paired difference with its 95% t-interval (``enso_ng.visualize.ranking.paired_test``), win/tie/loss
over the seeds, ``BEHIND`` where the interval lies entirely below 0, and the mean fit seconds per cell. The
full grid (sst2, trec, banking77, airline_sentiment; sizes 50 to 1,000; 5 seeds) is about 7 to 15 CPU-hours
on a 2-core machine, nearly all of it setfit's cells (its fine-tune half, about 2 hours, ran on 2026-12-07;
setfit's part has not been run at full scale; ``--setfit-sizes ,`` leaves setfit out):

    python benchmarks/finetune.py                 # prepares its own workspace (sst2, trec) on first use
    python benchmarks/finetune.py --sizes 50,100 --splits 1 --no-strategies     # a quick look
    python benchmarks/finetune.py --recipes       # issue 32's grid: new and old finetune, setfit vs frozen logreg
    python benchmarks/finetune.py --recipes --datasets sst2 --sizes 50 --splits 2 --setfit-sizes 8/label,16 \\
        -o finetune.max_epochs=3                  # a tiny look (-o goes to the runs of its model)

``--recipes --resume`` resumes an interrupted grid (``enso experiment``'s resume check refuses changed
options); ``--recipes --report-only`` prints the tables from the recipe runs in the workspace.
Each run names both featurizers and both models, so ``enso experiment`` warns that it skips the pairs that do
not fit (bert + finetune, bert_tokens + logreg): that is expected. ``setfit`` cells are the dearest (300 to 780 s
each here); ``-o setfit.max_steps=N`` shortens a quick look.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from experiment import prepare  # noqa: E402  (the same download-through-a-mirror helper)

from enso_ng.experiment.models import MODELS  # noqa: E402
from enso_ng.experiment.splits import plan_split  # noqa: E402
from enso_ng.formats import read_features, read_results  # noqa: E402
from enso_ng.visualize.ranking import paired_test  # noqa: E402
from enso_ng.workspace import Workspace  # noqa: E402

HERE = Path(__file__).resolve().parent


class _WithLoss(torch.nn.Module):
    """The ``finetune`` module in the form ``Trainer`` expects (a dict with the loss)."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, input_ids, attention_mask, labels=None):
        logits = self.net(input_ids, attention_mask)
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = torch.nn.functional.cross_entropy(logits.float(), labels)
        return out


def trainer_fit_predict(
    model, X: np.ndarray, y: np.ndarray, X_test: np.ndarray, out: Path, group_by_length: bool = False
):
    """The baseline: the same module, rows and schedule through ``transformers.Trainer``."""
    from transformers import AutoTokenizer, DataCollatorWithPadding, PrinterCallback, Trainer, TrainingArguments

    from datasets import Dataset
    from enso_ng.encoders import verified_folder

    classes, codes = np.unique(y, return_inverse=True)
    model.classes_ = classes
    train, valid = model._holdout(codes)
    epochs = model.epochs(len(train))
    steps = epochs * -(-len(train) // model.batch_size)
    net = model._load(len(classes))
    optimizer, schedule = model._optimizer(net, steps)

    def rows(ids: np.ndarray, labels=None) -> Dataset:
        data = {"input_ids": [r[r >= 0].tolist() for r in ids]}
        if labels is not None:
            data["labels"] = labels.tolist()
        return Dataset.from_dict(data)

    args = TrainingArguments(
        output_dir=str(out),
        num_train_epochs=epochs,
        per_device_train_batch_size=model.batch_size,
        per_device_eval_batch_size=64,
        eval_strategy="epoch" if len(valid) else "no",
        save_strategy="epoch" if len(valid) else "no",
        save_only_model=True,
        save_total_limit=1,
        load_best_model_at_end=bool(len(valid)),
        metric_for_best_model="accuracy",
        max_grad_norm=1.0,
        seed=model.random_state,
        report_to="none",
        disable_tqdm=True,
        logging_strategy="no",
        use_cpu=not torch.cuda.is_available(),
        bf16=model.precision == "bf16" or (model.precision == "auto" and torch.cuda.is_available()),
        train_sampling_strategy="group_by_length" if group_by_length else "random",
    )
    tokenizer = AutoTokenizer.from_pretrained(str(verified_folder(model.encoder, model.encoder_sha256, "benchmark")))
    trainer = Trainer(
        model=_WithLoss(net),
        args=args,
        train_dataset=rows(X[train], codes[train]),
        eval_dataset=rows(X[valid], codes[valid]) if len(valid) else None,
        data_collator=DataCollatorWithPadding(tokenizer),
        optimizers=(optimizer, schedule),
        compute_metrics=lambda p: {"accuracy": float((p.predictions.argmax(1) == p.label_ids).mean())},
    )
    trainer.remove_callback(PrinterCallback)  # its per-epoch dicts would drown the table
    t0 = time.perf_counter()
    trainer.train()
    t1 = time.perf_counter()
    logits = trainer.predict(rows(X_test)).predictions
    t2 = time.perf_counter()
    return classes[logits.argmax(1)], t1 - t0, t2 - t1


def ours_fit_predict(model, X: np.ndarray, y: np.ndarray, X_test: np.ndarray):
    t0 = time.perf_counter()
    model.fit(X, y)
    t1 = time.perf_counter()
    pred = model.predict(X_test)
    return pred, t1 - t0, time.perf_counter() - t1


def finetune_part(ws: Workspace, args) -> None:
    """Both sides per cell, seed by seed and size by size (so a partial run already covers every dataset and
    the small sizes), each cell appended to ``args.cells`` as one JSON line as soon as it is done."""
    cls = MODELS.get("finetune")
    data = {d: read_features(ws.features_path(d, "bert_tokens")) for d in args.datasets}
    done = 0
    for seed in range(args.splits):
        plans = {d: plan_split(feats.labels, feats.splits, seed) for d, feats in data.items()}
        for size in args.sizes:
            for dataset, feats in data.items():
                X = np.asarray(feats.X)
                kwargs = dict(cls.features_kwargs(feats.meta), precision=args.precision)
                plan = plans[dataset]
                X_test, y_test = X[plan.test], feats.labels[plan.test]
                train = plan.train(size)
                cell = {"dataset": dataset, "size": size, "seed": seed}
                for side in ["ours", "trainer"] if done % 2 == 0 else ["trainer", "ours"]:
                    model = cls(**kwargs, random_state=seed)
                    if side == "ours":
                        pred, fit_s, pred_s = ours_fit_predict(model, X[train], feats.labels[train], X_test)
                    else:
                        with tempfile.TemporaryDirectory(prefix="enso-trainer-") as out:
                            pred, fit_s, pred_s = trainer_fit_predict(
                                model, X[train], feats.labels[train], X_test, Path(out), args.trainer_group_by_length
                            )
                    cell[side] = {"fit": fit_s, "predict": pred_s, "accuracy": float((pred == y_test).mean())}
                done += 1
                with args.cells.open("a") as f:
                    f.write(json.dumps(cell) + "\n")
                o, t = cell["ours"], cell["trainer"]
                print(
                    f"  {dataset} size {size} seed {seed}: enso {o['fit']:.1f}+{o['predict']:.1f} s acc "
                    f"{o['accuracy']:.3f} | Trainer {t['fit']:.1f}+{t['predict']:.1f} s acc {t['accuracy']:.3f}",
                    flush=True,
                )


def tabulate(cells: list[dict]) -> dict:
    """Per (dataset, size): each side's summed fit and predict seconds and its accuracies."""
    table = defaultdict(lambda: {"ours": [0.0, 0.0, []], "trainer": [0.0, 0.0, []]})
    for cell in cells:
        for side in ("ours", "trainer"):
            entry = table[cell["dataset"], cell["size"]][side]
            entry[0] += cell[side]["fit"]
            entry[1] += cell[side]["predict"]
            entry[2].append(cell[side]["accuracy"])
    return dict(sorted(table.items()))


def print_finetune(table: dict, cells: list[dict]) -> None:
    print(
        f"\n{'dataset':8} {'size':>5} {'Trainer fit s':>13} {'enso fit s':>10} {'fit ratio':>9} "
        f"{'Trainer pred s':>14} {'enso pred s':>11} {'acc Trainer':>11} {'acc enso':>8}"
    )
    totals = {"ours": [0.0, 0.0, []], "trainer": [0.0, 0.0, []]}
    for (dataset, size), sides in table.items():
        o, t = sides["ours"], sides["trainer"]
        print(
            f"{dataset:8} {size:5d} {t[0]:13.1f} {o[0]:10.1f} {t[0] / o[0]:9.2f} {t[1]:14.1f} {o[1]:11.1f} "
            f"{np.mean(t[2]):11.4f} {np.mean(o[2]):8.4f}"
        )
        for side in ("ours", "trainer"):
            totals[side][0] += sides[side][0]
            totals[side][1] += sides[side][1]
            totals[side][2] += sides[side][2]
    o, t = totals["ours"], totals["trainer"]
    n = len(o[2])
    fit_ratios = sorted(c["trainer"]["fit"] / c["ours"]["fit"] for c in cells)
    all_ratios = sorted(
        (c["trainer"]["fit"] + c["trainer"]["predict"]) / (c["ours"]["fit"] + c["ours"]["predict"]) for c in cells
    )
    print(
        f"per-cell ratio, median (min-max): fit {np.median(fit_ratios):.2f}x ({fit_ratios[0]:.2f}-{fit_ratios[-1]:.2f}), "
        f"fit + predict {np.median(all_ratios):.2f}x ({all_ratios[0]:.2f}-{all_ratios[-1]:.2f}); the median is the "
        "robust figure on a shared machine, where one slow phase can swell a single cell"
    )
    print(
        f"total over {n} cells: fit {t[0]:.0f} s (Trainer) vs {o[0]:.0f} s (enso_ng), {t[0] / o[0]:.2f}x; "
        f"fit + predict {t[0] + t[1]:.0f} s vs {o[0] + o[1]:.0f} s, {(t[0] + t[1]) / (o[0] + o[1]):.2f}x; "
        f"mean accuracy {np.mean(t[2]):.4f} vs {np.mean(o[2]):.4f} ({100 * (np.mean(o[2]) - np.mean(t[2])):+.2f} points); "
        f"finetune cells per hour: {3600 * n / (o[0] + o[1]):.0f} (Trainer {3600 * n / (t[0] + t[1]):.0f})"
    )


def strategies_part(workspace: Path, args) -> tuple[float, dict]:
    """The other strategies through ``enso experiment`` itself: the same split plan by construction."""
    enso = [sys.executable, "-m", "enso_ng", "-q", "--workspace", str(workspace), "experiment"]
    common = [*[a for d in args.datasets for a in ("-d", d)], "--splits", str(args.splits), "--seed", "0"]
    runs = [
        ["-f", "bert,tfidf", "-m", "logreg,distill", "--sizes", ",".join(map(str, args.sizes))],
        ["-f", "bert_tokens", "-m", "setfit", "--sizes", ",".join(map(str, args.setfit_sizes))],
    ]
    seconds, rows = 0.0, defaultdict(list)
    for i, run in enumerate(runs):
        if run[-1] == "":
            continue
        name = f"bench-strategies-{i}"
        shutil.rmtree(workspace / "results" / name, ignore_errors=True)  # a fresh run, not a resumed one
        t0 = time.perf_counter()
        subprocess.run([*enso, *common, *run, "--name", name], check=True)
        seconds += time.perf_counter() - t0
        results = read_results(workspace / "results" / name / "results.parquet").to_pylist()
        for r in results:
            if r["metric"] == "accuracy":
                rows[r["dataset"], r["featurizer"], r["model"], r["train_size"]].append(r["value"])
    return seconds, rows


def print_strategies(seconds: float, rows: dict, table: dict, args) -> None:
    pairs = sorted({k[1:3] for k in rows})
    head = ["bert+finetune", *(f"{f}+{m}" for f, m in pairs)]
    print(f"\n{'dataset':8} {'size':>5} " + " ".join(f"{h:>18}" for h in head))
    for dataset in args.datasets:
        for size in args.sizes:
            tuned = table.get((dataset, size), {}).get("ours", [0, 0, []])[2]
            values = [np.mean(tuned) if tuned else np.nan]
            values += [np.mean(rows.get((dataset, f, m, size), [np.nan])) for f, m in pairs]
            print(f"{dataset:8} {size:5d} " + " ".join(f"{v:18.4f}" for v in values))
    cells = sum(len(v) for v in rows.values())
    print(f"enso experiment (frozen, distilled, setfit): {cells} cells in {seconds:.0f} s")


#: issue 32's datasets: two the benchmark has always used, the catalog's 77-class intent task and a
#: three-class sentiment task of another kind (tweets)
RECIPE_DATASETS = "sst2,trec,banking77,airline_sentiment"
#: the old recipe: a random head, 20% of the training rows held out to choose the epoch
OLD_RECIPE = ("finetune.lp=false", "finetune.valid_fraction=0.2")
FROZEN = ("bert", "logreg")


def recipe_runs(args) -> list[tuple[str, list[str]]]:
    """(run name, the run's own ``enso experiment`` arguments): frozen logreg and the new recipe in one run,
    the old recipe in another, setfit beside frozen logreg at its sizes and its examples per label."""
    sizes = ",".join(map(str, args.sizes))
    old = [a for o in OLD_RECIPE for a in ("-o", o)]
    runs = [
        ("recipes-new", ["-f", "bert,bert_tokens", "-m", "logreg,finetune", "--sizes", sizes]),
        ("recipes-old", ["-f", "bert_tokens", "-m", "finetune", "--sizes", sizes, *old]),
    ]
    per_label = [s[: -len("/label")] for s in args.setfit_sizes if s.endswith("/label")]
    plain = [s for s in args.setfit_sizes if not s.endswith("/label")]
    setfit = ["-f", "bert,bert_tokens", "-m", "logreg,setfit"]
    if plain:
        runs.append(("recipes-setfit", [*setfit, "--sizes", ",".join(plain)]))
    if per_label:
        runs.append(("recipes-setfit-per-label", [*setfit, "--per-label", ",".join(per_label)]))
    return runs


def recipes_part(workspace: Path, args) -> list[dict]:
    """Run every recipe run afresh; the accuracy rows of all of them, each with the run's name."""
    enso = [sys.executable, "-m", "enso_ng", "-q", "--workspace", str(workspace), "experiment"]
    common = [*[a for d in args.datasets for a in ("-d", d)], "--splits", str(args.splits), "--seed", "0"]
    common += ["--metrics", "accuracy"]
    rows = []
    for name, run in recipe_runs(args):
        if not args.report_only:
            if not args.resume:
                shutil.rmtree(workspace / "results" / name, ignore_errors=True)  # a fresh run, not a resumed one
            models = run[run.index("-m") + 1].split(",")
            # enso refuses an option for a model not in the run: each goes to the runs of its own model
            options = [a for o in args.option if o.split(".")[0] in models for a in ("-o", o)]
            t0 = time.perf_counter()
            subprocess.run([*enso, *common, *run, *options, "--name", name], check=True)
            print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
        elif not (workspace / "results" / name / "results.parquet").exists():
            print(f"{name}: no results yet", flush=True)
            continue
        rows += [dict(r, run=name) for r in read_results(workspace / "results" / name / "results.parquet").to_pylist()]
    return rows


def strategy_of(row: dict) -> str:
    if (row["featurizer"], row["model"]) == FROZEN:
        return "frozen logreg"
    if row["model"] == "finetune":
        return "finetune old" if row["run"] == "recipes-old" else "finetune new"
    return row["model"]


def pair_recipes(rows: list[dict]) -> tuple[list[dict], list[str]]:
    """Each strategy's accuracy against frozen logreg's on the same (dataset, sampler, size, split seed).

    Frozen logreg runs in several runs (beside the new recipe and beside setfit); where two runs hold the
    same cell their values must agree (the same split plan), else a warning says which differ. Returns one
    record per (dataset, sampler, size, strategy), frozen logreg's own row first, and the warnings."""
    frozen: dict[tuple, dict[int, float]] = defaultdict(dict)
    series: dict[tuple, dict[int, float]] = defaultdict(dict)
    seconds: dict[tuple, list[float]] = defaultdict(list)
    warnings = []
    for r in rows:
        if r["metric"] != "accuracy":
            continue
        cell, strategy = (r["dataset"], r["sampler"], r["train_size"]), strategy_of(r)
        if strategy == "frozen logreg":
            seen = frozen[cell].get(r["split"])
            if seen is not None:
                if abs(seen - r["value"]) > 1e-12:
                    warnings.append(f"frozen logreg differs between runs at {cell} seed {r['split']}")
                continue
            frozen[cell][r["split"]] = r["value"]
        series[cell + (strategy,)][r["split"]] = r["value"]
        seconds[cell + (strategy,)].append(r["fit_seconds"])
    order = {"frozen logreg": 0, "finetune old": 1, "finetune new": 2}
    records = []
    for key in sorted(series, key=lambda k: (k[0], k[1] != "stratified", k[2], order.get(k[3], 3), k[3])):
        values, base = series[key], frozen.get(key[:3], {})
        seeds = sorted(set(values) & set(base))
        diffs = np.array([values[s] - base[s] for s in seeds])
        test = paired_test(values, base)
        records.append(
            {
                "dataset": key[0],
                "sampler": key[1],
                "size": key[2],
                "strategy": key[3],
                "accuracy": float(np.mean(list(values.values()))),
                "test": test,
                "wins": int((diffs > 1e-12).sum()),
                "ties": int((np.abs(diffs) <= 1e-12).sum()),
                "losses": int((diffs < -1e-12).sum()),
                # the interval entirely below 0 (the same loss on every seed has a zero-width interval)
                "behind": bool(test.seeds >= 2 and test.ci_high < 0),
                "fit_seconds": float(np.mean(seconds[key])),
            }
        )
    return records, warnings


def print_recipes(records: list[dict], warnings: list[str]) -> None:
    print(
        f"\n{'dataset':17} {'size':>9} {'strategy':14} {'accuracy':>8} {'vs frozen':>9} {'95% interval':>17} "
        f"{'seeds':>5} {'W/T/L':>7} {'behind':>6} {'fit s/cell':>10}"
    )
    for r in records:
        size = f"{r['size']}/label" if r["sampler"] == "per_label" else str(r["size"])
        t = r["test"]
        if r["strategy"] == "frozen logreg":
            vs = interval = wtl = behind = ""
        else:
            vs = f"{100 * t.difference:+.1f}"
            interval = f"[{100 * t.ci_low:+.1f}, {100 * t.ci_high:+.1f}]" if t.seeds >= 2 else "n/a"
            wtl = f"{r['wins']}/{r['ties']}/{r['losses']}"
            behind = "BEHIND" if r["behind"] else ("n/a" if t.seeds < 2 else "no")
        print(
            f"{r['dataset']:17} {size:>9} {r['strategy']:14} {r['accuracy']:8.4f} {vs:>9} {interval:>17} "
            f"{t.seeds if vs else '':>5} {wtl:>7} {behind:>6} {r['fit_seconds']:10.2f}"
        )
    print("vs frozen and its interval: accuracy points, the mean paired difference over the split seeds")
    for strategy in sorted({r["strategy"] for r in records} - {"frozen logreg"}):
        behind = [r for r in records if r["strategy"] == strategy and r["behind"]]
        where = ", ".join(
            f"{r['dataset']} {r['size']}{'/label' if r['sampler'] == 'per_label' else ''}" for r in behind
        )
        verdict = (
            f"significantly behind frozen logreg at {where}" if behind else "never significantly behind frozen logreg"
        )
        print(f"{strategy}: {verdict}")
    for w in warnings:
        print(f"warning: {w}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=HERE / ".work")
    parser.add_argument("--datasets", default=None, help=f"default: sst2,trec ({RECIPE_DATASETS} with --recipes)")
    parser.add_argument("--sizes", default="50,100,200,500,1000")
    parser.add_argument(
        "--setfit-sizes",
        default=None,
        help="sizes, K/label for K examples per label (default: 50,100; 8/label,50,100 with --recipes)",
    )
    parser.add_argument("--splits", type=int, default=None, help="split seeds (default: 3; 5 with --recipes)")
    parser.add_argument("--recipes", action="store_true", help="part 3 only: issue 32's recipes against frozen logreg")
    parser.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        help="with --recipes: MODEL.KEY=VALUE for the runs of that model (repeatable)",
    )
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--no-strategies", action="store_true", help="part 1 only")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="print part 1's tables from the cells of the last (even partial) run; with --recipes, the tables of "
        "the recipe runs there are",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="with --recipes: resume the recipe runs there are rather than start afresh",
    )
    parser.add_argument(
        "--trainer-group-by-length",
        action="store_true",
        help="give the baseline Trainer's own length grouping (train_sampling_strategy='group_by_length')",
    )
    args = parser.parse_args()
    args.datasets = (args.datasets or (RECIPE_DATASETS if args.recipes else "sst2,trec")).split(",")
    args.splits = args.splits or (5 if args.recipes else 3)
    args.sizes = [int(s) for s in args.sizes.split(",")]
    setfit_sizes = [s for s in (args.setfit_sizes or ("8/label,50,100" if args.recipes else "50,100")).split(",") if s]
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.recipes:
        args.setfit_sizes = setfit_sizes
        if not args.report_only:
            prepare(args.workspace, args.datasets, ["bert_tokens", "bert"])
        print_recipes(*pair_recipes(recipes_part(args.workspace, args)))
        return
    args.setfit_sizes = [int(s) for s in setfit_sizes]
    prepare(args.workspace, args.datasets, ["bert_tokens", "bert", "tfidf"])
    ws = Workspace.resolve(args.workspace)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, precision {args.precision}")
    args.cells = args.workspace / "finetune-cells.jsonl"
    if not args.report_only:
        args.cells.unlink(missing_ok=True)
        finetune_part(ws, args)
    cells = [json.loads(line) for line in args.cells.read_text().splitlines()]
    table = tabulate(cells)
    print_finetune(table, cells)
    if not args.no_strategies:
        seconds, rows = strategies_part(args.workspace, args)
        print_strategies(seconds, rows, table, args)


if __name__ == "__main__":
    main()
