"""``setfit``: few-shot contrastive fine-tuning of a sentence encoder plus a logistic head (the SetFit
library, not a rewrite of it).

It reads the same ``bert_tokens`` features file as ``finetune`` (stages meet through files: the token ids
are decoded back to text with the encoder's own tokenizer, which for the uncased default gives the text
the encoder saw; a sentence pair, which the library has no input for, becomes one text: :func:`texts`).
The library's defaults, with the number of contrastive steps capped so a cell's cost is bounded on a CPU:
at ``max_steps``, or ``steps_per_class`` times the number of classes where that is more (a flat cap of 300
gave a 77-class task a few pairs per pair of classes). With ``head_cv`` (default) the logistic head is the
project's logreg with its inner-CV choice of C, fitted on the tuned encoder's vectors of the training rows,
as the frozen baseline chooses C, instead of scikit-learn's fixed C = 1. Install with
``pip install 'enso_ng[setfit]'``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import time
import warnings
from typing import Any

import numpy as np

from enso_ng.encoders import DEFAULT_MODEL, quiet_transformers, verified_folder
from enso_ng.errors import EnsoError
from enso_ng.experiment.models.base import MODELS, EncoderModel
from enso_ng.experiment.pairs import CROSS
from enso_ng.params import POSITIVE, Param

MISSING = "model 'setfit' needs the setfit package, not installed by default: pip install 'enso_ng[setfit]'"


@MODELS.register("setfit")
class SetFit(EncoderModel):
    strategy = "few-shot (SetFit)"
    #: a pair dataset's cross-encoded token ids reach the library as one text per pair (:func:`texts`)
    pairs = CROSS

    param_spec = {
        "num_iterations": Param(help="sentence pairs drawn per example", interval=POSITIVE),
        "num_epochs": Param(help="contrastive epochs", interval=POSITIVE),
        "max_steps": Param(help="contrastive steps at most (raised to steps_per_class x classes)", interval=POSITIVE),
        "steps_per_class": Param(help="contrastive steps at most per class, where more than max_steps", interval=POSITIVE),
        "head_cv": Param(help="the head is logreg with inner-CV C (else scikit-learn's C = 1)"),
    }

    def __init__(
        self,
        encoder: str = DEFAULT_MODEL,
        encoder_sha256: str = "",
        num_iterations: int = 20,
        num_epochs: int = 1,
        batch_size: int = 16,
        max_steps: int = 300,
        steps_per_class: int = 20,
        head_cv: bool = True,
        random_state: int = 0,
    ) -> None:
        self.encoder = encoder
        self.encoder_sha256 = encoder_sha256
        self.num_iterations = num_iterations
        self.num_epochs = num_epochs
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.steps_per_class = steps_per_class
        self.head_cv = head_cv
        self.random_state = random_state

    def steps(self, classes: int) -> int:
        """The contrastive steps' cap for a task of ``classes`` classes."""
        return int(max(self.max_steps, self.steps_per_class * classes))

    def _texts(self, X: np.ndarray) -> list[str]:
        return texts(self.tokenizer_, X)

    def fit(self, X: Any, y: np.ndarray) -> SetFit:
        try:
            from setfit import SetFitModel, Trainer, TrainingArguments

            from datasets import Dataset
        except ImportError:
            raise EnsoError(MISSING) from None
        from transformers import AutoTokenizer

        started = time.perf_counter()
        folder = verified_folder(self.encoder, self.encoder_sha256, "setfit")
        quiet_transformers()
        self.tokenizer_ = AutoTokenizer.from_pretrained(str(folder))
        self.classes_, codes = np.unique(y, return_inverse=True)
        with _quiet(), tempfile.TemporaryDirectory(prefix="enso-setfit-") as out:
            self.model_ = SetFitModel.from_pretrained(str(folder))
            args = TrainingArguments(
                output_dir=out,
                batch_size=self.batch_size,
                num_epochs=self.num_epochs,
                num_iterations=self.num_iterations,
                max_steps=self.steps(len(self.classes_)),
                seed=self.random_state,
                report_to="none",
                show_progress_bar=False,
                save_strategy="no",
                logging_strategy="no",
            )
            texts = self._texts(X)
            data = Dataset.from_dict({"text": texts, "label": codes.tolist()})
            Trainer(model=self.model_, args=args, train_dataset=data).train()
            head = self._head_cv(texts, codes) if self.head_cv else {}
        self.best_params_ = {
            "num_iterations": self.num_iterations,
            "max_steps": self.steps(len(self.classes_)),
            **head,
            "train_seconds": round(time.perf_counter() - started, 3),
        }
        return self

    def _head_cv(self, texts: list[str], codes: np.ndarray) -> dict[str, Any]:
        """The head's coefficients become logreg's (inner-CV C) on the tuned encoder's training vectors; the
        library's head object keeps scoring them (softmax, or the sigmoid for two classes), so the folder
        stores and reloads it as before."""
        from enso_ng.experiment.models.logreg import LogisticRegressionCV

        vectors = self.model_.encode(texts, batch_size=64)
        vectors = np.asarray(vectors.cpu().numpy() if hasattr(vectors, "cpu") else vectors, dtype=np.float64)
        probe = LogisticRegressionCV(random_state=self.random_state).fit(vectors, codes)
        head = self.model_.model_head
        if list(probe.classes_) != list(head.classes_):
            raise EnsoError("setfit: the head's classes differ from the training rows' (a bug: please report it)")
        head.coef_, head.intercept_ = probe.coef_, probe.intercept_
        return {"head_C": probe.best_params_.get("C")}

    def predict_proba(self, X: Any) -> np.ndarray:
        proba = self.model_.predict_proba(self._texts(X), batch_size=64, show_progress_bar=False)
        return np.asarray(proba.cpu().numpy() if hasattr(proba, "cpu") else proba, dtype=np.float64)


def texts(tokenizer: Any, X: Any) -> list[str]:
    """Each row of -1-padded token ids as the one text SetFit takes, which its encoder's tokenizer turns back
    into the stored ids: ``[CLS] t [SEP]`` becomes ``t``, and a cross-encoded pair ``[CLS] a [SEP] b [SEP]``
    becomes ``a [SEP] b`` (the tokenizer's own separator). The library has no sentence-pair input
    (huggingface/setfit issue 91); its maintainers' way is to join the two texts into one, and joining them
    with the separator gives the encoder the same ids (all token type 0, as for one text). Unknown tokens
    stay ``[UNK]``: decoding with every special token skipped would drop them from what the encoder sees."""
    firsts, seconds = [], []
    for row in np.asarray(X):
        ids = row[row >= 0].tolist()
        if ids and ids[0] == tokenizer.cls_token_id:
            ids = ids[1:]
        if ids and ids[-1] == tokenizer.sep_token_id:
            ids = ids[:-1]
        cut = ids.index(tokenizer.sep_token_id) if tokenizer.sep_token_id in ids else len(ids)
        firsts.append(ids[:cut])
        seconds.append(ids[cut + 1 :])
    decoded = tokenizer.batch_decode(firsts + seconds, skip_special_tokens=False)
    a_sides, b_sides = decoded[: len(firsts)], decoded[len(firsts) :]
    return [f"{a} {tokenizer.sep_token} {b}" if b else a for a, b in zip(a_sides, b_sides)]


@contextlib.contextmanager
def _quiet():
    """SetFit prints its training log and bars to stdout; enso's output stays enso's."""
    import datasets

    datasets.disable_progress_bars()
    logging.getLogger("setfit").setLevel(logging.ERROR)
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        yield
