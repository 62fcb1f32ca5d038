"""The shared shape of lit_nn's datamodules: named splits served by one loader method."""

from __future__ import annotations

from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader


class SplitDataModule(LightningDataModule):
    """A datamodule whose stages read the splits ``train``, ``val`` and ``test`` by name.

    Subclasses implement :meth:`loader`; prediction reads :meth:`predict_split`.
    """

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
        return self.loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        """Validation batches.

        Returns:
            The loader.
        """
        return self.loader("val")

    def test_dataloader(self) -> DataLoader:
        """Test batches.

        Returns:
            The loader.
        """
        return self.loader("test")

    def predict_dataloader(self) -> DataLoader:
        """Batches of :meth:`predict_split`, for ``lit-nn predict``.

        Returns:
            The loader.
        """
        return self.loader(self.predict_split())
