"""Datamodule arguments for every built-in, with generated files where one needs a path."""

from __future__ import annotations

import atexit
import csv
import functools
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from tests.helpers.shapes import make_shapes_folder


def write_csv(path: Path, rows: list[list[Any]], header: list[str]) -> Path:
    """Write a CSV file."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def house_prices_csv(path: Path, n: int = 120, seed: int = 0) -> Path:
    """A small regression CSV: numeric and categorical features, a price that depends on both."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        area, rooms, town = rng.uniform(40, 200), int(rng.integers(1, 6)), str(rng.choice(["north", "south", "east"]))
        price = 3 * area + 20 * rooms + {"north": 100, "south": 0, "east": 50}[town] + rng.normal(0, 10)
        rows.append([f"{area:.1f}", rooms, town, f"{price:.2f}"])
    return write_csv(path, rows, ["area", "rooms", "town", "price"])


def datamodule_kwargs(name: str, tmp_path: Path) -> dict[str, Any]:
    """Keyword arguments that make the built-in datamodule ``name`` small and quick."""
    if name == "csv":
        return {"path": str(house_prices_csv(tmp_path / "houses.csv")), "target": "price", "batch_size": 16}
    if name == "image_folder":
        root = make_shapes_folder(tmp_path / "shapes", per_class=8, size=40)
        return {"root": str(root), "image_size": 32, "batch_size": 4, "num_workers": 0}
    if name in ("regression", "binary", "multiclass"):
        return {"num_samples": 200, "batch_size": 32}
    if name == "streaming":
        return {"path": str(chunk_folder(tmp_path / "chunks", "breast_cancer", batch_size=32))}
    return {"batch_size": 32}


_WRITTEN: dict[str, Path] = {}
"""Chunk folders of bundled data written in this process, by their arguments (see :func:`chunk_folder`)."""


def chunk_folder(output: Path, name: str, **kwargs: Any) -> Path:
    """Write the built-in datamodule ``name`` (built with ``kwargs``) as chunks, as ``lit-nn data optimize`` does.

    LitData starts a writer process for each split (seconds each), and the same arguments write the
    same bytes: a source that reads no file of the caller's (the bundled and synthetic data) is
    written once per test process and copied to ``output`` after that. Writing itself is tested on
    the first call and through ``lit-nn data optimize`` (tests/data/test_streaming.py).
    """
    if any(isinstance(value, str) and Path(value).exists() for value in kwargs.values()):
        return _write_chunk_folder(output, name, **kwargs)  # files of the caller's: always written afresh
    key = json.dumps([name, kwargs], sort_keys=True)
    if key not in _WRITTEN:
        _WRITTEN[key] = _write_chunk_folder(_written_root() / str(len(_WRITTEN)), name, **kwargs)
    shutil.copytree(_WRITTEN[key], output)
    return output


def _write_chunk_folder(output: Path, name: str, **kwargs: Any) -> Path:
    from lit_nn.checkpoint_choice import size_keys
    from lit_nn.data.chunks import write_chunks
    from lit_nn.registry import build_registry

    registry = build_registry()
    datamodule = registry.create("datamodules", name, **kwargs)
    class_path = f"{type(datamodule).__module__}.{type(datamodule).__name__}"
    write_chunks(datamodule, str(output), {"class_path": class_path, "init_args": kwargs}, size_keys()[:-1])
    return output


@functools.cache
def _written_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="lit-nn-test-chunks-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root
