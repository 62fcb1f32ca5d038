"""A tabular CSV file: a target column and feature columns, numeric or categorical."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lit_nn.data.arrays import ArrayDataModule, DataError, TaskType
from lit_nn.errors import suggest

MISSING = {"", "na", "nan", "n/a", "null", "none", "?"}
MAX_AUTO_CLASSES = 20


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class CSVDataModule(ArrayDataModule):
    """Rows of a CSV file with a header line.

    Numeric feature columns are standardised (on the training split); non-numeric ones, and
    those listed in ``categorical``, are one-hot encoded. A missing value (empty, ``NA``,
    ``NaN``, ``null``, ``?``) in a used column is an error naming the column and row.

    Args:
        path: The CSV file.
        target: The target column.
        features: Feature columns; ``None`` uses every other column.
        categorical: Columns to one-hot encode even if numeric.
        task: ``"regression"``, ``"binary"`` or ``"multiclass"``. ``None`` guesses: a
            non-numeric target, or an integer one with at most 20 distinct values, is a class
            label (binary with two classes); anything else is regressed.
        delimiter: The field separator.
        **kwargs: :class:`~lit_nn.data.arrays.ArrayDataModule` arguments.
    """

    def __init__(
        self,
        path: str,
        target: str,
        features: list[str] | None = None,
        categorical: list[str] | None = None,
        task: TaskType | None = None,
        delimiter: str = ",",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.path = Path(path).expanduser()
        header, rows = self._read(delimiter)
        self._check_columns(header, [target, *(features or []), *(categorical or [])])
        feature_columns = features if features is not None else [c for c in header if c != target]
        if not feature_columns:
            raise DataError(f"{self.path}: no feature columns; list them in features")
        columns = {name: [row[header.index(name)] for row in rows] for name in {target, *feature_columns}}
        for name, values in columns.items():
            for i, value in enumerate(values):
                if value.strip().lower() in MISSING:
                    raise DataError(
                        f"{self.path}: column {name!r} has a missing value at data row {i + 1} (line {i + 2}); "
                        "fill it in or drop the row"
                    )
        blocks, self.feature_names, scaled = [], [], []
        for name in feature_columns:
            block, names, numeric = self._encode(name, columns[name], name in (categorical or []))
            blocks.append(block)
            self.feature_names += names
            scaled += [numeric] * len(names)
        self.scaled_features = np.array(scaled)
        labels, task = self._targets(target, columns[target], task)
        self.set_arrays(np.concatenate(blocks, axis=1), labels, task)

    def _read(self, delimiter: str) -> tuple[list[str], list[list[str]]]:
        if not self.path.is_file():
            raise DataError(f"CSV file {str(self.path)!r} does not exist; check the data path")
        try:
            with self.path.open(newline="", encoding="utf-8-sig") as handle:
                lines = list(csv.reader(handle, delimiter=delimiter))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise DataError(f"{self.path} is not a readable CSV text file: {exc}") from exc
        if len(lines) < 2:
            raise DataError(f"{self.path} needs a header line and at least one data row")
        header = [h.strip() for h in lines[0]]
        rows = [line for line in lines[1:] if any(cell.strip() for cell in line)]
        for i, row in enumerate(rows):
            if len(row) != len(header):
                raise DataError(f"{self.path}: data row {i + 1} has {len(row)} fields, the header has {len(header)}")
        return header, rows

    def _check_columns(self, header: Sequence[str], wanted: Sequence[str]) -> None:
        for name in wanted:
            if name not in header:
                raise DataError(
                    f"{self.path} has no column {name!r}.{suggest(name, header)} Columns: {', '.join(header)}"
                )

    def _encode(self, name: str, values: list[str], categorical: bool) -> tuple[np.ndarray, list[str], bool]:
        numbers = [_number(v) for v in values]
        if not categorical and all(n is not None for n in numbers):
            return np.array(numbers, dtype=np.float64)[:, None], [name], True
        levels = sorted({v.strip() for v in values})
        index = {level: i for i, level in enumerate(levels)}
        one_hot = np.zeros((len(values), len(levels)))
        one_hot[np.arange(len(values)), [index[v.strip()] for v in values]] = 1.0
        return one_hot, [f"{name}={level}" for level in levels], False

    def _targets(self, name: str, values: list[str], task: TaskType | None) -> tuple[np.ndarray, TaskType]:
        numbers = [_number(v) for v in values]
        numeric = all(n is not None for n in numbers)
        if task is None:
            integral = numeric and all(float(n).is_integer() for n in numbers)
            classes = len(set(values)) if not numeric or integral else None
            if classes is None or classes > MAX_AUTO_CLASSES:
                task = "regression"
            else:
                task = "binary" if classes == 2 else "multiclass"
        if task == "regression":
            if not numeric:
                i = next(i for i, n in enumerate(numbers) if n is None)
                raise DataError(
                    f"{self.path}: target column {name!r} holds {values[i]!r} at data row {i + 1} (line {i + 2}), "
                    "not a number; a regression target must be numeric (or set task to binary or multiclass)"
                )
            return np.array(numbers, dtype=np.float64), task
        keys = sorted({float(n) for n in numbers}) if numeric else sorted({v.strip() for v in values})
        self.class_names = [str(int(k)) if numeric and k.is_integer() else str(k) for k in keys]
        index = {k: i for i, k in enumerate(keys)}
        labels = np.array([index[float(v) if numeric else v.strip()] for v in values], dtype=np.int64)
        if task == "binary" and len(keys) != 2:
            raise DataError(
                f"{self.path}: target column {name!r} has {len(keys)} distinct values, binary needs 2; "
                "use task: multiclass"
            )
        return labels, task
