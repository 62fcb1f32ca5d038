"""Built-in datamodules: bundled real data, synthetic data, CSV files, image folders and LitData chunks (lazily)."""

from __future__ import annotations

from lit_nn.hookspecs import hookimpl
from lit_nn.lazy import LazyFactory, lazy


@hookimpl
def lit_nn_register_datamodules() -> dict[str, LazyFactory]:
    """Register the built-in datamodules.

    Returns:
        Name to (lazy) ``LightningDataModule`` subclass.
    """
    return {
        "digits": lazy("lit_nn.data.bundled:Digits"),
        "breast_cancer": lazy("lit_nn.data.bundled:BreastCancer"),
        "diabetes": lazy("lit_nn.data.bundled:Diabetes"),
        "regression": lazy("lit_nn.data.synthetic:SyntheticRegression"),
        "binary": lazy("lit_nn.data.synthetic:SyntheticBinary"),
        "multiclass": lazy("lit_nn.data.synthetic:SyntheticClassification"),
        "csv": lazy("lit_nn.data.csv_data:CSVDataModule"),
        "image_folder": lazy("lit_nn.data.image_folder:ImageFolderDataModule"),
        "streaming": lazy("lit_nn.data.streaming:StreamingDataModule"),
    }
