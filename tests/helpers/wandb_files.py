"""Read an offline W&B run back from its ``run-<id>.wandb`` file (no network, no W&B server).

The file is a LevelDB-style log: a 7-byte header (``:W&B``, magic, version), then 32 KiB blocks of
records, each with a 7-byte header (CRC, length, type: full, first, middle, last) and a
protobuf ``wandb_internal_pb2.Record``.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2

BLOCK = 32768
HEADER = 7


def _chunks(data: bytes) -> list[bytes]:
    ident = struct.unpack("<4sHB", data[:HEADER])[0]
    assert ident == b":W&B", f"not a W&B transaction log: {ident!r}"
    records, pending, pos = [], b"", HEADER
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if kind == 0 and length == 0:  # zero padding to the end of the block
            pos += left
            continue
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind == 1:
            records.append(chunk)
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            records.append(pending + chunk)
    return records


def _set(target: dict[str, Any], item: Any, value: Any) -> None:  # noqa: ANN401
    keys = [item.key] if item.key else list(item.nested_key)
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value


@dataclass
class OfflineRun:
    """What a ``.wandb`` file holds."""

    run_id: str = ""
    name: str = ""
    project: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    resumed: bool = False
    job_type: str = ""
    group: str = ""
    tags: list[str] = field(default_factory=list)
    git_commit: str = ""
    steps: list[int] = field(default_factory=list)
    artifacts: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (name, type, aliases)


def read_offline_run(path: Path) -> OfflineRun:
    """Parse one ``run-<id>.wandb`` file."""
    run = OfflineRun()
    for raw in _chunks(path.read_bytes()):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.run_id, run.name, run.project = record.run.run_id, record.run.display_name, record.run.project
            run.resumed, run.job_type, run.group = record.run.resumed, record.run.job_type, record.run.run_group
            run.tags, run.git_commit = list(record.run.tags), record.run.git.commit
            for item in record.run.config.update:
                _set(run.config, item, json.loads(item.value_json))
        elif kind == "config":
            for item in record.config.update:
                _set(run.config, item, json.loads(item.value_json))
        elif kind == "history":
            row: dict[str, Any] = {}
            for item in record.history.item:
                _set(row, item, json.loads(item.value_json))
            run.history.append(row)
            run.steps.append(record.history.step.num)
        elif kind == "artifact":
            run.artifacts.append((record.artifact.name, record.artifact.type, list(record.artifact.aliases)))
        elif kind == "summary":
            for item in record.summary.update:
                if item.key or item.nested_key:
                    _set(run.summary, item, json.loads(item.value_json))
    return run
