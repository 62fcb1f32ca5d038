"""A tabular CSV file: a target column and feature columns, numeric or categorical."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyarrow as pa
from pyarrow import csv as pa_csv

from lit_nn.data.arrays import ArrayDataModule, TaskType
from lit_nn.data.base import DataError
from lit_nn.data.csv_read import Column, Kind, NotANumber, is_number, read_columns, read_header
from lit_nn.data.fitted import gone_line, training_data_gone
from lit_nn.errors import suggest

MAX_AUTO_CLASSES = 20
ROWS_AT_ONCE = 1 << 16
MAX_LEVELS = 1000
"""The most distinct values a non-numeric feature column may have (each becomes a feature)."""


class CSVDataModule(ArrayDataModule):
    """Rows of a CSV file with a header line.

    Numeric feature columns are standardised (on the training split); non-numeric ones, and
    those listed in ``categorical``, are one-hot encoded. A missing value (empty, ``NA``,
    ``NaN``, ``null``, ``?``) in a used column is an error naming the column and row. The file is
    read once, in blocks, by pyarrow's CSV reader (:mod:`lit_nn.data.csv_read`), so a file of
    several GB needs about its own size in memory again for the features, not a copy of its text.

    Given to a trained model (``lit-nn test|predict --ckpt_path FILE --data.path NEW.csv``), the
    file is encoded exactly as the training file was (the same columns, category levels, scaling
    and classes, from the checkpoint); every row of a new file is used, and the target column may
    be left out for ``predict``. Where the training file is gone, the checkpoint's encoding alone
    builds it, without rows (:func:`~lit_nn.data.fitted.training_data_gone`): enough to export and serve.

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
        self.path, self.delimiter = Path(path).expanduser(), delimiter
        fitted = (self.fitted or {}).get("encoding")
        self.source: str | None = None if fitted is None else fitted.get("source")
        """The training file, resolved: kept in checkpoints, never in an export's metadata."""
        encoding = None if fitted is None else {k: v for k, v in fitted.items() if k != "source"}
        if encoding is not None and training_data_gone(self.path, self.source):
            self.encoding, self.class_names = encoding, encoding.get("class_names")
            self._layout(encoding["features"])
            self.set_absent((len(self.feature_names),), gone_line(self.path, "file", "--data.path FILE"))
            return
        header = read_header(self.path, delimiter)
        labelled = target in header or encoding is None
        if encoding is not None:
            feature_columns = list(encoding["features"])
        else:
            feature_columns = features if features is not None else [c for c in header if c != target]
        self._check_columns(header, [*([target] if labelled else []), *feature_columns, *(categorical or [])])
        if not feature_columns:
            raise DataError(f"{self.path}: no feature columns; list them in features")
        kinds = self._kinds(feature_columns, categorical or [], target if labelled else None, task, encoding)
        try:
            rows, columns = read_columns(self.path, header, kinds, delimiter, wide=[target])
        except NotANumber as bad:
            raise self._not_a_number(bad, target) from None
        self.encoding = encoding or self._learn_encoding(columns, feature_columns, target, task)
        features_array = self._features(rows, feature_columns, columns)
        self.class_names = self.encoding.get("class_names")
        if not labelled:
            self.set_unlabelled(features_array)
        else:
            self.set_arrays(features_array, self._labels(target, columns[target]), self.encoding["task"])
        self.whole = self.whole or (encoding is not None and str(self.path.resolve()) != self.source)

    def state_dict(self) -> dict[str, Any]:
        """The training preprocessing, with how each column is encoded.

        Returns:
            :meth:`ArrayDataModule.state_dict` and ``encoding``: feature columns, category levels,
            the target's classes, the task and the training file (``source``).
        """
        state = super().state_dict()
        if state:
            state["encoding"] = {**self.encoding, "source": self.source or str(self.path.resolve())}
        return state

    def group_values(self, column: str) -> np.ndarray:
        """Each row's value in ``column``, as text: rows with one value stay in one fold (``--cv.groups``).

        Args:
            column: A column of the file (it need not be a feature).

        Returns:
            ``(rows,)`` strings.

        Raises:
            DataError: When the file has no such column.
        """
        header = read_header(self.path, self.delimiter)
        if column not in header:
            raise DataError(
                f"--cv.groups {column}: {self.path} has no column {column!r}.{suggest(column, header)} "
                f"Columns: {', '.join(header)}"
            )
        table = pa_csv.read_csv(
            self.path,
            parse_options=pa_csv.ParseOptions(delimiter=self.delimiter),
            convert_options=pa_csv.ConvertOptions(include_columns=[column], column_types={column: pa.string()}),
        )
        return np.asarray(table.column(column).to_pylist(), dtype=object).astype(str)

    def _check_columns(self, header: Sequence[str], wanted: Sequence[str]) -> None:
        for name in wanted:
            if name not in header:
                raise DataError(
                    f"{self.path} has no column {name!r}.{suggest(name, header)} Columns: {', '.join(header)}"
                )

    @staticmethod
    def _kinds(
        features: Sequence[str],
        categorical: Sequence[str],
        target: str | None,
        task: TaskType | None,
        encoding: Mapping[str, Any] | None,
    ) -> dict[str, Kind]:
        """How to read each used column: as the training file was encoded, or as this one looks."""
        kinds: dict[str, Kind] = {}
        for name in features:
            if encoding is not None:
                kinds[name] = "number" if encoding["columns"][name].get("levels") is None else "text"
            else:
                kinds[name] = "text" if name in categorical else "auto"
        if target is not None:
            fitted_task = encoding["task"] if encoding is not None else task
            numeric = fitted_task == "regression" or bool(encoding and encoding.get("numeric_target"))
            kinds[target] = "number" if numeric else "text" if encoding is not None else "auto"
        return kinds

    def _not_a_number(self, bad: NotANumber, target: str) -> DataError:
        where = f"at data row {bad.row + 1} (line {bad.row + 2})"
        if bad.column != target:
            return DataError(
                f"{self.path}: column {bad.column!r} holds {bad.value!r} {where}; "
                "the model was trained on numbers in this column"
            )
        if self.fitted and self.fitted["task"] != "regression":
            return self._unknown_class(target, bad.value, bad.row)
        return DataError(
            f"{self.path}: target column {target!r} holds {bad.value!r} {where}, not a number; a regression "
            "target must be numeric (for class labels, set --data.task multiclass or --data.task binary)"
        )

    def _learn_encoding(
        self, columns: Mapping[str, Column], features: Sequence[str], target: str, task: TaskType | None
    ) -> dict[str, Any]:
        """How to encode each column, learned from this file: numeric, or the category levels."""
        encoded: dict[str, Any] = {}
        for name in features:
            levels = columns[name].levels
            if levels is not None and len(levels) > MAX_LEVELS:
                raise DataError(
                    f"{self.path}: column {name!r} has {len(levels)} distinct non-numeric values, too many to "
                    f"one-hot encode (at most {MAX_LEVELS}); leave it out of features"
                )
            encoded[name] = {} if levels is None else {"levels": levels}
        column = columns[target]
        numbers = column.numbers
        if task is None:
            integral = numbers is not None and bool(np.all(np.mod(numbers, 1) == 0))
            classes = (
                len(cast(list[str], column.levels))
                if numbers is None
                else len(np.unique(numbers))
                if integral
                else None
            )
            if classes is None or classes > MAX_AUTO_CLASSES:
                task = "regression"
            else:
                task = "binary" if classes == 2 else "multiclass"
        encoding: dict[str, Any] = {"features": list(features), "columns": encoded, "target": target, "task": task}
        if task == "regression":
            return encoding
        keys: list[Any] = np.unique(numbers).tolist() if numbers is not None else list(column.levels or [])
        encoding["numeric_target"] = numbers is not None
        encoding["class_keys"] = [str(k) for k in keys]
        encoding["class_names"] = [str(int(k)) if numbers is not None and k.is_integer() else str(k) for k in keys]
        if len(keys) < 2:
            raise DataError(
                f"{self.path}: target column {target!r} holds a single class ({encoding['class_names'][0]!r} in every "
                "row); a classifier needs at least two: check the target column (or set --data.task regression "
                "for values to predict)"
            )
        if task == "binary" and len(keys) != 2:
            raise DataError(
                f"{self.path}: target column {target!r} has {len(keys)} distinct values, binary needs 2; "
                "set --data.task multiclass (and --model MulticlassClassificationTask)"
            )
        return encoding

    def _features(self, rows: int, names: Sequence[str], columns: Mapping[str, Column]) -> np.ndarray:
        """The feature matrix: numbers as they are, categories one-hot (levels from :attr:`encoding`)."""
        how = self.encoding["columns"]
        codes: dict[str, np.ndarray] = {}
        for name in names:
            levels = how[name].get("levels")
            if levels is not None:
                codes[name], bad = self._recode(columns[name], levels)
                if bad is not None:
                    column = columns[name]
                    assert column.levels is not None and column.codes is not None  # bad indexes its codes
                    raise DataError(
                        f"{self.path}: column {name!r} holds {column.levels[column.codes[bad]]!r} at "
                        f"data row {bad + 1} (line {bad + 2}), a category the model was not trained on (it knows: "
                        f"{', '.join(levels[:20])})"
                    )
        features = np.zeros((rows, sum(len(how[n]["levels"]) if n in codes else 1 for n in names)), np.float32)
        for lo in range(0, rows, ROWS_AT_ONCE):  # a slice of rows at a time: no row index as long as the file
            at, hi = 0, min(rows, lo + ROWS_AT_ONCE)
            for name in names:
                if name in codes:
                    features[np.arange(lo, hi), at + codes[name][lo:hi]] = 1.0
                    at += len(how[name]["levels"])
                else:
                    features[lo:hi, at] = cast(np.ndarray, columns[name].numbers)[lo:hi]
                    at += 1
        self._layout(names)
        return features

    def _layout(self, names: Sequence[str]) -> None:
        """Name each feature (``town=north`` for a category's one-hot column) and mark those to standardise."""
        how = self.encoding["columns"]
        self.feature_names, scaled = [], []
        for name in names:
            levels = how[name].get("levels")
            names_of = [name] if levels is None else [f"{name}={level}" for level in levels]
            self.feature_names += names_of
            scaled += [levels is None] * len(names_of)
        self.scaled_features = np.array(scaled)

    @staticmethod
    def _recode(column: Column, levels: Sequence[str]) -> tuple[np.ndarray, int | None]:
        """Codes into ``levels`` (the training file's) of a column coded into this file's own levels.

        Returns the codes and the first data row (from 0) whose value is not among ``levels``, or ``None``.
        """
        index = {level: i for i, level in enumerate(levels)}
        mapping = np.array([index.get(level, -1) for level in column.levels or []], dtype=np.int32)
        codes = mapping[column.codes] if len(mapping) else np.zeros(0, dtype=np.int32)
        bad = np.flatnonzero(codes < 0)
        return codes, int(bad[0]) if len(bad) else None

    def _unknown_class(self, name: str, value: str, row: int) -> DataError:
        encoding = getattr(self, "encoding", None) or (self.fitted or {}).get("encoding") or {}
        return DataError(
            f"{self.path}: target column {name!r} holds {value!r} at data row {row + 1} (line {row + 2}), "
            f"a class the model was not trained on (its classes: {', '.join(encoding.get('class_names') or [])})"
        )

    def _labels(self, name: str, column: Column) -> np.ndarray:
        levels, numbers = column.levels or [], column.numbers
        if self.encoding["task"] == "regression":
            if numbers is not None:
                return numbers
            assert column.codes is not None  # a column without numbers is coded into its levels
            text = np.array([not is_number(level) for level in levels])
            row = int(np.flatnonzero(text[column.codes])[0])
            raise self._not_a_number(NotANumber(name, row, levels[column.codes[row]]), name)
        if numbers is None:
            labels, bad = self._recode(column, self.encoding["class_keys"])
            if bad is not None:
                assert column.codes is not None  # bad indexes its codes
                raise self._unknown_class(name, levels[column.codes[bad]], bad)
            return labels.astype(np.int64)
        keys = np.array([float(k) for k in self.encoding["class_keys"]])
        labels = np.searchsorted(keys, numbers)
        found = (labels < len(keys)) & (keys[np.minimum(labels, len(keys) - 1)] == numbers)
        if not found.all():
            row = int(np.flatnonzero(~found)[0])
            number = float(numbers[row])
            raise self._unknown_class(name, str(int(number)) if number.is_integer() else str(number), row)
        return labels.astype(np.int64)
