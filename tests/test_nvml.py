"""Dropping torch's NVML probe when NVML is missing changes no answer."""

from __future__ import annotations

import os

import torch

from lit_nn.tasks.nvml import NVML_CHECK, _nvml_missing, drop_futile_nvml_check, restore_nvml_check


def test_dropping_the_nvml_check_changes_no_answer(monkeypatch):
    monkeypatch.setenv(NVML_CHECK, "1")
    available = torch.cuda.is_available()
    removed = drop_futile_nvml_check()
    assert torch.cuda.is_available() == available
    assert (removed, os.environ.get(NVML_CHECK)) == (("1", None) if _nvml_missing() else (None, "1"))
    restore_nvml_check(removed)
    assert os.environ[NVML_CHECK] == "1"
