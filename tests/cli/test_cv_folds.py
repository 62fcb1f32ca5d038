"""A cv command's folds, made from its parsed configuration's datamodule."""

from __future__ import annotations

from jsonargparse import Namespace

from lit_nn.cli.cv_folds import folds_of
from tests.helpers.data import write_csv


def csv_config(path, **init_args):
    return Namespace(data=Namespace(class_path="lit_nn.data.csv_data.CSVDataModule",
                                    init_args=Namespace(path=str(path), target="y", **init_args)))  # fmt: skip


def test_a_groups_column_the_model_also_learns_from_is_said_in_one_line_with_the_way_out(tmp_path, capsys):
    path = write_csv(tmp_path / "d.csv", [[i % 5, float(i), i % 2] for i in range(40)], ["patient", "x", "y"])
    samples, held, _ = folds_of(csv_config(path), 5, groups="patient")
    assert len(held) == 5 and samples.groups is not None
    assert capsys.readouterr().err == (
        "lit-nn: --cv.groups patient: the column 'patient' is also a feature the model learns from (every column but "
        "the target is, unless --data.features lists them); to leave it out: --data.features '[x]'\n"
    )
    folds_of(csv_config(path, features=["x"]), 5, groups="patient")
    folds_of(csv_config(path), 5, groups="patient", quiet=True)  # a worker: its parent said it
    assert capsys.readouterr().err == ""
