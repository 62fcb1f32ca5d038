"""Lazy registrations: names listed without importing, factories imported on first use."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
import types

import pytest

import lit_nn
from lit_nn.errors import PluginLoadError
from lit_nn.lazy import LazyFactory, LazyTargetError, lazy
from lit_nn.registry import build_registry

HEAVY = ("torch", "lightning", "torchvision", "torchmetrics")


@pytest.fixture
def lazy_module(tmp_path, monkeypatch):
    """A module on sys.path, not yet imported, holding factories of each kind."""
    name = f"lazy_target_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            from torch import nn

            def cube(scale: float = 1.0):
                return nn.Identity() if scale == 0 else _Cube(scale)

            class _Cube(nn.Module):
                def __init__(self, scale):
                    super().__init__()
                    self.scale = scale

                def forward(self, x):
                    return self.scale * x**3

            def widen(input_shape, output_size, activation, dropout, width=8):
                return nn.Sequential(nn.Flatten(), nn.Linear(input_shape[0], width), activation(),
                                     nn.Linear(width, output_size))

            NOT_CALLABLE = 3
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def plugin_with(**hooks):
    """A plugin object whose hooks return the given dicts."""
    namespace = types.ModuleType("lazy_fixture")
    for kind, result in hooks.items():

        def hook(result=result):
            return result

        hook.__name__ = f"lit_nn_register_{kind}"
        setattr(namespace, hook.__name__, lit_nn.hookimpl(hook))
    return namespace


def test_a_lazy_factory_imports_its_target_only_when_used(lazy_module):
    factory = lazy(f"{lazy_module}:cube")
    assert repr(factory) == f"lazy('{lazy_module}:cube')" and lazy_module not in sys.modules
    target = factory.resolve()
    assert lazy_module in sys.modules and target is sys.modules[lazy_module].cube
    assert list(inspect.signature(target).parameters) == ["scale"]
    assert target(scale=2.0).scale == 2.0


def test_bound_arguments_come_first_and_leave_the_signature(lazy_module):
    factory = lazy(f"{lazy_module}:widen", width=5)
    target = factory.resolve()
    assert "width" in inspect.signature(target).parameters  # partial keeps it, with the new default
    assert inspect.signature(target).parameters["width"].default == 5
    net = target(input_shape=(3,), output_size=2, activation=lambda: __import__("torch").nn.ReLU(), dropout=0.0)
    assert net[1].out_features == 5
    assert repr(factory) == f"lazy('{lazy_module}:widen', width=5)"


@pytest.mark.parametrize("target", ["no_colon", ":attr", "module:", ""])
def test_a_malformed_target_is_refused_at_once(target):
    with pytest.raises(ValueError, match="must be 'package.module:attribute'"):
        lazy(target)


def test_a_missing_target_says_what_could_not_be_imported():
    factory = LazyFactory("lit_nn.models.activations:no_such_thing")
    with pytest.raises(LazyTargetError, match=r"cannot import 'lit_nn.models.activations:no_such_thing'.*Attribute"):
        factory.resolve()


def test_the_registry_lists_lazy_names_and_imports_on_first_use(lazy_module):
    registry = build_registry(
        plugins=[plugin_with(activations={"cube": lazy(f"{lazy_module}:cube")})], autoload=False, strict=True
    )
    assert "cube" in registry.names("activations")
    entry = registry.entry("activations", "cube")
    assert entry.target == f"{lazy_module}.cube"
    assert lazy_module not in sys.modules
    assert registry.create("activations", "cube", scale=3.0).scale == 3.0
    with pytest.raises(Exception, match="unknown argument 'scal'"):
        registry.create("activations", "cube", scal=3.0)


@pytest.mark.parametrize(
    ("kind", "target", "problem"),
    [
        ("losses", "no_such_module_xyz:Loss", "cannot import 'no_such_module_xyz:Loss': ModuleNotFoundError"),
        ("backbones", "{module}:NOT_CALLABLE", "is 3, which is not callable"),
        ("datamodules", "{module}:cube", "not a LightningDataModule subclass"),
    ],
)
def test_a_broken_lazy_target_names_the_plugin_when_used(lazy_module, kind, target, problem):
    registry = build_registry(
        plugins=[plugin_with(**{kind: {"broken": lazy(target.format(module=lazy_module))}})], autoload=False
    )
    assert registry.names(kind) == sorted([*build_registry(autoload=False).names(kind), "broken"])
    with pytest.raises(PluginLoadError) as info:
        registry.get(kind, "broken")
    message = str(info.value)
    assert message.startswith("Error loading lit_nn plugin 'lazy_fixture': its ")
    assert problem in message
    assert message.endswith("disable it with LIT_NN_DISABLE_PLUGINS=lazy_fixture.")


def test_every_builtin_resolves_to_a_usable_factory():
    registry = build_registry(autoload=False, strict=True)
    for kind in ("activations", "losses", "backbones", "datamodules"):
        for entry in registry.entries(kind):
            assert isinstance(entry.registered, LazyFactory), f"{kind} {entry.name} is imported eagerly"
            assert callable(entry.factory)
            assert entry.target.startswith("lit_nn.models.") or entry.target.startswith("lit_nn.data.")


@pytest.mark.parametrize("argv", [["--help"], ["plugins"], ["--version"]])
def test_listing_commands_import_no_heavy_package(argv):
    code = (
        "import sys\n"
        "from lit_nn.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"print('HEAVY:', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "HEAVY: []", out
