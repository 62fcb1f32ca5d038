"""Dependencies point one way: every module's imports (top level and inside functions) are read
from its source and checked against the layers below."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lit_nn"

CORE = ("lit_nn.errors", "lit_nn.env", "lit_nn.console", "lit_nn.atomic", "lit_nn.lazy", "lit_nn.signatures",
        "lit_nn.hookspecs", "lit_nn.lifetime")  # fmt: skip
UPPER = ("lit_nn.cli", "lit_nn.tasks", "lit_nn.callbacks", "lit_nn.data", "lit_nn.models", "lit_nn.registry",
         "lit_nn.plugin_loader", "lit_nn.builtins")  # fmt: skip

# (modules a rule applies to, imports they must not make, why)
RULES = [
    (("lit_nn.models",), ("lightning", "pytorch_lightning", *UPPER[:4]), "models are plain torch"),
    (("lit_nn.data",), ("lit_nn.cli", "lit_nn.tasks", "lit_nn.callbacks"), "data knows no task or CLI"),
    (("lit_nn.tasks",), ("lit_nn.cli", "lit_nn.callbacks"), "tasks run under any Trainer"),
    (("lit_nn.callbacks",), ("lit_nn.cli",), "callbacks work without the CLI"),
    (("lit_nn.registry_model",), ("lit_nn.registry", "lit_nn.plugin_loader", "lit_nn.builtins"),
     "the registry's data model imports nothing that builds it"),  # fmt: skip
    (("lit_nn.plugin_loader",), ("lit_nn.registry",), "the loader fills the data model, not the facade"),
    (CORE, UPPER + ("lit_nn.checkpoints", "lit_nn.checkpoint_io", "lit_nn.plotting", "lit_nn.wandb_runs",
                    "lit_nn.runs"), "core helpers sit below everything"),  # fmt: skip
    (("lit_nn.runs",), UPPER + ("lit_nn.checkpoint_route", "lit_nn.checkpoint_choice", "lit_nn.sweeps"),
     "the run-folder layout sits below everything that uses it"),  # fmt: skip
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str, name: str, is_package: bool) -> set[str]:
    """Every module a source imports, relative imports resolved."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}  # from lit_nn import cli
    return found


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def wrong(imported: set[str], forbidden: tuple[str, ...]) -> list[str]:
    """The forbidden imports, each named once (``a.b`` and not also its ``a.b.name``)."""
    hits = {i for i in imported if within(i, forbidden)}
    return sorted(i for i in hits if not any(i.startswith(other + ".") for other in hits))


def violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, imported in sorted(graph.items()):
        for applies, forbidden, why in RULES:
            if within(module, applies):
                found += [f"{module} imports {i} ({why})" for i in wrong(imported, forbidden)]
        if not within(module, ("lit_nn.cli", "lit_nn.__main__")):
            found += [f"{module} imports {i} (only the CLI imports the CLI)" for i in wrong(imported, ("lit_nn.cli",))]
    return found


def import_graph() -> dict[str, set[str]]:
    return {
        module_name(path): imports(path.read_text(), module_name(path), path.name == "__init__.py")
        for path in PACKAGE.rglob("*.py")
    }


def test_the_reader_sees_imports_in_functions_and_relative_ones():
    source = "from . import base\ndef f():\n    from lit_nn.cli.errors import notice\n    import lightning\n"
    found = imports(source, "lit_nn.models.mlp", is_package=False)
    assert {"lit_nn.models.base", "lit_nn.cli.errors", "lightning"} <= found
    graph = {"lit_nn.models.mlp": found, "lit_nn.tasks.base": {"lit_nn.callbacks.progress"}}
    assert violations(graph) == [
        "lit_nn.models.mlp imports lightning (models are plain torch)",
        "lit_nn.models.mlp imports lit_nn.cli.errors (models are plain torch)",
        "lit_nn.models.mlp imports lit_nn.cli.errors (only the CLI imports the CLI)",
        "lit_nn.tasks.base imports lit_nn.callbacks.progress (tasks run under any Trainer)",
    ]


def test_the_graph_covers_the_package():
    graph = import_graph()
    assert len(graph) > 60
    assert "lit_nn.tasks.base" in graph["lit_nn.cli.lightning"] or "lit_nn.tasks" in graph["lit_nn.cli.lightning"]


@pytest.mark.parametrize("rule", [r[2] for r in RULES] + ["only the CLI imports the CLI"])
def test_no_import_points_the_wrong_way(rule):
    wrong = [v for v in violations(import_graph()) if v.endswith(f"({rule})")]
    assert not wrong, "\n".join(wrong)


LAYOUT_MODULE = "lit_nn.runs"
LAYOUT_NAMES = re.compile(r"(\w\.ckpt\b|\bhpc_ckpt|\brun\.json\b|\bconfig\.yaml\b|^best-|^trial-|\bcompare-|%Y%m%d)")
"""A checkpoint's, a run file's or a run folder's name, or the folders' time stamp: spelled by lit_nn.runs only."""


def spelled_names(source: str) -> list[tuple[int, str]]:
    """String constants (docstrings aside) that spell a name of the run-folder layout."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
        and LAYOUT_NAMES.search(node.value) and not node.value.count(" ") > 3  # prose in messages is not a name
    ]  # fmt: skip


def test_the_layout_reader_finds_names_and_skips_docstrings():
    source = (
        '"""Writes last.ckpt."""\ndef f(run):\n    """In run.json."""\n    return run / "last.ckpt", f"hpc_ckpt_{1}"\n'
    )
    assert [value for _, value in spelled_names(source)] == ["last.ckpt", "hpc_ckpt_"]


def test_only_the_runs_module_spells_the_run_folder_layout():
    found = [
        f"{module_name(path)}:{line}: {value!r}"
        for path in PACKAGE.rglob("*.py")
        if module_name(path) != LAYOUT_MODULE
        for line, value in spelled_names(path.read_text())
    ]
    assert not found, "ask lit_nn.runs for these names:\n" + "\n".join(found)
