"""enso_ng: which pre-trained representation, which light model, and how many labels."""

__version__ = "0.1.0"
