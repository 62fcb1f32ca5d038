"""Preprocessing learned from the training data, handed to a datamodule built to evaluate a checkpoint.

A datamodule learns things from its training split: the features' means and standard deviations,
a CSV file's category levels and class names. Lightning keeps them in every checkpoint (the
datamodule's ``state_dict()``). To test or predict on other data — a new CSV file without the
target column, a folder of unlabelled images — the datamodule must apply exactly what the model
was trained with, and must know it while it is constructed (its ``input_shape`` is read as soon as
it exists). The CLI builds it inside :func:`applying`, as Lightning hands hyperparameters to a
module it rebuilds; the datamodule reads :func:`fitted_state` in its constructor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

_STATE: ContextVar[Mapping[str, Any] | None] = ContextVar("lit_nn_fitted_state", default=None)


@contextlib.contextmanager
def applying(state: Mapping[str, Any] | None) -> Iterator[None]:
    """Construct datamodules with the preprocessing of a checkpoint.

    Args:
        state: The datamodule's ``state_dict()`` as the checkpoint holds it.

    Yields:
        Nothing.
    """
    token = _STATE.set(state)
    try:
        yield
    finally:
        _STATE.reset(token)


def fitted_state() -> Mapping[str, Any] | None:
    """The preprocessing a datamodule under construction must apply, if the CLI gave one.

    Returns:
        The state, or ``None`` when the datamodule learns its own (training).
    """
    return _STATE.get()
