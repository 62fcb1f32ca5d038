"""A serve config: the models one server serves, each by name, from an ONNX export or a checkpoint.

::

    models:
      - name: digits
        path: runs/digits/20260101-120000/exports/best-epoch=011.onnx   # an export (or its folder)
      - name: cancer
        path: runs/breast_cancer/20260101-120500/checkpoints/last.ckpt  # a checkpoint (served with PyTorch)

Each answers at ``POST /models/<name>/predict``. Everything is checked before the server starts:
the file exists, an export is lit_nn's, and no two models share a path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lit_nn.deploy.metadata import find_export
from lit_nn.errors import ConfigError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
CHECKPOINT_SUFFIX = ".ckpt"


@dataclass(frozen=True)
class Served:
    """One model of a serve config.

    Attributes:
        name: Its name (its path is ``/models/<name>/predict``).
        path: The ``.onnx`` file or the checkpoint.
        metadata: The export's metadata (``None`` for a checkpoint, read when it is loaded).
    """

    name: str
    path: Path
    metadata: dict[str, Any] | None = None

    @property
    def checkpoint(self) -> bool:
        """Whether it is a checkpoint (served with PyTorch) rather than an export."""
        return self.metadata is None


class _UniqueKeys(yaml.SafeLoader):
    """YAML's safe loader, refusing a mapping that gives one key twice (PyYAML keeps the last, silently)."""


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise ConfigError(f"the serve config names {key!r} twice (line {key_node.start_mark.line + 1}); "
                              "give each model once, under its own name")  # fmt: skip
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeys.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def read_config(path: Path) -> list[Served]:
    """Read and check a serve config.

    Args:
        path: The YAML file.

    Returns:
        The models, in the order given.

    Raises:
        ConfigError: For an unreadable file, no models, a bad or repeated name, a missing file, a
            file that is not a lit_nn export or checkpoint: in one line, before anything starts.
    """
    try:
        given = yaml.load(path.read_text(), Loader=_UniqueKeys)  # noqa: S506 (a SafeLoader)
    except OSError as exc:
        raise ConfigError(f"cannot read the serve config {path} ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not YAML ({str(exc).splitlines()[0]})") from None
    models = given.get("models") if isinstance(given, dict) else None
    if isinstance(models, dict):
        models = [{"name": name, "path": where} for name, where in models.items()]
    if not isinstance(models, list) or not models:
        raise ConfigError(f"{path}: give `models:`, a list of {{name: NAME, path: FILE}} (docs/deploy.md)")
    served: list[Served] = []
    taken: dict[str, int] = {}
    for number, entry in enumerate(models, 1):
        if not isinstance(entry, dict) or set(entry) != {"name", "path"}:
            raise ConfigError(f"{path}: model {number} must be {{name: NAME, path: FILE}}, got {entry!r}"[:300])
        name, where = str(entry["name"]), Path(str(entry["path"])).expanduser()
        if not NAME.match(name):
            raise ConfigError(f"{path}: model name {name!r} cannot be a URL path part; use letters, digits, . _ -")
        if name in taken:
            raise ConfigError(
                f"{path}: models {taken[name]} and {number} are both named {name!r}, so both would answer at "
                f"/models/{name}/predict; give each its own name"
            )
        taken[name] = number
        where = where if where.is_absolute() else (path.parent / where)
        if where.suffix == CHECKPOINT_SUFFIX:
            if not where.is_file():
                raise ConfigError(f"{path}: model {name!r}: {where} does not exist; give a checkpoint or an export")
            served.append(Served(name, where))
            continue
        try:
            onnx, metadata = find_export(where)
        except ConfigError as exc:
            raise ConfigError(f"{path}: model {name!r}: {exc}") from None
        served.append(Served(name, onnx, metadata))
    return served
