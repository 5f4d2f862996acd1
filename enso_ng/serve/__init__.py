"""Stage 5: from a run's answer to production: train the chosen pair, write ``models/<name>/``, predict.

The model folder is the interface (declared in :mod:`enso_ng.formats`): ``train`` writes it, ``predict``
reads it in another process or on another machine, verifying every file's sha256 first.
"""

from enso_ng.serve.folder import load_model
from enso_ng.serve.predict import predict
from enso_ng.serve.train import train

__all__ = ["load_model", "predict", "train"]
