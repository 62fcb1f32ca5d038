"""The GPU probe torch makes at every optimiser step, and when lit_nn can spare it."""

from __future__ import annotations

import ctypes
import functools
import os

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"
"""Set by importing Lightning: torch then answers "is CUDA available?" through NVML."""


@functools.cache
def _nvml_missing() -> bool:
    if torch.version.cuda is None or torch.version.hip is not None:
        return False  # no CUDA build, or ROCm (which asks amdsmi, not NVML)
    try:
        ctypes.CDLL("libnvidia-ml.so.1")  # the library torch's NVML-based check loads
    except OSError:
        return True
    return False


def drop_futile_nvml_check() -> str | None:
    """Stop torch from looking for NVML at every optimiser step when NVML is not installed.

    Importing Lightning sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1``. Every ``optimizer.step()`` asks
    whether an accelerator is available (its CUDA-graph capture check), and until CUDA is
    initialised torch answers that through NVML afresh each time: on a CUDA build without NVML it
    tries to load the library, fails, and falls back to the CUDA runtime's device count, every
    step (the cost: docs/performance.md). Without the variable torch asks the runtime directly,
    which is where it ends up anyway, so every answer stays the same. Machines with NVML are left
    alone.

    Returns:
        The value removed (to give to :func:`restore_nvml_check`), or ``None`` if nothing changed.
    """
    if os.environ.get(NVML_CHECK) != "1" or not _nvml_missing():
        return None
    return os.environ.pop(NVML_CHECK)


def restore_nvml_check(value: str | None) -> None:
    """Put back what :func:`drop_futile_nvml_check` removed.

    Args:
        value: Its return value.
    """
    if value is not None:
        os.environ.setdefault(NVML_CHECK, value)


class SkipFutileNvmlCheck(Callback):
    """Drop the futile NVML probe for the length of a run (:func:`drop_futile_nvml_check`); ``lit-nn`` adds it."""

    def __init__(self) -> None:
        self._removed: str | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Remove the variable when NVML is missing.

        Args:
            trainer: The trainer.
            pl_module: The model.
            stage: Lightning's stage.
        """
        if self._removed is None:
            self._removed = drop_futile_nvml_check()

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Put the variable back.

        Args:
            trainer: The trainer.
            pl_module: The model.
            stage: Lightning's stage.
        """
        restore_nvml_check(self._removed)
        self._removed = None
