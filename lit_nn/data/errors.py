"""The error of data that cannot be used, importable without torch (a server of exported models raises it)."""

from __future__ import annotations

from lit_nn.errors import LitNNError


class DataError(LitNNError, ValueError):
    """Data that cannot be used as given; the message names the file, column or row."""
