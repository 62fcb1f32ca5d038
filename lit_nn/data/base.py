"""The shared shape of lit_nn's datamodules: named splits served by one loader method."""

from __future__ import annotations

import numpy as np
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader

from lit_nn.data.errors import DataError

__all__ = ["DataError", "SplitDataModule", "check_positive"]


def check_positive(name: str, value: float) -> None:
    """Refuse a zero or negative setting.

    Args:
        name: The argument's name.
        value: Its value.

    Raises:
        DataError: If ``value <= 0``.
    """
    if value <= 0:
        raise DataError(f"{name} must be positive, got {value}")


class SplitDataModule(LightningDataModule):
    """A datamodule whose stages read the splits ``train``, ``val`` and ``test`` by name.

    Subclasses implement :meth:`loader`; prediction reads :meth:`predict_split`. Data without
    targets (new data for a trained model) sets :attr:`labelled` to ``False``: it can be predicted
    for, not trained or evaluated on. A datamodule rebuilt from a checkpoint whose training data is
    gone (:func:`~lit_nn.data.fitted.training_data_gone`) sets :attr:`absent`: it has no samples,
    and every loader says why.
    """

    labelled = True
    absent: str | None = None
    """Why there are no samples and what to give instead (the training data is gone), else ``None``."""
    content_basis = "content"
    """What :meth:`content_keys` compares, for the fit's line on duplicates (``"feature values"`` …)."""

    def describe_source(self) -> str:
        """Name the data for messages.

        Returns:
            The file or folder the data comes from, or the class name.
        """
        for name in ("path", "root"):
            if getattr(self, name, None) is not None:
                return str(getattr(self, name))
        return type(self).__name__

    def check_present(self, split: str) -> None:
        """Refuse to load samples that are not here (:attr:`absent`).

        Args:
            split: The split asked for, or ``"predict"``.

        Raises:
            DataError: With :attr:`absent`'s line and what the data would be for.
        """
        if self.absent is not None:
            purpose = {"train": "train on", "val": "validate on", "test": "test on"}.get(split, "predict for")
            raise DataError(f"{self.absent} with the data to {purpose}")

    def check_labelled(self, split: str) -> None:
        """Refuse to train or evaluate on data without targets.

        Args:
            split: The split asked for.

        Raises:
            DataError: When the data has no targets.
        """
        if not self.labelled:
            verb = {"train": "train on", "val": "validate against", "test": "test against"}[split]
            raise DataError(
                f"{self.describe_source()} has no targets, so there is nothing to {verb}; "
                "`lit-nn predict --ckpt_path FILE` predicts for it"
            )

    def missing_split(self, split: str) -> str | None:
        """Say how to add a split this data does not have (the fit's closing line and errors use it).

        Args:
            split: ``"train"``, ``"val"`` or ``"test"``.

        Returns:
            What to do so the split exists, or ``None`` when it exists (or the datamodule cannot tell).
        """
        return None

    def content_keys(self, split: str) -> np.ndarray | None:
        """Content keys of a split's samples, so a fit can say how many copy a training sample.

        An optional interface: :class:`~lit_nn.callbacks.redundancy.DuplicateCheck` calls it on any
        datamodule that has it (subclass of this one or not) and says nothing for one without it, or
        when it returns ``None``. Keys are ``uint64`` from :func:`lit_nn.data.redundancy.row_keys`
        or :func:`~lit_nn.data.redundancy.file_keys`, equal exactly when the samples are equal
        (as :attr:`content_basis` says); the check reads them once per fit, on rank zero only.

        Args:
            split: ``"train"``, ``"val"`` or ``"test"``.

        Returns:
            ``(N,)`` keys, one per sample of the split (empty for a split without samples), or
            ``None`` when this datamodule cannot tell (the default).
        """
        return None

    def loader(self, split: str, shuffle: bool = False) -> DataLoader:
        """Build the loader of one split.

        Args:
            split: ``"train"``, ``"val"`` or ``"test"``.
            shuffle: Shuffle every epoch (training).

        Returns:
            The loader.
        """
        raise NotImplementedError

    def predict_split(self) -> str:
        """The split ``lit-nn predict`` runs on.

        Returns:
            ``"test"``.
        """
        return "test"

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches.

        Returns:
            The loader.
        """
        self.check_present("train")
        self.check_labelled("train")
        return self.loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        """Validation batches.

        Returns:
            The loader.
        """
        self.check_present("val")
        self.check_labelled("val")
        return self.loader("val")

    def test_dataloader(self) -> DataLoader:
        """Test batches.

        Returns:
            The loader.
        """
        self.check_present("test")
        self.check_labelled("test")
        return self.loader("test")

    def predict_dataloader(self) -> DataLoader:
        """Batches of :meth:`predict_split`, for ``lit-nn predict``.

        Returns:
            The loader.
        """
        self.check_present("predict")
        return self.loader(self.predict_split())
