"""A tabular CSV file: a target column and feature columns, numeric or categorical."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lit_nn.data.arrays import ArrayDataModule, TaskType
from lit_nn.data.base import DataError
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

    Given to a trained model (``lit-nn test|predict --ckpt_path FILE --data.path NEW.csv``), the
    file is encoded exactly as the training file was (the same columns, category levels, scaling
    and classes, from the checkpoint); every row of a new file is used, and the target column may
    be left out for ``predict``.

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
        encoding = (self.fitted or {}).get("encoding")
        labelled = target in header or encoding is None
        if encoding is not None:
            feature_columns = list(encoding["features"])
        else:
            feature_columns = features if features is not None else [c for c in header if c != target]
        self._check_columns(header, [*([target] if labelled else []), *feature_columns, *(categorical or [])])
        if not feature_columns:
            raise DataError(f"{self.path}: no feature columns; list them in features")
        used = [*feature_columns, *([target] if labelled else [])]
        columns = {name: [row[header.index(name)] for row in rows] for name in used}
        self._check_missing(columns)
        self.encoding = encoding or self._learn_encoding(columns, feature_columns, target, categorical or [], task)
        blocks, self.feature_names, scaled = [], [], []
        for name in feature_columns:
            block, names = self._encode(name, columns[name], self.encoding["columns"][name])
            blocks.append(block)
            self.feature_names += names
            scaled += [self.encoding["columns"][name].get("levels") is None] * len(names)
        self.scaled_features = np.array(scaled)
        self.class_names = self.encoding.get("class_names")
        features_array = np.concatenate(blocks, axis=1)
        if not labelled:
            self.set_unlabelled(features_array)
        else:
            self.set_arrays(features_array, self._labels(target, columns[target]), self.encoding["task"])
        self.whole = self.whole or (encoding is not None and str(self.path.resolve()) != self.encoding.get("source"))

    def state_dict(self) -> dict[str, Any]:
        """The training preprocessing, with how each column is encoded.

        Returns:
            :meth:`ArrayDataModule.state_dict` and ``encoding``: feature columns, category levels,
            the target's classes, the task and the training file.
        """
        state = super().state_dict()
        if state:
            state["encoding"] = {**self.encoding, "source": self.encoding.get("source") or str(self.path.resolve())}
        return state

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

    def _check_missing(self, columns: Mapping[str, list[str]]) -> None:
        for name, values in columns.items():
            for i, value in enumerate(values):
                if value.strip().lower() in MISSING:
                    raise DataError(
                        f"{self.path}: column {name!r} has a missing value at data row {i + 1} (line {i + 2}); "
                        "fill it in or drop the row"
                    )

    def _learn_encoding(
        self,
        columns: Mapping[str, list[str]],
        features: Sequence[str],
        target: str,
        categorical: Sequence[str],
        task: TaskType | None,
    ) -> dict[str, Any]:
        """How to encode each column, learned from this file: numeric, or the category levels."""
        encoded: dict[str, Any] = {}
        for name in features:
            values = columns[name]
            numeric = name not in categorical and all(_number(v) is not None for v in values)
            encoded[name] = {} if numeric else {"levels": sorted({v.strip() for v in values})}
        values = columns[target]
        numbers = [_number(v) for v in values]
        numeric = all(n is not None for n in numbers)
        if task is None:
            integral = numeric and all(float(n).is_integer() for n in numbers)
            classes = len(set(values)) if not numeric or integral else None
            if classes is None or classes > MAX_AUTO_CLASSES:
                task = "regression"
            else:
                task = "binary" if classes == 2 else "multiclass"
        encoding: dict[str, Any] = {"features": list(features), "columns": encoded, "target": target, "task": task}
        if task == "regression":
            return encoding
        keys = sorted({float(n) for n in numbers}) if numeric else sorted({v.strip() for v in values})
        encoding["numeric_target"] = numeric
        encoding["class_keys"] = [str(k) for k in keys]
        encoding["class_names"] = [str(int(k)) if numeric and k.is_integer() else str(k) for k in keys]
        if task == "binary" and len(keys) != 2:
            raise DataError(
                f"{self.path}: target column {target!r} has {len(keys)} distinct values, binary needs 2; "
                "use task: multiclass"
            )
        return encoding

    def _encode(self, name: str, values: list[str], how: Mapping[str, Any]) -> tuple[np.ndarray, list[str]]:
        levels = how.get("levels")
        if levels is None:
            numbers = [_number(v) for v in values]
            bad = next((i for i, n in enumerate(numbers) if n is None), None)
            if bad is not None:
                raise DataError(
                    f"{self.path}: column {name!r} holds {values[bad]!r} at data row {bad + 1} (line {bad + 2}); "
                    "the model was trained on numbers in this column"
                )
            return np.array(numbers, dtype=np.float64)[:, None], [name]
        index = {level: i for i, level in enumerate(levels)}
        positions = []
        for i, value in enumerate(values):
            if value.strip() not in index:
                raise DataError(
                    f"{self.path}: column {name!r} holds {value.strip()!r} at data row {i + 1} (line {i + 2}), a "
                    f"category the model was not trained on (it knows: {', '.join(levels[:20])})"
                )
            positions.append(index[value.strip()])
        one_hot = np.zeros((len(values), len(levels)))
        one_hot[np.arange(len(values)), positions] = 1.0
        return one_hot, [f"{name}={level}" for level in levels]

    def _labels(self, name: str, values: list[str]) -> np.ndarray:
        numbers = [_number(v) for v in values]
        if self.encoding["task"] == "regression":
            bad = next((i for i, n in enumerate(numbers) if n is None), None)
            if bad is not None:
                raise DataError(
                    f"{self.path}: target column {name!r} holds {values[bad]!r} at data row {bad + 1} "
                    f"(line {bad + 2}), not a number; a regression target must be numeric (or set task to binary "
                    "or multiclass)"
                )
            return np.array(numbers, dtype=np.float64)
        numeric = self.encoding.get("numeric_target", False)
        index = {key: i for i, key in enumerate(self.encoding["class_keys"])}
        labels = []
        for i, value in enumerate(values):
            key = str(float(value)) if numeric and _number(value) is not None else value.strip()
            if key not in index:
                raise DataError(
                    f"{self.path}: target column {name!r} holds {value.strip()!r} at data row {i + 1} (line {i + 2}), "
                    f"a class the model was not trained on (its classes: {', '.join(self.encoding['class_names'])})"
                )
            labels.append(index[key])
        return np.array(labels, dtype=np.int64)
