"""Preprocessing learned from the training data, handed to a datamodule built to evaluate a checkpoint.

A datamodule learns things from its training split: the features' means and standard deviations,
a CSV file's category levels and class names. Lightning keeps them in every checkpoint (the
datamodule's ``state_dict()``). To test or predict on other data — a new CSV file without the
target column, a folder of unlabelled images — the datamodule must apply exactly what the model
was trained with, and must know it while it is constructed (its ``input_shape`` is read as soon as
it exists). The CLI builds it inside :func:`applying`, as Lightning hands hyperparameters to a
module it rebuilds; the datamodule reads :func:`fitted_state` in its constructor.

The state holds everything inference needs, so the training data itself may be gone (deleted, or
the run copied to a machine without it): :func:`training_data_gone` decides, for every datamodule
alike, when one is built from the state alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
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


def training_data_gone(given: Path, source: str | None) -> bool:
    """Whether a datamodule under construction is rebuilt for its own training data, and that data is gone.

    The one rule every lit_nn datamodule follows: the file or folder it is given is the one it
    was trained on (``source``, as the fitted state records it) and does not exist here, while a
    checkpoint's fitted state is applied. It is then built from the state alone, without samples:
    enough to export and serve; :func:`gone_line` is what a command that needs samples says. A
    path that is not the training data and does not exist stays an error at once.

    Args:
        given: The file or folder the datamodule was given.
        source: The training data's resolved path, from the fitted state (``None``: not recorded).

    Returns:
        ``True`` when the datamodule stands on the fitted state alone.
    """
    if fitted_state() is None or source is None or given.exists():
        return False
    return source in (str(given.absolute()), str(given.resolve()))


def gone_line(given: Path, kind: str, option: str) -> str:
    """What a command that needs samples says when the training data is gone (:func:`training_data_gone`).

    Args:
        given: The training file or folder.
        kind: ``"file"`` or ``"folder"``.
        option: The option that names other data (``--data.path FILE``).

    Returns:
        The line, to be finished by what the data is for (``SplitDataModule.check_present``).
    """
    return f"the training {kind} {given} is gone (export and serve need only the checkpoint); give {option}"
