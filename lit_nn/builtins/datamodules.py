"""Built-in datamodules: bundled real data, synthetic data, CSV files and image folders."""

from __future__ import annotations

from lightning.pytorch import LightningDataModule

from lit_nn.data.bundled import BreastCancer, Diabetes, Digits
from lit_nn.data.csv_data import CSVDataModule
from lit_nn.data.image_folder import ImageFolderDataModule
from lit_nn.data.synthetic import SyntheticBinary, SyntheticClassification, SyntheticRegression
from lit_nn.hookspecs import hookimpl


@hookimpl
def lit_nn_register_datamodules() -> dict[str, type[LightningDataModule]]:
    """Register the built-in datamodules.

    Returns:
        Name to ``LightningDataModule`` subclass.
    """
    return {
        "digits": Digits,
        "breast_cancer": BreastCancer,
        "diabetes": Diabetes,
        "regression": SyntheticRegression,
        "binary": SyntheticBinary,
        "multiclass": SyntheticClassification,
        "csv": CSVDataModule,
        "image_folder": ImageFolderDataModule,
    }
