"""Dependencies point one way: every module's imports (top level and inside functions) are read
from its source and checked against the layers below. And library internals are reached through one
door, lit_nn/compat.py: a private name of a library is used nowhere else."""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import pkgutil
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lit_nn"

CORE = ("lit_nn.errors", "lit_nn.env", "lit_nn.console", "lit_nn.atomic", "lit_nn.lazy", "lit_nn.signatures",
        "lit_nn.hookspecs", "lit_nn.lifetime", "lit_nn.compat", "lit_nn.curves_reading")  # fmt: skip
UPPER = ("lit_nn.cli", "lit_nn.tasks", "lit_nn.callbacks", "lit_nn.data", "lit_nn.models", "lit_nn.registry",
         "lit_nn.plugin_loader", "lit_nn.builtins")  # fmt: skip

# (modules a rule applies to, imports they must not make, why)
RULES = [
    (("lit_nn.models",), ("lightning", "pytorch_lightning", *UPPER[:4]), "models are plain torch"),
    (("lit_nn.data",), ("lit_nn.cli", "lit_nn.tasks", "lit_nn.callbacks"), "data knows no task or CLI"),
    (("lit_nn.tasks",), ("lit_nn.cli", "lit_nn.callbacks"), "tasks run under any Trainer"),
    (("lit_nn.callbacks",), ("lit_nn.cli",), "callbacks work without the CLI"),
    (
        ("lit_nn.registry_data",),
        ("lit_nn.registry", "lit_nn.plugin_loader", "lit_nn.builtins"),
        "the registry's data model imports nothing that builds it",
    ),  # fmt: skip
    (("lit_nn.plugin_loader",), ("lit_nn.registry",), "the loader fills the data model, not the facade"),
    (
        ("lit_nn.curves_reading",),
        ("lightning", "pytorch_lightning", "torch", "matplotlib"),
        "the loss curves are read from the history alone",
    ),  # fmt: skip
    (
        CORE,
        UPPER + ("lit_nn.checkpoints", "lit_nn.checkpoint_io", "lit_nn.plotting", "lit_nn.wandb_runs", "lit_nn.runs"),
        "core helpers sit below everything",
    ),  # fmt: skip
    (
        ("lit_nn.runs",),
        UPPER + ("lit_nn.checkpoint_route", "lit_nn.checkpoint_choice", "lit_nn.sweeps"),
        "the run-folder layout sits below everything that uses it",
    ),  # fmt: skip
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
    cli = graph["lit_nn.cli.lightning_cli"]
    assert "lit_nn.tasks.base" in cli or "lit_nn.tasks" in cli


@pytest.mark.parametrize("rule", [r[2] for r in RULES] + ["only the CLI imports the CLI"])
def test_no_import_points_the_wrong_way(rule):
    wrong = [v for v in violations(import_graph()) if v.endswith(f"({rule})")]
    assert not wrong, "\n".join(wrong)


LAYOUT_MODULE = "lit_nn.runs"
LAYOUT_NAMES = re.compile(
    r"(\w\.ckpt\b|\bhpc_ckpt|\brun\.json\b|\bconfig\.yaml\b|^best-|^trial-|\bcompare-|-metrics\.json|%Y%m%d)"
)
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
        if not within(module_name(path), (LAYOUT_MODULE,))
        for line, value in spelled_names(path.read_text())
    ]
    assert not found, "ask lit_nn.runs for these names:\n" + "\n".join(found)


# A component owns its kind -------------------------------------------------------------------

TASK_NAME = re.compile(r"^(lit_nn\.tasks\.)?[A-Z]\w*Task$")
"""A task class, by name or import path (``MulticlassClassificationTask``, ``lit_nn.tasks.BaseTask``)."""


def _names_in(node: ast.AST) -> list[str]:
    nodes = [n for n in ast.walk(node) if isinstance(n, ast.Name | ast.Attribute)]
    return [n.id if isinstance(n, ast.Name) else n.attr for n in nodes]


def task_class_tests(source: str) -> list[tuple[int, str]]:
    """``isinstance``/``issubclass`` against a task class, or a comparison with a task's class name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        called = node.func.id if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else None
        if called in ("isinstance", "issubclass"):
            classes = [name for arg in node.args[1:] for name in _names_in(arg) if TASK_NAME.match(name)]
            found += [(node.lineno, f"{called}(…, {name})") for name in classes]
        elif isinstance(node, ast.Compare):
            constants = [c.value for c in (node.left, *node.comparators) if isinstance(c, ast.Constant)]
            found += [(node.lineno, f"== {v!r}") for v in constants if isinstance(v, str) and TASK_NAME.match(v)]
    return found


def test_the_task_test_reader_finds_isinstance_and_name_comparisons():
    source = (
        "def f(m, t):\n    if isinstance(m, (tasks.RegressionTask, int)) or\\\n"
        "            type(m).__name__ == 'BinaryClassificationTask':\n"
        "        return issubclass(t, BaseTask)\n    return isinstance(m, dict) and m == 'MyModel'\n"
    )
    assert [what for _, what in task_class_tests(source)] == [
        "isinstance(…, RegressionTask)",
        "== 'BinaryClassificationTask'",
        "issubclass(…, BaseTask)",
    ]


def test_nothing_outside_the_tasks_asks_which_task_it_is():
    found = [
        f"{module_name(path)}:{line}: {what}"
        for path in PACKAGE.rglob("*.py")
        if not within(module_name(path), ("lit_nn.tasks",))
        for line, what in task_class_tests(path.read_text())
    ]
    assert not found, "ask the task instead (a method or class attribute of BaseTask):\n" + "\n".join(found)


# One door to library internals ---------------------------------------------------------------

LIBRARIES = ("lightning", "pytorch_lightning", "jsonargparse", "torch", "optuna", "optuna_integration", "litserve",
             "wandb")  # fmt: skip
DOOR = "lit_nn/compat.py"


@dataclass(frozen=True)
class Reach:
    """A use of a library's private name outside the door."""

    path: str  # relative to the repository, as "lit_nn/cli/sweep.py"
    line: int
    name: str
    how: str

    @property
    def key(self) -> str:
        return f"{self.path}:{self.name}"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.name} ({self.how})"


def private(name: str) -> bool:
    """``_name``: one leading underscore, not a dunder, not ``_`` alone."""
    return len(name) > 1 and name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def is_library(module: str) -> bool:
    return module.split(".")[0] in LIBRARIES


def private_imports(tree: ast.AST, path: str) -> list[Reach]:
    """Imports of a library's private module (``jsonargparse._typehints``) or name (``from torch import _C``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if is_library(alias.name) and any(private(p) for p in parts):
                    found.append(Reach(path, node.lineno, next(p for p in parts if private(p)), f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module and is_library(node.module):
            parts = node.module.split(".")
            names = [p for p in parts if private(p)] + [a.name for a in node.names if private(a.name)]
            found += [Reach(path, node.lineno, name, f"from {node.module} import") for name in names]
    return found


def _self_or_cls(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def defined_names(trees: dict[str, ast.AST]) -> set[str]:
    """The names lit_nn defines itself: functions, classes, variables, arguments, imports as, attributes of self.

    An attribute set on anything but ``self``/``cls`` (``module._jit_is_scripting = True``) defines
    nothing: it is set on an object lit_nn did not make. One set on ``self`` of a library's subclass
    may be the library's own: the class check (:func:`class_reaches`) finds those, and the caller
    takes them out of this set.
    """
    names: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias):
                names.add(node.asname or node.name.split(".")[0])
            elif isinstance(node, ast.ExceptHandler) and node.name:
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and _self_or_cls(node.value):
                names.add(node.attr)
    return {name for name in names if private(name)}


IDENTIFIER = re.compile(r"_[A-Za-z][A-Za-z0-9_]*")


def private_reaches(tree: ast.AST, path: str, defined: set[str]) -> list[Reach]:
    """Private names lit_nn does not define, used on an object (``x._name``) or spelled as a string.

    The string form covers ``getattr(x, "_name")``, ``hasattr``/``setattr``, ``name == "_name"``
    and a library's private keys (``hparams["_class_path"]``); the parts of an f-string are text.
    """
    in_fstrings = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    found = []
    for node in sorted(ast.walk(tree), key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0))):
        if isinstance(node, ast.Attribute) and private(node.attr):
            if node.attr not in defined:
                found.append(Reach(path, node.lineno, node.attr, "attribute"))
            elif isinstance(node.ctx, ast.Store) and not _self_or_cls(node.value):
                found.append(Reach(path, node.lineno, node.attr, "set on an object lit_nn did not make"))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in in_fstrings
            and IDENTIFIER.fullmatch(node.value)
            and private(node.value)
            and node.value not in defined
        ):
            found.append(Reach(path, node.lineno, node.value, "spelled as a string"))
    return found


@functools.cache
def library_privates(cls: type) -> frozenset[str]:
    """A library class's own private names: in its ``__dict__``, or set on ``self`` in its source."""
    names = {name for name in vars(cls) if private(name)}
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return frozenset(names)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and _self_or_cls(node.value):
            names.add(node.attr) if private(node.attr) else None
    return frozenset(names)


def _is_super(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def class_reaches(cls: type, root: Path) -> list[Reach]:
    """Private names of a library base class that a lit_nn class defines, overrides, sets or reads on itself.

    Read from the class's own body: its methods and class attributes, and the ``self._name`` /
    ``cls._name`` / ``super()._name`` it uses; each checked against the library classes of its MRO.
    """
    bases = [base for base in cls.__mro__[1:] if is_library(base.__module__)]
    if not bases:
        return []
    try:
        source, first = inspect.getsourcelines(cls)
        path = str(Path(inspect.getsourcefile(cls)).resolve().relative_to(root))
    except (OSError, TypeError, ValueError):
        return []
    body = ast.parse(textwrap.dedent("".join(source))).body[0]
    used: dict[str, int] = {}
    for node in body.body if isinstance(body, ast.ClassDef) else []:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            used.setdefault(node.name, node.lineno)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    used.setdefault(target.id, node.lineno)
    for node in ast.walk(body):
        if isinstance(node, ast.Attribute) and (_self_or_cls(node.value) or _is_super(node.value)):
            used.setdefault(node.attr, node.lineno)
    found = []
    for name, line in sorted(used.items(), key=lambda item: item[1]):
        owner = next((base for base in bases if private(name) and name in library_privates(base)), None)
        if owner is not None:
            how = f"{cls.__qualname__} overrides or uses {owner.__module__}.{owner.__qualname__}.{name}"
            found.append(Reach(path, first + line - 1, name, how))
    return found


def lit_nn_classes() -> list[type]:
    """Every class defined at the top of a lit_nn module, the door's own excepted."""
    import lit_nn

    classes = []
    for info in pkgutil.walk_packages(lit_nn.__path__, "lit_nn."):
        if info.name in ("lit_nn.__main__", "lit_nn.compat"):
            continue
        module = importlib.import_module(info.name)
        classes += [c for c in vars(module).values() if inspect.isclass(c) and c.__module__ == info.name]
    return classes


@functools.cache
def library_reaches() -> tuple[Reach, ...]:
    """Every use of a library's private name in lit_nn outside lit_nn/compat.py."""
    root = PACKAGE.parent
    trees = {
        str(path.relative_to(root)): ast.parse(path.read_text())
        for path in sorted(PACKAGE.rglob("*.py"))
        if str(path.relative_to(root)) != DOOR
    }
    by_class = [reach for cls in lit_nn_classes() for reach in class_reaches(cls, root)]
    defined = defined_names(trees) - {reach.name for reach in by_class}
    found = set(by_class)
    for path, tree in trees.items():
        found |= set(private_imports(tree, path)) | set(private_reaches(tree, path, defined))
    return tuple(sorted(found, key=lambda reach: (reach.path, reach.line, reach.name)))


def test_the_door_sees_private_imports():
    source = (
        "from jsonargparse._typehints import resolve_class_path_by_name\n"
        "from jsonargparse import _typehints, ArgumentParser\n"
        "import torch._dynamo\n"
        "from lightning.pytorch import Trainer\n"
        "from lit_nn.cli import _helper\n"
        "from os import _exit\n"
        "from . import _sibling\n"
    )
    found = private_imports(ast.parse(source), "lit_nn/x.py")
    assert [(r.line, r.name) for r in found] == [(1, "_typehints"), (2, "_typehints"), (3, "_dynamo")]


def test_the_door_sees_private_attributes_and_strings_lit_nn_does_not_define():
    source = (
        "class Mine:\n"
        "    def __init__(self, _given):\n"
        "        self._own = _given\n"
        "    def f(self, trainer, module, x):\n"
        "        _local = self._own, self.__dict__, trainer._logger_connector\n"
        "        module._own = 1\n"
        "        module._jit_is_scripting = True\n"
        "        return getattr(x, '_wandb_init'), hasattr(self, '_own'), x == '_current_fx_name', f'{x}_fraction'\n"
    )
    trees = {"lit_nn/x.py": ast.parse(source)}
    defined = defined_names(trees)
    assert defined == {"_given", "_own", "_local"}
    found = private_reaches(trees["lit_nn/x.py"], "lit_nn/x.py", defined)
    assert [(r.line, r.name, r.how) for r in found] == [
        (5, "_logger_connector", "attribute"),
        (6, "_own", "set on an object lit_nn did not make"),
        (7, "_jit_is_scripting", "attribute"),
        (8, "_wandb_init", "spelled as a string"),
        (8, "_current_fx_name", "spelled as a string"),
    ]


class _Overriding(__import__("lightning.pytorch.callbacks", fromlist=["TQDMProgressBar"]).TQDMProgressBar):
    def _should_update(self, current, total):  # overrides a library's private method
        return self._train_progress_bar is not None  # reads a library's private attribute

    def redraw(self):
        self._mine = True  # a name of its own
        return super()._should_update(1, 1)


def _through_the_door():
    from lit_nn.compat import TQDMProgressBarWithUpdateHook

    class Hooked(TQDMProgressBarWithUpdateHook):
        def should_update(self, current, total):
            self._drawn = current
            return super().should_update(current, total)

    return Hooked


def test_the_door_sees_overrides_of_library_methods_and_their_attributes():
    root = Path(__file__).resolve().parents[1]
    found = class_reaches(_Overriding, root)
    assert [r.name for r in found] == ["_should_update", "_train_progress_bar"]  # each name once, where first used
    assert found[0].path == "tests/test_import_direction.py"
    assert "TQDMProgressBar._should_update" in found[0].how
    assert class_reaches(_through_the_door(), root) == []


def test_library_internals_are_reached_only_through_compat():
    wrong = [str(reach) for reach in library_reaches()]
    assert not wrong, "use lit_nn/compat.py (or a public way) for:\n" + "\n".join(wrong)
