"""A task's outputs as people and programs read them: prediction-CSV cells and JSON answers.

:class:`~lit_nn.tasks.base.BaseTask` builds on these; a task changes what its own outputs look
like by overriding its ``output_columns`` / ``target_columns`` / ``answers``, and nothing
outside :mod:`lit_nn.tasks` needs to know which task it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import Tensor

from lit_nn.answers import plain_answers

Columns = Callable[[str, Tensor, Sequence[str] | None], dict[str, Any]]
"""``(output name, one sample's value, class names)`` to that sample's cells."""


def cell(value: Tensor, names: Sequence[str] | None) -> Any:  # noqa: ANN401 (a number, a name or a list)
    """One value as a CSV cell: a class index as its class name when names are known.

    Args:
        value: One sample's value.
        names: Class names, or ``None``.

    Returns:
        The name, the number, or a list of numbers.
    """
    if value.dim() == 0 and not value.is_floating_point() and names is not None:
        return names[int(value)]
    return value.item() if value.dim() == 0 else value.tolist()


def plain_columns(name: str, value: Tensor, names: Sequence[str] | None) -> dict[str, Any]:
    """An output's cells when nothing says otherwise: one column named after it.

    Args:
        name: The output's name.
        value: One sample's value.
        names: Class names, or ``None``.

    Returns:
        ``{name: cell}``.
    """
    return {name: cell(value.squeeze(), names)}


def set_columns(members: Tensor, names: Sequence[str] | None) -> dict[str, Any]:
    """A conformal prediction set as CSV cells: its classes joined by ``|``, and its size.

    Args:
        members: One sample's ``(classes,)`` booleans.
        names: Class names, or ``None`` (then class indices).

    Returns:
        ``{"prediction_set": "cat|dog", "set_size": 2}``.
    """
    chosen = [int(i) for i in members.nonzero().flatten()]
    return {
        "prediction_set": "|".join(names[i] if names else str(i) for i in chosen),
        "set_size": len(chosen),
    }


def target_cell(value: Tensor, names: Sequence[str] | None) -> dict[str, Any]:
    """A sample's target as one ``target`` column.

    Args:
        value: One sample's target.
        names: Class names, or ``None``.

    Returns:
        ``{"target": cell}``.
    """
    return {"target": cell(value, names)}


def csv_rows(
    outputs: Mapping[str, Tensor],
    targets: Tensor | None,
    names: Sequence[str] | None,
    columns: Columns = plain_columns,
    target_columns: Callable[[Tensor, Sequence[str] | None], dict[str, Any]] = target_cell,
) -> list[dict[str, Any]]:
    """One row per sample: the target's cells (when there are targets), then every output's.

    Args:
        outputs: A batch's outputs by name (on the CPU).
        targets: The batch's targets, or ``None``.
        names: Class names, or ``None``.
        columns: One output's cells for one sample.
        target_columns: One target's cells.

    Returns:
        The rows, without ``id``.
    """
    count = len(next(iter(outputs.values())))
    rows = []
    for i in range(count):
        row: dict[str, Any] = {} if targets is None else target_columns(targets[i], names)
        for key, value in outputs.items():
            row.update(columns(key, value[i], names))
        rows.append(row)
    return rows


def json_answers(outputs: Mapping[str, Tensor], names: Sequence[str] | None) -> list[dict[str, Any]]:
    """One JSON-ready answer per sample, as ``lit-nn predict`` writes the values (:func:`lit_nn.answers.plain_answers`).

    Args:
        outputs: A batch's outputs by name.
        names: Class names (empty or ``None`` when unknown).

    Returns:
        Per sample: its outputs by name.
    """
    return plain_answers({name: value.detach().cpu().numpy() for name, value in outputs.items()}, names)


class TaskOutputs:
    """What a task's outputs mean, asked by plots, prediction files, exports and the server.

    :class:`~lit_nn.tasks.base.BaseTask` inherits these defaults; each task overrides what its
    own outputs need, so nothing outside :mod:`lit_nn.tasks` branches on which task it is.
    """

    def output_descriptions(self) -> dict[str, str]:
        """Each output of :meth:`predict_outputs`, described for export metadata.

        Returns:
            Output name to its dtype, shape and meaning.
        """
        return {}

    def export_metadata(self) -> dict[str, Any]:
        """Plain values an exported model's consumer needs besides the outputs (a threshold).

        Returns:
            Added to the export metadata; nothing by default.
        """
        return {}

    def output_columns(self, name: str, value: Tensor, class_names: Sequence[str] | None) -> dict[str, Any]:
        """One sample's prediction-CSV cells for one output.

        Args:
            name: The output's name (a key of :meth:`predict_outputs`).
            value: The sample's value.
            class_names: The datamodule's class names, or ``None``.

        Returns:
            Column name to cell; by default one column named after the output.
        """
        return plain_columns(name, value, class_names)

    def target_columns(self, value: Tensor, class_names: Sequence[str] | None) -> dict[str, Any]:
        """One sample's prediction-CSV cells for its target.

        Args:
            value: The sample's target.
            class_names: The datamodule's class names, or ``None``.

        Returns:
            ``{"target": …}`` by default (a class label as its name).
        """
        return target_cell(value, class_names)

    def prediction_rows(
        self, outputs: Mapping[str, Tensor], targets: Tensor | None, class_names: Sequence[str] | None
    ) -> list[dict[str, Any]]:
        """The prediction-CSV rows of a batch (without ``id``).

        Args:
            outputs: :meth:`predict_outputs` of the batch, on the CPU.
            targets: The batch's targets, or ``None``.
            class_names: The datamodule's class names, or ``None``.

        Returns:
            One row per sample: the target's cells, then every output's.
        """
        return csv_rows(outputs, targets, class_names, self.output_columns, self.target_columns)

    def answers(self, outputs: Mapping[str, Tensor], class_names: Sequence[str] | None) -> list[dict[str, Any]]:
        """What the server answers per sample, JSON-ready.

        Args:
            outputs: :meth:`predict_outputs` of a batch, on the CPU.
            class_names: The class names the export metadata records, or ``None``.

        Returns:
            One answer per sample.
        """
        return json_answers(outputs, class_names)

    def plot_predictions(
        self,
        preds: Tensor,
        targets: Tensor,
        path: Callable[[str], Path],
        title: str,
        class_names: Sequence[str] | None,
    ) -> list[Path]:
        """Draw the evaluation plots of a stage's predictions (with :mod:`lit_nn.plotting`).

        Args:
            preds: The predictions the steps returned (``preds``), concatenated, on the CPU.
            targets: The targets, concatenated.
            path: A plot's name (``"roc"``) to its PNG file.
            title: The figures' title (``validation``, ``test``).
            class_names: The datamodule's class names, or ``None``.

        Returns:
            The files written; none by default.
        """
        return []
