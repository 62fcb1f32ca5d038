"""A CSV model's features given by column name, encoded as its training file was, without torch.

The encoding (feature columns, category levels, class names, task) is what
:class:`~lit_nn.data.csv_data.CSVDataModule` learnt from its training file; checkpoints and export
metadata carry it, so a server of an exported model encodes requests with no torch and no file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lit_nn.data.errors import DataError
from lit_nn.errors import suggest


def encode_records(records: Sequence[Mapping[str, Any]], encoding: Mapping[str, Any]) -> np.ndarray:
    """Feature rows for records given by column name, encoded as the training file was.

    The layout is :class:`CSVDataModule`'s: the feature columns in ``encoding["features"]``
    order, numbers as they are and each category one-hot over its training levels.

    Args:
        records: One mapping per sample, from every feature column's name to its value.
        encoding: ``CSVDataModule.encoding`` (kept in checkpoints and export metadata).

    Returns:
        ``float32`` ``(len(records), width)`` features, before standardisation.

    Raises:
        DataError: On a missing or unknown column, a category the model was not trained on, or
            text where the model was trained on numbers, naming the record and the column.
    """
    names, how = list(encoding["features"]), encoding["columns"]
    width = sum(len(how[n]["levels"]) if how[n].get("levels") is not None else 1 for n in names)
    rows = np.zeros((len(records), width), np.float32)
    for row, record in enumerate(records):
        where = f"record {row + 1}" if len(records) > 1 else "the record"
        unknown = [key for key in record if key not in how]
        if unknown:
            raise DataError(f"{where} has the column {unknown[0]!r}, not a feature.{suggest(unknown[0], names)}")
        missing = [n for n in names if n not in record]
        if missing:
            raise DataError(f"{where} lacks the feature column(s) {', '.join(missing)}; give every one of {names}")
        at = 0
        for name in names:
            value, levels = record[name], how[name].get("levels")
            if levels is not None:
                text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
                if text not in levels:
                    raise DataError(
                        f"{where}: column {name!r} holds {text!r}, a category the model was not trained on "
                        f"(it knows: {', '.join(levels[:20])})"
                    )
                rows[row, at + levels.index(text)] = 1.0
                at += len(levels)
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise DataError(f"{where}: column {name!r} holds {value!r}; the model was trained on numbers in it")
            rows[row, at] = value
            at += 1
    return rows
