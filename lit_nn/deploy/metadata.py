"""An export's metadata file, read without torch: where it is, whether it is lit_nn's, and the model's card.

``lit-nn export`` writes ``<file>.json`` beside every exported file (:mod:`lit_nn.deploy.export`);
a server reads it to know what the model takes and answers, and ``GET /info`` shows each model's
card from it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lit_nn.errors import ConfigError

EXPORT_KEYS = ("format", "task", "input", "outputs")
"""What every lit_nn export's metadata holds."""


def metadata_path(path: Path) -> Path:
    """Where an exported file's metadata goes: beside it, ``<file>.json``.

    Args:
        path: The exported file.

    Returns:
        ``model.onnx`` -> ``model.onnx.json``.
    """
    return path.with_name(path.name + ".json")


def find_export(given: Path) -> tuple[Path, dict[str, Any]]:
    """The ONNX file a path names, and its metadata, checked to be a lit_nn export.

    Args:
        given: An ``.onnx`` file, or a folder holding exactly one (``exports/`` of a run).

    Returns:
        The file and its metadata.

    Raises:
        ConfigError: For a missing path, a folder without exactly one ``.onnx``, or a file that
            is not a lit_nn ONNX export (no readable metadata, or another format).
    """
    path = given
    if given.is_dir():
        found = sorted(given.glob("*.onnx"))
        if len(found) != 1:
            what = "no .onnx file" if not found else f"{len(found)} .onnx files ({', '.join(p.name for p in found)})"
            raise ConfigError(f"{given} holds {what}; give the .onnx file to serve (lit-nn export writes one)")
        path = found[0]
    if not path.is_file():
        raise ConfigError(f"{given} does not exist; give an .onnx file lit-nn export wrote (or its folder)")
    try:
        metadata = json.loads(metadata_path(path).read_text())
    except (OSError, ValueError):
        raise ConfigError(
            f"{path} is not an export of lit_nn: {metadata_path(path).name} (its metadata) is missing or unreadable; "
            "export the checkpoint with lit-nn export --format onnx"
        ) from None
    if not isinstance(metadata, dict) or any(key not in metadata for key in EXPORT_KEYS):
        raise ConfigError(f"{metadata_path(path)} is not lit_nn export metadata (it lacks {', '.join(EXPORT_KEYS)})")
    if metadata["format"] != "onnx":
        raise ConfigError(f"{path} is a {metadata['format']} export; serve an ONNX one (lit-nn export --format onnx)")
    return path, metadata


def card(name: str, metadata: Mapping[str, Any], path: str) -> dict[str, Any]:
    """What ``GET /info`` says about one model.

    Args:
        name: The model's name.
        metadata: Its export metadata (or the PyTorch server's equivalent).
        path: Its predict path.

    Returns:
        Task, inputs (shape, dtype, feature names), outputs, class names, the calibration (temperature,
        conformal level and quantiles) and binary threshold, the test metrics and check recorded at
        export, where it came from, package versions.
    """
    given = dict(metadata.get("input") or {})
    encoding = given.get("encoding") or {}
    inputs = {key: given[key] for key in ("name", "shape", "dtype", "description", "image_size") if key in given}
    names = encoding.get("features") or given.get("feature_names")
    if names:
        inputs["feature_names"] = list(names)
    return {
        "name": name,
        "path": path,
        "format": metadata.get("format"),
        "task": metadata.get("task"),
        "input": inputs,
        "outputs": metadata.get("outputs"),
        "class_names": metadata.get("class_names"),
        **{
            key: metadata[key]
            for key in ("calibration", "threshold", "test_metrics", "check", "run", "checkpoint", "versions")
            if key in metadata
        },
    }
