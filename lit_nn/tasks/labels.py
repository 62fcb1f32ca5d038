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


def check_size(task: str, argument: str, model: Any, data: Any) -> None:  # noqa: ANN401
    """Refuse data whose class or target count is not the model's.

    Args:
        task: The task's class name, for the message.
        argument: ``num_classes`` or ``num_targets``.
        model: The model's value.
        data: The datamodule's value (``None``: it does not say).

    Raises:
        LabelError: On a mismatch, naming both counts.
    """
    if data is not None and data != model:
        raise LabelError(
            f"the datamodule has {argument}={data} but {task} was built with {argument}={model}; set them equal "
            "(the CLI links them when the model's value is not given)"
        )
