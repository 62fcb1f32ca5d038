"""Dropping torch's NVML probe when NVML is missing changes no answer."""

from __future__ import annotations

import os

import torch

from lit_nn.callbacks.nvml import NVML_CHECK, _nvml_missing, drop_futile_nvml_check, restore_nvml_check


def test_dropping_the_nvml_check_changes_no_answer(monkeypatch):
    monkeypatch.setenv(NVML_CHECK, "1")
    available = torch.cuda.is_available()
    removed = drop_futile_nvml_check()
    assert torch.cuda.is_available() == available
    assert (removed, os.environ.get(NVML_CHECK)) == (("1", None) if _nvml_missing() else (None, "1"))
    restore_nvml_check(removed)
    assert os.environ[NVML_CHECK] == "1"


def test_the_callback_drops_the_variable_for_the_run_and_puts_it_back(monkeypatch, tmp_path):
    from lightning.pytorch import Callback, Trainer
    from lightning.pytorch.demos.boring_classes import BoringModel

    from lit_nn.callbacks.nvml import SkipFutileNvmlCheck

    monkeypatch.setenv(NVML_CHECK, "1")
    seen = []

    class Look(Callback):
        def on_train_start(self, trainer, pl_module):
            seen.append(os.environ.get(NVML_CHECK))

    Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
            enable_model_summary=False, default_root_dir=tmp_path,
            callbacks=[SkipFutileNvmlCheck(), Look()]).fit(BoringModel())  # fmt: skip
    assert seen == [None if _nvml_missing() else "1"]
    assert os.environ[NVML_CHECK] == "1"
