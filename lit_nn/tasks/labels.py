"""Checks that a task's targets and its data agree: label ranges, class and target counts."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lit_nn.errors import LitNNError


class LabelError(LitNNError, ValueError):
    """Labels that do not fit the task (out of range, or a class count that does not match)."""


def check_labels(y: Tensor, num_classes: int, fix: str = "set num_classes to match the data") -> None:
    """Refuse class labels that are not whole numbers in ``0 … num_classes - 1``.

    Args:
        y: Labels.
        num_classes: Number of classes the model has.
        fix: The task's own way out when the labels are whole numbers out of range (a binary
            task has no ``num_classes`` to set).

    Raises:
        LabelError: Naming the offending label, and a fix that applies to it.
    """
    if not y.numel():
        return
    if y.is_floating_point():
        fractional = y[y != torch.round(y)]
        if fractional.numel():  # a real-valued target: no class count or label fix can make it classes
            raise LabelError(
                f"the targets are real numbers (for example {float(fractional[0]):g}), not class labels: this data "
                "fits --model RegressionTask; to classify, give a target of class labels (--data.target COLUMN)"
            )
    low, high = torch.aminmax(y)
    if low.item() < 0 or high.item() >= num_classes:  # two reads, not two tensor comparisons first
        bad = y[(y < 0) | (y >= num_classes)]
        raise LabelError(
            f"label {int(bad[0])} is outside 0…{num_classes - 1}: the model has {num_classes} classes. "
            f"Fix the labels, or {fix}"
        )


def check_size(  # noqa: ANN401 (a model's and a datamodule's values)
    task: str, argument: str, model: Any, data: Any, data_kind: str | None = None, choosable: bool = True
) -> None:
    """Refuse data whose class or target count is not the model's, or whose targets are of another kind.

    Args:
        task: The task's class name, for the message.
        argument: ``num_classes`` or ``num_targets``.
        model: The model's value.
        data: The datamodule's value (``None``: it does not say).
        data_kind: What the datamodule's targets are (its ``task``: ``regression``, ``binary`` …), if it says.
        choosable: The datamodule takes a ``task`` argument (``--data.task``), as the CSV datamodule does.

    Raises:
        LabelError: On a mismatch, naming both counts, or data that gives no ``argument`` while its
            targets are of another kind, saying how to read them as this task's.
    """
    if data is None and data_kind is not None:
        raise LabelError(kind_mismatch(task, argument, data_kind, choosable))
    if data is not None and data != model:
        raise LabelError(
            f"the datamodule has {argument}={data} but {task} was built with {argument}={model}; set them equal "
            "(the CLI links them when the model's value is not given)"
        )


def kind_mismatch(task: str, argument: str, data_kind: str | None, choosable: bool = True) -> str:
    """Say that a task's data gives no ``argument`` because its targets are of another kind, and what to do.

    Args:
        task: The task's class name.
        argument: The task's size argument (``num_classes``, ``num_targets`` …).
        data_kind: What the datamodule's targets are, or ``None`` if it does not say.
        choosable: The datamodule takes ``--data.task`` (a datamodule that infers its task, ``csv``);
            otherwise its targets are what they are, and the way out is another task.

    Returns:
        One sentence saying what to do.
    """
    held = f"{data_kind} targets" if data_kind else "targets of another kind"
    if not choosable:
        return (
            f"{task} takes {argument}, but the datamodule holds {held} and gives none: choose the task that fits "
            "them (`lit-nn plugins --kind tasks` lists the tasks)"
        )
    if argument == "num_classes":
        return (
            f"{task} is a classifier, but the datamodule holds {held} and gives no num_classes (a CSV target of "
            "numbers, or of integers with more than 20 distinct values, is read as regression); if the target "
            "holds class labels, set --data.task multiclass (or binary), otherwise choose RegressionTask"
        )
    return (
        f"{task} needs {argument}, but the datamodule holds {held} and gives none; if the target holds values "
        "to predict, set --data.task regression, otherwise choose the task that fits them"
    )


def single_class(where: str) -> str:
    """The message for data that holds one class only.

    Args:
        where: What holds it (a file and column, or a class name).

    Returns:
        One sentence saying a classifier needs two classes and where to look.
    """
    return (
        f"{where} holds a single class; a classifier needs at least two: check the target column (or the split "
        "that left one class), or set --data.task regression for values to predict"
    )
