"""Stage 5: from a run's answer to production: train the chosen pair, write ``models/<name>/``, predict.

The model folder is the interface (declared in :mod:`enso_ng.formats`): ``train`` writes it, ``predict``
reads it in another process or on another machine, verifying every file's sha256 first.

The entry points are :func:`enso_ng.serve.train.train`, :func:`enso_ng.serve.predict.predict` and
:func:`enso_ng.serve.folder.load_model`, imported from their modules where used: ``enso predict`` from a
cold start must not pay for the training stack (scikit-learn, the model registry) it does not run.
"""
