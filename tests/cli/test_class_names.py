"""Registry names inside jsonargparse's own class resolution: every route that reads a class."""

from __future__ import annotations

import pytest
from jsonargparse import ActionConfigFile, ArgumentParser
from lightning.pytorch import LightningDataModule, LightningModule

import lit_nn.tasks  # noqa: F401  (task classes resolve by their short names)
from lit_nn.cli import class_names
from lit_nn.errors import UnknownNameError
from lit_nn.registry import build_registry, default_registry


@pytest.fixture
def parser() -> ArgumentParser:
    class_names.install()
    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("-c", "--config", action=ActionConfigFile)
    parser.add_subclass_arguments(LightningDataModule, "data", required=False)
    parser.add_subclass_arguments(LightningModule, "model", required=False)
    return parser


def test_every_registered_datamodule_resolves_to_its_registered_target():
    class_names.install()
    registry = default_registry()
    for entry in registry.entries("datamodules"):
        assert class_names.resolve_class_path(LightningDataModule, entry.name, registry) == entry.target


def test_class_names_and_import_paths_still_resolve_as_jsonargparse_does():
    class_names.install()
    assert class_names.resolve_class_path(LightningModule, "RegressionTask") == "lit_nn.tasks.RegressionTask"
    assert class_names.resolve_class_path(LightningDataModule, "a.b.C") == "a.b.C"  # import paths untouched


def test_unknown_names_list_what_there_is():
    class_names.install()
    with pytest.raises(UnknownNameError, match=r"Unknown datamodule 'digts'\. Did you mean 'digits'"):
        class_names.resolve_class_path(LightningDataModule, "digts")
    with pytest.raises(UnknownNameError, match=r"Unknown model 'RegresionTask'\. Did you mean 'RegressionTask'"):
        class_names.resolve_class_path(LightningModule, "RegresionTask")


def test_a_plugin_datamodule_is_a_name_too(use_plugins):
    use_plugins("good")
    registry = build_registry()
    target = class_names.resolve_class_path(LightningDataModule, "fixture_blobs", registry)
    assert target == "litnn_fixture_good.Blobs"


def test_names_on_the_command_line_in_files_and_in_included_files(parser, tmp_path):
    assert parser.parse_args(["--data", "digits"]).data.class_path == "lit_nn.data.bundled.Digits"
    (tmp_path / "data.yaml").write_text("class_path: breast_cancer\ninit_args:\n  batch_size: 8\n")
    (tmp_path / "main.yaml").write_text("model: BinaryClassificationTask\ndata: data.yaml\n")
    config = parser.parse_args(["-c", str(tmp_path / "main.yaml")])
    assert config.data.class_path == "lit_nn.data.bundled.BreastCancer" and config.data.init_args.batch_size == 8
    assert config.model.class_path == "lit_nn.tasks.BinaryClassificationTask"


def test_install_is_idempotent():
    from lit_nn import compat

    class_names.install()
    class_names.install()
    assert compat.hook_class_path_resolution(class_names.resolve_class_path) is class_names.resolve_class_path
    assert compat.resolve_class_path_by_name(LightningModule, "BinaryClassificationTask") == (
        "lit_nn.tasks.BinaryClassificationTask"
    )
