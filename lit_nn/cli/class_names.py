"""Registry names as class names jsonargparse understands: ``data: digits``, ``--data.help csv``.

jsonargparse turns a ``class_path`` without dots into a class by looking through the imported
subclasses of the expected base class, in one function (``resolve_class_path_by_name``) that
every route goes through: the command line, config files at any depth (and the files they
include), environment variables, ``--data.help NAME`` and ``--print_config``. lit_nn extends that
one resolver: a datamodule's or a task's registry name resolves to the import path its plugin
registered, without importing it, and a name that resolves to nothing is reported with the names
that do.
Config files are read by jsonargparse itself, from where they are, never copied.
"""

from __future__ import annotations

from typing import Any

from lit_nn import compat
from lit_nn.errors import UnknownNameError, suggest
from lit_nn.registry import Registry, default_registry


def model_names(registry: Registry | None = None) -> list[str]:
    """Class names the CLI accepts for ``--model``: registered tasks and imported, concrete LightningModules.

    Args:
        registry: The registry (default: the process-wide one).

    Returns:
        Sorted class names (the registered tasks, plugins' included, and any other imported ones).
    """
    from lightning.pytorch import LightningModule

    found = set((registry or default_registry()).names("tasks"))
    stack = list(LightningModule.__subclasses__())
    while stack:
        cls = stack.pop()
        stack += cls.__subclasses__()
        if not cls.__name__.startswith("_") and not getattr(cls, "__abstractmethods__", None):
            found.add(cls.__name__)
    return sorted(found)


def _bases(cls: Any) -> tuple[type, ...]:  # noqa: ANN401 (a class or a tuple of them)
    return tuple(c for c in (cls if isinstance(cls, tuple) else (cls,)) if isinstance(c, type))


def resolve_class_path(cls: Any, name: str, registry: Registry | None = None) -> str:  # noqa: ANN401
    """Resolve a class name as jsonargparse does, with the registry's datamodule and task names first.

    Args:
        cls: The base class (or classes) the value must be a subclass of.
        name: What the user wrote as the class.
        registry: The registry (default: the process-wide one).

    Returns:
        The import path jsonargparse should import.

    Raises:
        UnknownNameError: For a datamodule or model name that is neither registered nor an
            imported class, listing the names that are.
    """
    from lightning.pytorch import LightningDataModule, LightningModule

    original = compat.resolve_class_path_by_name
    if not isinstance(name, str) or "." in name:
        return original(cls, name)
    bases = _bases(cls)
    if any(issubclass(c, LightningDataModule) for c in bases):
        registry = registry or default_registry()
        if name in registry.names("datamodules"):
            return registry.entry("datamodules", name).target
        resolved = original(cls, name)
        if "." not in resolved:
            available = registry.names("datamodules")
            raise UnknownNameError(
                f"Unknown datamodule {name!r}.{suggest(name, available)} Available datamodules: "
                f"{', '.join(available)}; `lit-nn plugins --kind datamodules` lists them with their providers. "
                "A class of your own needs its full import path (my_package.module.MyDataModule)"
            )
        return resolved
    is_model = any(issubclass(c, LightningModule) for c in bases)
    if is_model:
        registry = registry or default_registry()
        if name in registry.names("tasks"):
            return registry.entry("tasks", name).target
    resolved = original(cls, name)
    if "." not in resolved and is_model:
        names, tasks = model_names(registry), (registry or default_registry()).names("tasks")
        raise UnknownNameError(  # close matches among the registered tasks: what any process can name
            f"Unknown model {name!r}.{suggest(name, tasks)} Available: {', '.join(names)}; a class of your own "
            "needs its full import path (my_package.module.MyModel)"
        )
    return resolved


def install() -> None:
    """Make jsonargparse resolve registry names (idempotent; the resolver is jsonargparse's own otherwise).

    jsonargparse offers no public hook for this; :func:`lit_nn.compat.hook_class_path_resolution`
    replaces the single function where it resolves a class name. tests/cli/test_class_names.py
    checks every route.
    """
    compat.hook_class_path_resolution(resolve_class_path)
