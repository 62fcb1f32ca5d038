"""The configs shipped in the package: every file under configs/, by name, from anywhere."""

from __future__ import annotations

import pytest

from lit_nn.cli.shipped_configs import config_file, description, shipped_configs
from lit_nn.errors import ConfigError
from tests.conftest import ROOT


def test_every_file_under_configs_is_shipped_by_its_name():
    expected = {p.relative_to(ROOT / "configs").with_suffix("").as_posix() for p in (ROOT / "configs").rglob("*.yaml")}
    shipped = shipped_configs()
    assert set(shipped) == expected
    assert all(path.read_text() == (ROOT / "configs" / f"{name}.yaml").read_text() for name, path in shipped.items())


def test_descriptions_are_the_first_sentence_of_the_opening_comment():
    assert description(ROOT / "configs/trainer/cpu.yaml") == "Train on the CPU"
    text = description(ROOT / "configs/digits.yaml", width=40)
    assert len(text) <= 40 and text.endswith("…")


def test_a_value_names_a_file_a_shipped_config_or_yaml_text(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yaml").write_text("trainer: {}\n")
    assert config_file("mine.yaml") == "mine.yaml"
    assert config_file("digits") == str(shipped_configs()["digits"])
    assert config_file("trainer/debug.yaml") == str(shipped_configs()["trainer/debug"])
    assert config_file("{trainer: {max_epochs: 1}}") == "{trainer: {max_epochs: 1}}"


def test_a_missing_file_is_named_with_the_shipped_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        ConfigError, match=r"config file nowhere/x\.yaml does not exist.*Shipped configs: breast_cancer"
    ):
        config_file("nowhere/x.yaml")
    with pytest.raises(ConfigError, match=r"Did you mean 'diabetes'"):
        config_file("diabete")
