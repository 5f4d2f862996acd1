"""``enso train`` and ``enso predict``: from a run's answer to a model folder, and from the folder to labels.

Thin, like the other commands: parse, call one function of :mod:`enso_ng.serve`, print what it returns.
"""

from __future__ import annotations

import click

from enso_ng.commandline import fail_cleanly, service_option
from enso_ng.errors import EnsoError


@click.command()
@click.option("--name", required=True, help="The model folder's name: models/<name>/ in the workspace.")
@click.option("--dataset", "-d", help="Dataset to train on (default with --from-run: the run's).")
@click.option("--featurizer", "-f", help="Featurizer (default with --from-run: the winner's).")
@click.option(
    "--model",
    "-m",
    help="Target model, any of enso experiment --list (default with --from-run: the winner's).",
)
@click.option(
    "--option",
    "-o",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A featurizer option (see enso featurize --list) [default: those of its features file, if any].",
)
@click.option("--from-run", metavar="RUN", help="Train the run's winner at its largest size, with its settings.")
@click.option(
    "--max-ms-per-doc",
    type=float,
    metavar="MS",
    help="With --from-run: the most accurate pair whose measured inference (featurizing included) fits MS per document.",
)
@click.option("--size", type=int, help="With --split: reproduce one experiment cell (its rows and choices) exactly.")
@click.option("--split", type=int, help="The split seed of the cell --size names.")
@click.option("--force", is_flag=True, help="Replace an existing models/<name>/.")
@click.option(
    "--onnx", is_flag=True, help="Also write encoder + pooling + head as one ONNX graph (see README for which pairs)."
)
@service_option("--mlflow", "The folder is logged as an MLflow pyfunc model (serve it with mlflow models serve).")
@click.option(
    "--bundle", is_flag=True, help="Copy the encoder's weights into the folder (it then runs without them installed)."
)
@click.pass_context
@fail_cleanly
def train(
    ctx: click.Context,
    name: str,
    dataset: str | None,
    featurizer: str | None,
    model: str | None,
    options: tuple[str, ...],
    from_run: str | None,
    size: int | None,
    split: int | None,
    force: bool,
    onnx: bool,
    mlflow: str | None,
    bundle: bool,
    max_ms_per_doc: float | None,
) -> None:
    """Fit one featurizer + model pair and write it as a model folder, models/<name>/.

    Without --size/--split it trains on every labelled row outside the test split, choosing
    hyper-parameters by inner CV as the experiment does; with them it reproduces that experiment cell.
    The folder holds no pickle: safetensors, JSON and sha256 of every file, checked by enso predict.

    \b
    Examples:
      enso train -d sst2 -f tfidf -m logreg --name sst2-tfidf
      enso train --from-run first --name sst2-best
      enso train --from-run first --size 500 --split 0 --name sst2-cell
      enso train -d sst2 -f bert -m logreg --name sst2-minilm --onnx
      enso train --from-run first --name sst2-best --mlflow sqlite:///mlflow.db
    """
    from enso_ng.serve.train import train as fit_pair

    featurizer_options = dict(_key_value(item) for item in options)
    done = fit_pair(
        ctx.obj["workspace"],
        name,
        dataset=dataset,
        featurizer=featurizer,
        model=model,
        options=featurizer_options,
        from_run=from_run,
        size=size,
        split=split,
        force=force,
        onnx=onnx,
        mlflow=mlflow or None,
        bundle=bundle,
        max_ms_per_doc=max_ms_per_doc,
    )
    click.echo("\n".join(done.lines()))


def _key_value(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep:
        raise EnsoError(f"--option {item!r}: expected key=value")
    return key, value


@click.command()
@click.argument("model")
@click.argument("source", metavar="INPUT")
@click.option("--output", "-o", help="Output file (.parquet, .csv, .jsonl) [default: csv on standard output].")
@click.option(
    "--text-column", default="text", show_default=True, help="The input's text column (csv, tsv, jsonl, parquet)."
)
@click.option("--id-column", help="An input column copied to the output as id.")
@click.option("--top-k", type=int, help="The k most likely labels and their probabilities instead of every class's.")
@click.option("--batch-size", default=4096, show_default=True, help="Rows per batch (memory holds one batch).")
@click.option(
    "--input-format",
    type=click.Choice(["csv", "tsv", "jsonl", "parquet", "text"]),
    help="[default: from INPUT's suffix]",
)
@click.option(
    "--format", "output_format", type=click.Choice(["parquet", "csv", "jsonl"]), help="[default: from --output]"
)
@click.option(
    "--precision",
    type=click.Choice(["auto", "fp32", "fp32-onnx", "bf16", "fp16"]),
    help="An encoder's precision as in enso featurize (default: the one it was trained with).",
)
@click.option(
    "--runtime",
    type=click.Choice(["auto", "torch", "onnx"]),
    default="auto",
    show_default=True,
    help="onnx: score with the folder's ONNX graph (enso train --onnx) through ONNX Runtime; auto: onnx where "
    "the folder has a graph, ONNX Runtime is installed and no --precision is given, else torch.",
)
@service_option("--scheduler", "Batches of rows are scored by its workers, each loading the model folder itself.")
@click.pass_context
@fail_cleanly
def predict(
    ctx: click.Context,
    model: str,
    source: str,
    output: str | None,
    text_column: str,
    id_column: str | None,
    top_k: int | None,
    batch_size: int,
    input_format: str | None,
    output_format: str | None,
    precision: str | None,
    runtime: str,
    scheduler: str | None,
) -> None:
    """Score INPUT's texts with MODEL (a name under models/, or a folder's path: ./folder); INPUT - reads stdin.

    One output row per input row: row, id, status (ok, empty, missing, not_text, unreadable), label and
    each class's probability. The folder's files are verified (sha256) before anything is read.

    \b
    Examples:
      enso predict sst2-best new.csv -o scored.parquet
      enso predict sst2-best tickets.jsonl --id-column ticket_id --top-k 2 -o top2.jsonl
      cat texts.txt | enso predict sst2-best - > scored.csv
      enso predict sst2-minilm new.csv --runtime onnx -o scored.csv
      enso predict sst2-best big.parquet --scheduler tcp://10.0.0.5:8786 -o scored.parquet
    """
    from enso_ng.serve.predict import model_folder
    from enso_ng.serve.predict import predict as score

    folder = model_folder(ctx.obj["workspace"], model)
    done = score(
        folder,
        source,
        output,
        text_column=text_column,
        id_column=id_column,
        top_k=top_k,
        batch_rows=batch_size,
        input_fmt=input_format,
        output_fmt=output_format,
        precision=precision,
        runtime=runtime,
        scheduler=scheduler or None,
    )
    click.echo(done.line(), err=done.output == "-")
