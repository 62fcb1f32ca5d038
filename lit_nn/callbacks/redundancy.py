"""Say at the start of a fit how many validation and test samples are copies of training samples."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from lightning.pytorch import Callback, LightningModule, Trainer

from lit_nn.console import notice
from lit_nn.data.redundancy import copies

SPLIT_NAMES = {"val": "validation", "test": "test"}
"""The evaluation splits checked, in the order the line names them."""


def duplicates_line(counts: Sequence[tuple[str, int, int]], basis: str) -> str | None:
    """The one line that says how many samples of each evaluation split copy a training sample.

    Args:
        counts: ``(split, copies, samples)`` for each split to name (``"val"``, ``"test"``);
            splits without samples are left out of the line.
        basis: What was compared (``"feature values"``, ``"file bytes"``).

    Returns:
        The line (without ``lit-nn:``), or ``None`` when no split has samples.
    """
    named = [(SPLIT_NAMES.get(split, split), found, total) for split, found, total in counts if total]
    if not named:
        return None
    if not any(found for _, found, _ in named):
        splits = " and ".join(f"{total} {name}" for name, _, total in named)
        return f"duplicates: none of the {splits} samples copies a training sample (by {basis})"
    parts = " and ".join(f"{found} of {total} {name}" for name, found, total in named)
    if len(named) == 1 and named[0][1] == 1:
        said = "is an exact copy of a training sample (by {}); its score overstates the model"
    else:
        said = "are exact copies of training samples (by {}); scores on them overstate the model"
    return f"duplicates: {parts} samples {said.format(basis)}"


class DuplicateCheck(Callback):
    """At the start of a fit, say in one line how many validation and test samples copy a training sample.

    A model scored on samples it was trained on looks better than it is; exact copies (same content,
    see :meth:`~lit_nn.data.base.SplitDataModule.content_keys`) are the ones that can be counted
    cheaply. Datamodules without ``content_keys`` (or returning ``None``) get no line. The keys are
    computed once per fit, on rank zero only; ``lit-nn fit`` adds this callback.
    """

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Count and say.

        Args:
            trainer: The trainer (its datamodule is checked).
            pl_module: The model (unused).
        """
        data = trainer.datamodule
        keys_of = getattr(data, "content_keys", None)
        if not trainer.is_global_zero or not callable(keys_of):
            return
        train = keys_of("train")
        if train is None or not len(train):
            return
        counts = []
        for split in SPLIT_NAMES:
            keys = keys_of(split)
            if keys is not None:
                counts.append((split, copies(np.asarray(train), np.asarray(keys)), len(keys)))
        line = duplicates_line(counts, str(getattr(data, "content_basis", "content")))
        if line:
            notice(line)
