"""Train, test or predict on one cross-validation fold of the datamodule."""

from __future__ import annotations

import numpy as np
from lightning.pytorch import Callback, LightningModule, Trainer

from lit_nn.data.folds import check_foldable


class UseFold(Callback):
    """Give the datamodule one fold at set-up: train on its training part, test and predict on the held-out part.

    Lightning sets the datamodule up before the callbacks, so the fold replaces the split the
    datamodule made and it is set up again (``fold_samples``/``use_fold``: :mod:`lit_nn.data.folds`).

    Args:
        train: Pool positions to train on.
        held_out: Pool positions held out.
    """

    def __init__(self, train: np.ndarray, held_out: np.ndarray) -> None:
        self.train, self.held_out = train, held_out

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Apply the fold to the trainer's datamodule.

        Args:
            trainer: The trainer.
            pl_module: The model.
            stage: ``fit``, ``test`` or ``predict``.
        """
        datamodule = trainer.datamodule
        check_foldable(datamodule)
        datamodule.use_fold(self.train, self.held_out)
        datamodule.setup(stage)
