"""lit-nn-extras: an example lit_nn plugin to copy when starting your own."""

__version__ = "0.1.0"
