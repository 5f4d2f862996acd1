"""``distill``: a cheap student trained on a teacher's labels for the unlabelled rest of the pool.

The production trade: a big model is accurate but costly per document; a cheap one (tf-idf + logreg) is
fast but weak with few labels. A teacher pair (``teacher = "FEATURIZER:MODEL"``, e.g. ``bert:logreg`` or
``bert_tokens:finetune``) is fitted on the labelled training subset, labels the *unlabelled* rest of the
training pool (never a test row: the cell hands over pool rows outside the subset only), and the student
(this cell's featurizer with ``student``, default ``logreg``) is fitted on the labelled rows plus the
teacher-labelled ones. Teacher labels are hard (the argmax of its probabilities), because the students
take labels, not weights; ``min_confidence`` keeps only rows the teacher is sure of. What is deployed and
costed is the student alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from enso_ng.errors import EnsoError
from enso_ng.experiment.models.base import MODELS, CellContext, TargetModel
from enso_ng.formats import TOKEN_IDS
from enso_ng.params import NON_NEGATIVE, PROBABILITY, Param


def parse_teacher(spec: str) -> tuple[str, str]:
    featurizer, sep, model = spec.partition(":")
    if not sep or not featurizer or not model:
        raise EnsoError(f"distill: teacher must be FEATURIZER:MODEL (e.g. bert:logreg), not {spec!r}")
    return featurizer, model


def _vector_model(cls: type[TargetModel]) -> bool:
    """A model a student can be: it fits vectors and labels, nothing else (no token ids, teacher or layers)."""
    return not (TOKEN_IDS in cls.layouts or cls.semi_supervised or cls.layer_aware)


def _is_pair(spec: str) -> bool:
    featurizer, sep, model = spec.partition(":")
    return bool(sep and featurizer and model)


@MODELS.register("distill")
class Distill(TargetModel):
    semi_supervised = True
    strategy = "distilled"
    pairs = ""  # not on sentence pairs yet

    param_spec = {
        "teacher": Param(
            help="the teacher pair, FEATURIZER:MODEL",
            check_rule=_is_pair,
            check_text="FEATURIZER:MODEL (e.g. bert:logreg)",
        ),
        "student": Param(
            help="the student model, on this cell's features",
            check_rule=lambda v: v in MODELS,
            check_text="a model name",
        ),
        "unlabelled": Param(help="pool rows the teacher labels at most", interval=NON_NEGATIVE),
        "min_confidence": Param(help="keep teacher labels at least this probable", interval=PROBABILITY),
    }

    def __init__(
        self,
        teacher: str = "bert:logreg",
        student: str = "logreg",
        unlabelled: int = 5000,
        min_confidence: float = 0.0,
        random_state: int = 0,
    ) -> None:
        self.teacher = teacher
        self.student = student
        self.unlabelled = unlabelled
        self.min_confidence = min_confidence
        self.random_state = random_state

    @classmethod
    def requires(cls, params: dict[str, Any]) -> list[tuple[str, str]]:
        return [parse_teacher(params.get("teacher", cls().teacher))]

    @classmethod
    def check_params(cls, name: str, params: dict[str, Any]) -> None:
        """The student trains on vectors with labels alone; the teacher exists and gives probabilities."""
        student = MODELS.get(params["student"])
        if not _vector_model(student):
            usable = ", ".join(n for n in MODELS.names() if _vector_model(MODELS.get(n)))
            raise EnsoError(
                f"-o {name}.student={params['student']}: the student must be a model of vectors with labels alone "
                f"({usable}), not {params['student']!r}"
            )
        _, teacher = parse_teacher(params["teacher"])
        teacher_cls = MODELS.get(teacher)
        if teacher_cls.semi_supervised:
            raise EnsoError(f"-o {name}.teacher={params['teacher']}: teacher model {teacher!r} needs a teacher itself")
        if teacher_cls.predict_proba is TargetModel.predict_proba:
            raise EnsoError(f"-o {name}.teacher={params['teacher']}: teacher model {teacher!r} gives no probabilities")

    def attach(self, context: CellContext) -> None:
        self._context = context

    def fit(self, X: Any, y: np.ndarray) -> Distill:
        context = getattr(self, "_context", None)
        if context is None:
            raise EnsoError("distill needs the training pool: it runs inside enso experiment")
        featurizer, model = parse_teacher(self.teacher)
        teacher_feats = context.features(featurizer)
        teacher_cls = MODELS.get(model)
        unlabelled = context.unlabelled[: self.unlabelled]  # the pool's seeded order: a fixed, random sample
        TX = teacher_cls.view(teacher_feats)
        teacher = teacher_cls(**teacher_cls.features_kwargs(teacher_feats.meta), random_state=self.random_state)
        teacher.fit(TX[context.train], y)
        if not teacher.has_proba:
            raise EnsoError(f"distill: teacher model {model!r} gives no probabilities")
        proba = teacher.predict_proba(TX[unlabelled]) if len(unlabelled) else np.zeros((0, len(teacher.classes_)))
        keep = proba.max(1) >= self.min_confidence
        rows = unlabelled[keep]
        student_cls = MODELS.get(self.student)
        if not _vector_model(student_cls):
            raise EnsoError(f"distill: student {self.student!r} must be a model of vectors, such as logreg or mlp")
        stack = sp.vstack if sp.issparse(X) else np.concatenate
        self.student_ = student_cls(random_state=self.random_state).fit(
            stack([X, context.X[rows]]), np.concatenate([y, teacher.classes_[proba.argmax(1)][keep]])
        )
        self.classes_ = self.student_.classes_
        self.best_params_ = {
            "teacher": self.teacher,
            "student": self.student,
            "unlabelled_rows": int(len(rows)),
            "teacher_confidence": round(float(proba.max(1).mean()), 4) if len(proba) else None,
            "student_params": getattr(self.student_, "best_params_", {}),
            "teacher_params": getattr(teacher, "best_params_", {}),
        }
        del self._context  # the deployed model is the student alone; the pool is not part of it
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.student_.predict_proba(X)

    def n_parameters(self) -> int:
        return self.student_.n_parameters()
