"""The plugin example in docs/plugins.md works as written."""

from __future__ import annotations

import json
import re
import types

import pytest
import torch

from lit_nn.errors import InvalidArgumentsError
from lit_nn.registry import build_registry
from tests.conftest import ROOT


def python_blocks(path):
    return re.findall(r"```python\n(.*?)```", (ROOT / path).read_text(), flags=re.S)


def test_plugin_example_registers_and_trains_a_gradient():
    module = types.ModuleType("my_lit_nn_plugin")
    exec(compile(python_blocks("docs/plugins.md")[0], "docs/plugins.md", "exec"), module.__dict__)
    registry = build_registry(plugins=[module], autoload=False, strict=True)
    assert registry.entry("activations", "mylab_snake").plugin.name == "my_lit_nn_plugin"
    snake = registry.create("activations", "mylab_snake", a=2.0)
    x = torch.linspace(-3, 3, 7, requires_grad=True)
    snake(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    with pytest.raises(InvalidArgumentsError, match="a must be positive"):
        registry.create("activations", "mylab_snake", a=0.0)


def test_documented_environment_variables_exist():
    text = (ROOT / "docs/plugins.md").read_text()
    source = (ROOT / "lit_nn/plugin_loader.py").read_text() + (ROOT / "lit_nn/cli/errors.py").read_text()
    for variable in set(re.findall(r"LIT_NN_[A-Z_]+", text)):
        assert variable in source, f"docs/plugins.md documents {variable}, which the code does not read"


def test_readme_quotes_the_current_accuracy_table():
    accuracy = (ROOT / "docs/accuracy.md").read_text()
    table = accuracy[accuracy.index("| data |") :].strip()
    assert table in (ROOT / "README.md").read_text(), "copy docs/accuracy.md's table into the README"


def test_sweeps_doc_quotes_the_measured_sweep_benchmark():
    measured = json.loads((ROOT / "benchmarks/results/sweep.json").read_text())
    text = (ROOT / "docs/sweeps.md").read_text()
    assert not measured["quick"] and measured["table"] in text, "copy benchmarks/results/sweep.json's table"
    assert f"Machine: {measured['machine']}" in text


def test_readme_starts_with_the_two_setup_commands():
    first_block = (ROOT / "README.md").read_text().split("```")[1]
    assert "make demo" in first_block and "make test" in first_block


def test_docs_name_every_shipped_config():
    text = (ROOT / "docs/cli.md").read_text()
    for path in (ROOT / "configs").rglob("*.yaml"):
        name = path.relative_to(ROOT / "configs").with_suffix("").as_posix()
        assert f"`{name}`" in text, f"docs/cli.md does not describe the shipped config {name}"


def test_the_readme_says_how_to_reach_lit_nn_after_make_demo():
    readme = (ROOT / "README.md").read_text()
    tour = readme.index("$ lit-nn configs")
    assert "source .venv/bin/activate" in readme[:tour] and ".venv/bin/lit-nn" in readme[:tour]


def test_the_project_files_a_contributor_expects():
    import re

    import yaml

    license_name = re.search(r'^license = "(\w+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert (ROOT / "LICENSE").read_text().startswith(f"{license_name} License")
    assert (ROOT / "CHANGELOG.md").read_text().startswith("# Changelog")
    workflow = yaml.safe_load((ROOT / ".github/workflows/test.yml").read_text())
    steps = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    assert any(run.startswith("make test") for run in steps)
