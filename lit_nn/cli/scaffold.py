"""``lit-nn plugins new NAME``: write a plugin package that installs and is found at once."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from lit_nn.errors import LitNNError

NAME = re.compile(r"^[a-z][a-z0-9_-]*$")

PYPROJECT = Template("""[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "A lit_nn plugin."
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["lit_nn", "scikit-learn"]

# lit_nn finds plugins through this entry-point group; "$entry" is the plugin name users see in
# `lit-nn plugins` and pass to LIT_NN_DISABLE_PLUGINS.
[project.entry-points.lit_nn]
$entry = "$module.plugin"

[tool.setuptools.packages.find]
where = ["src"]
""")

PLUGIN = Template('''"""$dist: the hooks lit_nn calls. Each returns name -> factory.

Registered lazily, by import path: lit_nn imports this module for every command (`lit-nn plugins`,
a misspelt name's suggestions), so it imports nothing heavy; components.py, with torch, Lightning
and scikit-learn, is imported only when a run first uses one of its names (docs/plugins.md,
"Registering lazily").
"""

from __future__ import annotations

import lit_nn
from lit_nn.lazy import lazy


@lit_nn.hookimpl
def lit_nn_register_activations() -> dict[str, object]:
    return {"${prefix}_relu_squared": lazy("$module.components:ReluSquared")}


@lit_nn.hookimpl
def lit_nn_register_losses() -> dict[str, object]:
    return {"${prefix}_log_cosh": lazy("$module.components:LogCosh")}


@lit_nn.hookimpl
def lit_nn_register_backbones() -> dict[str, object]:
    return {"${prefix}_wide_mlp": lazy("$module.components:wide_mlp")}


@lit_nn.hookimpl
def lit_nn_register_datamodules() -> dict[str, object]:
    return {"${prefix}_circles": lazy("$module.components:Circles")}
''')

COMPONENTS = Template('''"""$dist: the examples plugin.py registers. Replace them with your own."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from sklearn.datasets import make_circles
from torch import Tensor, nn

from lit_nn.data.arrays import ArrayDataModule


class ReluSquared(nn.Module):
    """Example activation: ``max(0, x)²``."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(x) ** 2


class LogCosh(nn.Module):
    """Example loss: ``log(cosh(prediction - target))``, like MSE near 0 and like L1 far away."""

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        error = prediction - target.reshape(prediction.shape).to(prediction.dtype)
        return (error + nn.functional.softplus(-2 * error) - math.log(2)).mean()


def wide_mlp(
    input_shape: Sequence[int], output_size: int, activation: Callable[[], nn.Module], dropout: float, width: int = 64
) -> nn.Module:
    """Example backbone: one wide hidden layer. lit_nn passes the first four arguments."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(math.prod(input_shape), width),
        activation(),
        nn.Dropout(dropout),
        nn.Linear(width, output_size),
    )


class Circles(ArrayDataModule):
    """Example datamodule: two concentric circles (binary). ArrayDataModule splits, scales and batches
    the arrays given to set_arrays (docs/plugins.md, "Datamodules from arrays")."""

    def __init__(self, num_samples: int = 600, noise: float = 0.05, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if num_samples < 10:
            raise ValueError(f"num_samples must be at least 10, got {num_samples}")
        x, y = make_circles(num_samples, noise=noise, factor=0.5, random_state=self.seed)
        self.set_arrays(x, y, "binary")
''')

TESTS = Template('''"""Tests of $dist: the hooks in an isolated registry, then the installed entry point."""

import torch

from lit_nn.registry import build_registry
from $module import plugin


def test_hooks_in_an_isolated_registry():
    registry = build_registry(plugins=[plugin], autoload=False, strict=True)
    activation = registry.create("activations", "${prefix}_relu_squared")
    torch.testing.assert_close(activation(torch.tensor([-2.0, 3.0])), torch.tensor([0.0, 9.0]))
    loss = registry.create("losses", "${prefix}_log_cosh")
    assert loss(torch.zeros(4), torch.zeros(4)).item() == 0.0
    net = registry.create(
        "backbones", "${prefix}_wide_mlp", input_shape=(2,), output_size=1, activation=torch.nn.ReLU, dropout=0.0
    )
    assert net(torch.randn(3, 2)).shape == (3, 1)
    data = registry.create("datamodules", "${prefix}_circles")
    assert data.input_shape == (2,) and data.num_classes == 2


def test_found_through_the_installed_entry_point():
    entry = build_registry(strict=True).entry("activations", "${prefix}_relu_squared")
    assert (entry.plugin.name, entry.plugin.distribution) == ("$entry", "$dist")
''')

README = Template("""# $dist

A plugin for lit_nn (the PyTorch Lightning template: `pip show lit_nn` says where it is installed
from; its docs/plugins.md says how plugins work). It registers, through lit_nn's hooks, lazily
(`src/$module/plugin.py` names them; `components.py` holds them):

| kind | name |
| --- | --- |
| activation | `${prefix}_relu_squared` |
| loss | `${prefix}_log_cosh` |
| backbone | `${prefix}_wide_mlp` |
| datamodule | `${prefix}_circles` |

```console
pip install -e .            # lit_nn finds it at once through the entry point "$entry"
lit-nn plugins              # lists it with its version
lit-nn fit --model BinaryClassificationTask --data ${prefix}_circles \\
    --model.backbone ${prefix}_wide_mlp --model.activation ${prefix}_relu_squared
pytest tests
```

Disable it without uninstalling: `LIT_NN_DISABLE_PLUGINS=$entry lit-nn ...`.
""")


class ScaffoldError(LitNNError):
    """A plugin skeleton that cannot be written."""


def new_plugin(name: str, directory: Path) -> Path:
    """Write a plugin package skeleton.

    Args:
        name: Plugin name: lower case letters, digits, ``-`` and ``_``, starting with a letter.
            The distribution is ``lit-nn-<name>``, the module ``lit_nn_<name>``, the entry point
            ``<name>`` and the registered names start with ``<name>_``.
        directory: Where to create the package folder.

    Returns:
        The new package folder.

    Raises:
        ScaffoldError: For an invalid name or an existing folder (nothing is overwritten).
    """
    if not NAME.match(name):
        raise ScaffoldError(
            f"plugin name {name!r} must be lower case letters, digits, '-' or '_', starting with a letter"
        )
    prefix = name.replace("-", "_")
    values = {"dist": f"lit-nn-{name}", "module": f"lit_nn_{prefix}", "entry": prefix, "prefix": prefix}
    root = Path(directory) / values["dist"]
    if root.exists():
        raise ScaffoldError(f"{root} already exists; choose another name or --dir (nothing was changed)")
    package = root / "src" / values["module"]
    files = {
        root / "pyproject.toml": PYPROJECT,
        root / "README.md": README,
        package / "plugin.py": PLUGIN,
        package / "components.py": COMPONENTS,
        root / "tests" / "test_plugin.py": TESTS,
    }
    try:
        package.mkdir(parents=True)
        (root / "tests").mkdir()
        (package / "__init__.py").write_text(f'"""{values["dist"]}: a lit_nn plugin."""\n')
        for path, template in files.items():
            path.write_text(template.substitute(values))
    except OSError as exc:
        raise ScaffoldError(f"cannot write the plugin under {directory}: {exc.strerror or exc}") from exc
    return root
