"""Metrics of prediction tables (a fold's held-out predictions, the out-of-fold table, an ensemble's).

The tables are what ``lit-nn predict`` writes: ``target`` and ``label`` with ``p_<class>`` per
class (classification, class names as cells), or ``target`` and ``prediction`` (regression). A
table is held as columns (name to list of cells). The metrics are torchmetrics' functional forms
of those the tasks log, under the same names.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pyarrow import csv as pa_csv
from torchmetrics.functional import classification as C
from torchmetrics.functional import regression as R

from lit_nn.atomic import write_text

PROBABILITY_PREFIX = "p_"
Columns = dict[str, list[Any]]
"""A table as columns: name to cells, all of one length."""


def read_table(path: Path) -> Columns:
    """Read a prediction CSV (pyarrow's reader).

    Args:
        path: The file.

    Returns:
        Its columns.
    """
    return {name: list(cells) for name, cells in pa_csv.read_csv(path).to_pydict().items()}


def write_table(path: Path, table: Mapping[str, Sequence[Any]]) -> Path:
    """Write columns as a CSV file, atomically.

    Args:
        path: The file.
        table: The columns.

    Returns:
        ``path``.
    """
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(list(table))
    writer.writerows(zip(*table.values(), strict=True))
    return write_text(path, text.getvalue())


def concatenated(tables: Sequence[Mapping[str, Sequence[Any]]]) -> Columns:
    """Tables of the same columns, one after another.

    Args:
        tables: The tables.

    Returns:
        One table.
    """
    return {name: [cell for table in tables for cell in table[name]] for name in tables[0]}


def class_columns(table: Mapping[str, Sequence[Any]]) -> list[str]:
    """The probability columns of a classifier's table, in class order.

    Args:
        table: The table.

    Returns:
        ``p_<class>`` column names (none for regression).
    """
    return [c for c in table if str(c).startswith(PROBABILITY_PREFIX)]


def _numbers(cells: Sequence[Any]) -> torch.Tensor:
    return torch.tensor(np.asarray(cells, dtype=np.float64))


def _class_index(cells: Sequence[Any], names: Sequence[str]) -> torch.Tensor:
    index = {name: i for i, name in enumerate(names)}
    return torch.tensor([index[str(cell)] for cell in cells], dtype=torch.long)


def scores(table: Mapping[str, Sequence[Any]]) -> dict[str, float]:
    """Every metric the task of a prediction table logs, computed from the table.

    Args:
        table: Predictions with targets.

    Returns:
        Binary: ``acc``, ``precision``, ``recall``, ``f1``, ``auroc``; multiclass: ``acc``,
        ``f1_macro``; regression: ``mse``, ``rmse``, ``mae``, ``r2``.
    """
    columns = class_columns(table)
    if not columns:
        target, prediction = _numbers(table["target"]), _numbers(table["prediction"])
        mse = float(R.mean_squared_error(prediction, target))
        return {"mse": mse, "rmse": mse**0.5, "mae": float(R.mean_absolute_error(prediction, target)),
                "r2": float(R.r2_score(prediction, target))}  # fmt: skip
    names = [c.removeprefix(PROBABILITY_PREFIX) for c in columns]
    target, label = _class_index(table["target"], names), _class_index(table["label"], names)
    if len(names) == 2:
        return {
            "acc": float(C.binary_accuracy(label, target)),
            "precision": float(C.binary_precision(label, target)),
            "recall": float(C.binary_recall(label, target)),
            "f1": float(C.binary_f1_score(label, target)),
            "auroc": float(C.binary_auroc(_numbers(table[columns[1]]), target)),
        }
    return {
        "acc": float(C.multiclass_accuracy(label, target, len(names), average="micro")),
        "f1_macro": float(C.multiclass_f1_score(label, target, len(names), average="macro")),
    }


def ensemble(tables: Sequence[Mapping[str, Sequence[Any]]]) -> Columns:
    """The mean of several models' predictions of the same samples, in the same table form.

    Args:
        tables: One table per model, rows in the same order (the same ``id`` column).

    Returns:
        Classification: mean probabilities and their most probable class as ``label``;
        regression: the mean ``prediction``.
    """
    first = tables[0]
    columns = class_columns(first) or ["prediction"]
    mean = np.mean([np.asarray([t[c] for c in columns], dtype=np.float64) for t in tables], axis=0)
    combined: Columns = {"id": list(first["id"]), "target": list(first["target"])}
    if class_columns(first):
        names = [c.removeprefix(PROBABILITY_PREFIX) for c in columns]
        combined["label"] = [names[i] for i in mean.argmax(axis=0)]
    combined.update({c: row.tolist() for c, row in zip(columns, mean, strict=True)})
    return combined
