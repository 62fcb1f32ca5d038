"""The registry: discovery through real entry points, provenance, and every error path."""

from __future__ import annotations

import sys
import types

import pytest
import torch
from torch import nn

import lit_nn
from lit_nn.builtins import BUILTIN_PLUGINS
from lit_nn.errors import (
    DuplicateNameError,
    InvalidArgumentsError,
    PluginConfigError,
    PluginLoadError,
    PluginLoadWarning,
    UnknownNameError,
)
from lit_nn.registry import KINDS, Registry, build_registry, default_registry, hook_name


def plugin(registry, name):
    return next(p for p in registry.plugins if p.name == name)


# --- built-ins ---------------------------------------------------------------------------------


def test_builtins_are_registered_through_the_same_hooks():
    registry = build_registry(autoload=False)
    pm = registry.plugin_manager
    for module_name in BUILTIN_PLUGINS:
        module = sys.modules[module_name]
        assert pm.get_plugin(module_name) is module
        assert pm.get_hookcallers(module), f"{module_name} implements no hook"
    impls = {impl.plugin_name for impl in pm.hook.lit_nn_register_activations.get_hookimpls()}
    assert "lit_nn.builtins.activations" in impls
    info = plugin(registry, "lit_nn.builtins.losses")
    assert (info.builtin, info.distribution, info.version) == (True, "lit_nn", lit_nn.__version__)
    assert registry.entry("losses", "mse").plugin is info


def test_required_builtin_names_exist():
    registry = build_registry(autoload=False)
    assert {"identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "silu", "softplus", "mish"} <= set(
        registry.names("activations")
    )
    assert {"mse", "l1", "huber", "smooth_l1", "bce_with_logits", "cross_entropy", "focal"} <= set(
        registry.names("losses")
    )


# --- discovery and one test per hook -----------------------------------------------------------


def test_discovery_through_entry_point_records_provenance(use_plugins):
    use_plugins("good")
    registry = build_registry()
    info = plugin(registry, "good")
    assert info.status == "loaded"
    assert (info.distribution, info.version, info.entry_point) == ("litnn-fixture-good", "1.2.3", "litnn_fixture_good")
    assert info.registers == {
        "activations": ["fixture_swish"],
        "losses": ["fixture_pinball"],
        "backbones": ["fixture_linear"],
        "datamodules": ["fixture_blobs"],
    }
    entry = registry.entry("activations", "fixture_swish")
    assert entry.plugin is info and entry.kind == "activations" and entry.name == "fixture_swish"
    assert "entry point 'good = litnn_fixture_good' in litnn-fixture-good 1.2.3" in info.describe()


def test_without_the_path_the_fixture_plugin_is_not_found():
    registry = build_registry()
    assert "good" not in {p.name for p in registry.plugins}
    assert "fixture_swish" not in registry.names("activations")


def test_hook_lit_nn_register_activations(use_plugins):
    use_plugins("good")
    swish = build_registry().create("activations", "fixture_swish", beta=2.0)
    x = torch.tensor([-1.0, 0.0, 1.0])
    torch.testing.assert_close(swish(x), x * torch.sigmoid(2 * x))


def test_hook_lit_nn_register_losses(use_plugins):
    use_plugins("good")
    pinball = build_registry().create("losses", "fixture_pinball", quantile=0.9)
    value = pinball(torch.tensor([0.0, 0.0]), torch.tensor([1.0, -1.0]))
    assert value.item() == pytest.approx((0.9 * 1 + 0.1 * 1) / 2)


def test_hook_lit_nn_register_backbones(use_plugins):
    use_plugins("good")
    registry = build_registry()
    activation = registry.get("activations", "tanh")
    net = registry.create(
        "backbones", "fixture_linear", input_shape=(3, 2), output_size=4, activation=activation, dropout=0.0
    )
    assert net(torch.randn(5, 3, 2)).shape == (5, 4)
    assert any(isinstance(m, nn.Tanh) for m in net.modules())


def test_hook_lit_nn_register_datamodules(use_plugins):
    use_plugins("good")
    datamodule = build_registry().create("datamodules", "fixture_blobs", batch_size=8)
    assert datamodule.input_shape == (2,) and datamodule.num_classes == 2
    datamodule.setup("fit")
    x, y = next(iter(datamodule.train_dataloader()))
    assert x.shape == (8, 2) and set(y.tolist()) == {0, 1}


def test_hook_lit_nn_register_tasks(use_plugins):
    use_plugins("task")
    registry = build_registry()
    entry = registry.entry("tasks", "MedianTask")
    assert entry.plugin.name == "fixture_task" and entry.target == "litnn_fixture_task.MedianTask"
    assert "MedianTask" in registry.names("tasks") and "RegressionTask" in registry.names("tasks")
    task = registry.create("tasks", "MedianTask", num_targets=1, input_shape=[3])
    assert "L1Loss" in repr(task.criterion) and task.kind == "regression"
    loss, preds, target = task.model_step((torch.randn(4, 3), torch.randn(4)))
    assert loss.dim() == 0 and preds.shape == target.shape == (4,)


@pytest.mark.parametrize(
    ("name", "registered", "expected"),
    [
        ("median_task", "litnn_fixture_task:MedianTask", "registered the name 'median_task'; task names are class"),
        ("MedianTask", nn.Linear, "registered 'MedianTask' as <class 'torch.nn.modules.linear.Linear'>, not a Lightn"),
    ],
)
def test_task_names_are_class_names_of_lightning_modules(use_plugins, name, registered, expected):
    use_plugins("task")
    from lit_nn.lazy import lazy

    bad = types.ModuleType("bad_tasks")
    factory = lazy(registered) if isinstance(registered, str) else registered
    bad.lit_nn_register_tasks = lit_nn.hookimpl(lambda: {name: factory})
    with pytest.warns(PluginLoadWarning, match=expected):
        registry = build_registry(plugins=[bad], autoload=False)
    assert name not in registry.names("tasks") and plugin(registry, "bad_tasks").status == "failed"


def test_extra_plugin_objects_give_an_isolated_registry():
    extra = types.ModuleType("in_memory")
    extra.lit_nn_register_losses = lit_nn.hookimpl(lambda: {"half_mse": nn.MSELoss})
    registry = build_registry(plugins=[extra], autoload=False)
    assert registry.entry("losses", "half_mse").plugin.name == "in_memory"
    assert "half_mse" not in build_registry(autoload=False).names("losses")


def test_default_registry_is_built_once():
    assert default_registry() is default_registry()


# --- unknown names and arguments ---------------------------------------------------------------


def test_unknown_name_lists_sorted_names_suggestions_and_command():
    registry = build_registry(autoload=False)
    with pytest.raises(UnknownNameError) as info:
        registry.get("activations", "lealy_relu")
    message = str(info.value)
    assert message.startswith("Unknown activation 'lealy_relu'.")
    assert "Did you mean 'leaky_relu'" in message
    names = registry.names("activations")
    assert names == sorted(names)
    assert f"Available activations: {', '.join(names)}." in message
    assert "`lit-nn plugins --kind activations`" in message


def test_unknown_name_in_an_empty_kind_says_so():
    registry = Registry({}, [], build_registry(autoload=False).plugin_manager)
    with pytest.raises(UnknownNameError, match="Available backbones: none \\(no plugin registers backbones\\)"):
        registry.get("backbones", "mlp")


def test_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="Unknown registry kind 'activation'"):
        build_registry(autoload=False).names("activation")


def test_unknown_argument_names_accepted_ones_and_suggests():
    registry = build_registry(autoload=False)
    with pytest.raises(InvalidArgumentsError) as info:
        registry.create("activations", "leaky_relu", slope=0.1)
    message = str(info.value)
    assert "activation 'leaky_relu' got an unknown argument 'slope'" in message
    assert "Did you mean 'negative_slope'?" in message
    assert "It accepts: negative_slope, inplace." in message


def test_missing_required_argument(use_plugins):
    use_plugins("good")
    with pytest.raises(InvalidArgumentsError, match="backbone 'fixture_linear' needs the argument.*output_size"):
        build_registry().create("backbones", "fixture_linear", input_shape=(2,), activation=nn.ReLU, dropout=0.0)


def test_rejected_value_keeps_the_factory_message():
    with pytest.raises(InvalidArgumentsError, match="loss 'huber' rejected its arguments: delta must be positive"):
        build_registry(autoload=False).create("losses", "huber", delta=-1.0)


# --- duplicates --------------------------------------------------------------------------------


def test_same_name_from_two_plugins_names_both_and_the_way_out(use_plugins):
    use_plugins("good", "twin")
    with pytest.raises(DuplicateNameError) as info:
        build_registry()
    message = str(info.value)
    assert "activation 'fixture_swish' is registered twice" in message
    assert "'good' (entry point 'good = litnn_fixture_good' in litnn-fixture-good 1.2.3)" in message
    assert "'twin' (entry point 'twin = litnn_fixture_twin' in litnn-fixture-twin 0.4.0)" in message
    assert "LIT_NN_DISABLE_PLUGINS=good or LIT_NN_DISABLE_PLUGINS=twin" in message
    assert "pip uninstall litnn-fixture-good" in message


def test_disabling_one_resolves_a_duplicate(use_plugins, monkeypatch):
    use_plugins("good", "twin")
    monkeypatch.setenv("LIT_NN_DISABLE_PLUGINS", "twin")
    registry = build_registry()
    assert registry.entry("activations", "fixture_swish").plugin.name == "good"
    assert "fixture_twin_only" not in registry.names("activations")
    twin = plugin(registry, "twin")
    assert (twin.status, twin.reason) == ("disabled", "disabled by LIT_NN_DISABLE_PLUGINS")


def test_shadowing_a_builtin_is_an_error(use_plugins):
    use_plugins("shadow")
    with pytest.raises(DuplicateNameError) as info:
        build_registry()
    message = str(info.value)
    assert "loss 'mse' is registered twice: by built-in plugin 'lit_nn.builtins.losses' (lit_nn" in message
    assert "plugin 'shadow'" in message and "Built-in names cannot be replaced." in message
    assert "LIT_NN_DISABLE_PLUGINS=shadow" in message and "lit_nn.builtins" not in message.split("Disable")[1]


def test_two_distributions_with_one_plugin_name(use_plugins):
    use_plugins("good", "samename")
    with pytest.warns(PluginLoadWarning, match="the plugin name is also used by plugin 'good'"):
        registry = build_registry()
    assert "fixture_swish" in registry.names("activations")
    assert "fixture_samename" not in registry.names("activations")


# --- broken plugins ----------------------------------------------------------------------------


def test_plugin_failing_on_import_warns_and_the_rest_load(use_plugins):
    use_plugins("broken", "good")
    with pytest.warns(PluginLoadWarning) as record:
        registry = build_registry()
    (message,) = [str(w.message) for w in record]
    assert "plugin 'broken' (entry point 'broken = litnn_fixture_broken' in litnn-fixture-broken 0.0.1)" in message
    assert "ModuleNotFoundError: No module named 'litnn_fixture_dependency_that_is_not_installed'" in message
    assert "LIT_NN_DISABLE_PLUGINS=broken" in message
    assert "fixture_swish" in registry.names("activations")
    assert [p.name for p in registry.failures] == ["broken"]


def test_hook_that_raises_drops_the_whole_plugin(use_plugins):
    use_plugins("raising")
    with pytest.warns(PluginLoadWarning, match="lit_nn_register_losses\\(\\) raised RuntimeError: the loss table"):
        registry = build_registry()
    assert "fixture_raising_ok" not in registry.names("activations")
    assert plugin(registry, "raising").status == "failed"
    assert registry.plugin_manager.get_plugin("raising") is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "typo",
            "implements 'lit_nn_register_activation', which is not a lit_nn hook. Did you mean "
            "'lit_nn_register_activations'",
        ),
        ("unmarked", "implements no lit_nn hook; mark functions"),
        ("wrong_args", "Argument(s) {'config'} are declared in the hookimpl"),
        ("returns_list", "lit_nn_register_activations() returned list, not a dict"),
        ("returns_none", "lit_nn_register_losses() returned None"),
        ("bad_name", "registered the name 'Fixture-Bad'; names must be lower case"),
        ("not_callable", "registered 'fixture_not_callable' as 3.5, which is not callable"),
        ("not_datamodule", "not a LightningDataModule subclass"),
        ("missing_attr", "AttributeError"),
    ],
)
def test_contract_violations_are_reported(use_plugins, monkeypatch, name, expected):
    use_plugins("misc")
    monkeypatch.setenv("LIT_NN_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("LIT_NN_PLUGINS", name)
    with pytest.warns(PluginLoadWarning) as record:
        registry = build_registry()
    (message,) = [str(w.message) for w in record]
    assert f"plugin '{name}' (entry point '{name} = litnn_fixture_misc:" in message
    assert expected in message
    assert plugin(registry, name).status == "failed"
    assert not any(n.startswith("fixture_") for kind in KINDS for n in registry.names(kind))


# --- strict mode -------------------------------------------------------------------------------


def test_strict_mode_from_the_environment_raises(use_plugins, monkeypatch):
    use_plugins("broken")
    monkeypatch.setenv("LIT_NN_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError, match="Error loading lit_nn plugin 'broken'.*ModuleNotFoundError"):
        build_registry()


def test_strict_argument_overrides_the_environment(use_plugins, monkeypatch):
    use_plugins("raising")
    monkeypatch.setenv("LIT_NN_STRICT_PLUGINS", "0")
    with pytest.raises(PluginLoadError, match="raised RuntimeError"):
        build_registry(strict=True)


def test_malformed_flag_value_is_refused(monkeypatch):
    monkeypatch.setenv("LIT_NN_STRICT_PLUGINS", "maybe")
    with pytest.raises(
        PluginConfigError, match="LIT_NN_STRICT_PLUGINS='maybe' is not a yes/no value; set it to 1 or 0"
    ):
        build_registry()


# --- disabling and autoload --------------------------------------------------------------------


def test_disable_by_distribution_name(use_plugins, monkeypatch):
    use_plugins("broken", "good")
    monkeypatch.setenv("LIT_NN_DISABLE_PLUGINS", " litnn_fixture_broken , ")
    registry = build_registry()  # no warning: the broken plugin is never imported
    assert plugin(registry, "broken").status == "disabled"
    assert "fixture_swish" in registry.names("activations")


@pytest.mark.parametrize("name", ["lit_nn", "lit-nn", "lit_nn.builtins.activations"])
def test_builtins_cannot_be_disabled(monkeypatch, name):
    monkeypatch.setenv("LIT_NN_DISABLE_PLUGINS", name)
    with pytest.raises(PluginConfigError, match=f"names '{name}', which is built into lit_nn; built-in plugins cannot"):
        build_registry()


def test_disabling_an_unknown_plugin_warns_with_suggestion(use_plugins):
    use_plugins("good")
    with pytest.warns(PluginLoadWarning, match="names 'goood', which is not an installed plugin. Did you mean 'good'"):
        registry = build_registry(disable=["goood"])
    assert plugin(registry, "good").status == "loaded"


def test_autoload_off_loads_builtins_only(use_plugins, monkeypatch):
    use_plugins("good", "broken")
    monkeypatch.setenv("LIT_NN_DISABLE_PLUGIN_AUTOLOAD", "1")
    registry = build_registry()
    assert {p.name for p in registry.plugins if p.status == "loaded"} == set(BUILTIN_PLUGINS)
    assert plugin(registry, "good").status == "not loaded"
    assert "relu" in registry.names("activations")


def test_autoload_off_with_listed_plugins(use_plugins, monkeypatch):
    use_plugins("good", "twin")
    monkeypatch.setenv("LIT_NN_DISABLE_PLUGIN_AUTOLOAD", "true")
    monkeypatch.setenv("LIT_NN_PLUGINS", "twin")
    registry = build_registry()
    assert registry.entry("activations", "fixture_swish").plugin.name == "twin"
    assert plugin(registry, "good").status == "not loaded"


def test_listing_a_plugin_that_is_not_installed_warns(monkeypatch):
    monkeypatch.setenv("LIT_NN_PLUGINS", "nowhere")
    with pytest.warns(PluginLoadWarning, match="plugin 'nowhere': LIT_NN_PLUGINS lists it but no installed"):
        registry = build_registry(autoload=False)
    assert plugin(registry, "nowhere").status == "failed"


def test_hook_name_matches_kinds():
    assert [hook_name(k) for k in KINDS] == [
        "lit_nn_register_activations",
        "lit_nn_register_losses",
        "lit_nn_register_backbones",
        "lit_nn_register_datamodules",
        "lit_nn_register_tasks",
    ]
