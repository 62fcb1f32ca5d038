"""A model's outputs as JSON answers, from numpy arrays: the one rule both servers (PyTorch's, an export's) follow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def plain_answers(outputs: Mapping[str, np.ndarray], names: Sequence[str] | None) -> list[dict[str, Any]]:
    """One JSON-ready answer per sample, as ``lit-nn predict`` writes the values.

    An output of one floating-point column per sample is answered as one value; an output named
    ``label`` is a class index, answered with its ``class_name`` too when the names are known; a
    ``prediction_set`` (one boolean per class) is answered as the list of its class indices, with
    ``prediction_set_names`` too when the names are known.

    Args:
        outputs: A batch's outputs by name, each ``(N, ...)``.
        names: Class names (empty or ``None`` when unknown).

    Returns:
        Per sample: its outputs by name.
    """
    plain = {
        name: (value[:, 0] if value.dtype.kind == "f" and value.ndim == 2 and value.shape[1] == 1 else value).tolist()
        for name, value in outputs.items()
    }
    if "prediction_set" in plain:
        plain["prediction_set"] = [np.flatnonzero(members).tolist() for members in outputs["prediction_set"]]
    count = len(next(iter(plain.values())))
    rows = [{name: values[i] for name, values in plain.items()} for i in range(count)]
    if names:
        for row in rows:
            if isinstance(row.get("label"), int) and 0 <= row["label"] < len(names):
                row["class_name"] = names[row["label"]]
            if isinstance(row.get("prediction_set"), list):
                row["prediction_set_names"] = [names[i] for i in row["prediction_set"] if 0 <= i < len(names)]
    return rows
