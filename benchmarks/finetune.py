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

    python benchmarks/finetune.py                 # prepares its own workspace (sst2, trec) on first use
    python benchmarks/finetune.py --sizes 50,100 --splits 1 --no-strategies     # a quick look
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=HERE / ".work")
    parser.add_argument("--datasets", default="sst2,trec")
    parser.add_argument("--sizes", default="50,100,200,500,1000")
    parser.add_argument("--setfit-sizes", default="50,100")
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--no-strategies", action="store_true", help="part 1 only")
    parser.add_argument(
        "--report-only", action="store_true", help="print part 1's tables from the cells of the last (even partial) run"
    )
    parser.add_argument(
        "--trainer-group-by-length",
        action="store_true",
        help="give the baseline Trainer's own length grouping (train_sampling_strategy='group_by_length')",
    )
    args = parser.parse_args()
    args.datasets = args.datasets.split(",")
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.setfit_sizes = [int(s) for s in args.setfit_sizes.split(",") if s]
    prepare(args.workspace, args.datasets, ["bert_tokens", "bert", "tfidf"])
    ws = Workspace.resolve(args.workspace)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
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
