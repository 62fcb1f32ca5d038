"""A datamodule's splits written as LitData chunks, with the manifest that says what they are.

``lit-nn data optimize`` writes, under one folder, a ``train``, ``val`` and ``test`` folder of
LitData chunks (``litdata.optimize``) and ``manifest.json``: the source datamodule (class and
arguments), its fitted state (``state_dict()``: standardisation, CSV encoding, classes), the
task, ``input_shape``, class names, sample counts, every chunk file's size and a content hash.
The :class:`~lit_nn.data.streaming.StreamingDataModule` needs nothing else to train, and a
checkpoint trained on it needs nothing else to predict, export and serve.

What a sample is, per kind of source:

- ``arrays`` (the bundled, synthetic and CSV datamodules): the raw ``float32`` feature row, as
  the source holds it before standardisation (a CSV row one-hot encoded with its fitted
  encoding), and its target; the streaming datamodule standardises on the device with the
  fitted statistics, as an exported model does.
- ``images`` (image folders): the image file's own bytes and its class. The streaming
  datamodule decodes and crops them with the image datamodule's own functions, so batches are
  the same pixels; decoded ``uint8`` at the resize side would stream about 48x faster on one
  CPU but weigh about 10x the bytes (192 against 20 KiB a 320 px JPEG at resize 256,
  docs/cluster.md), and bytes are what object storage and the network carry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lit_nn.atomic import write_text
from lit_nn.data.errors import DataError

FORMAT = "lit_nn-chunks/1"
"""The manifest's ``format``: what a streaming datamodule of this version reads."""
MANIFEST = "manifest.json"
SPLITS = ("train", "val", "test")
INDEX = "index.json"
"""LitData's own index of a split's chunks."""


def is_url(path: str) -> bool:
    """Whether a chunk location is an object-store URL (``s3://bucket/prefix``) rather than a folder.

    Args:
        path: The location.

    Returns:
        ``True`` for ``scheme://…``.
    """
    return "://" in path


def split_dir(root: str, split: str) -> str:
    """Where one split's chunks are, under a chunk folder or URL.

    Args:
        root: The chunk folder or URL.
        split: ``train``, ``val`` or ``test``.

    Returns:
        ``root/split``.
    """
    return f"{root.rstrip('/')}/{split}"


class ArrayItems:
    """Rows of in-memory arrays as chunk items (a callable, so LitData's worker processes can take it).

    Args:
        features: ``(N, *input_shape)`` raw ``float32`` features.
        targets: ``(N,)`` or ``(N, T)`` targets.
    """

    def __init__(self, features: np.ndarray, targets: np.ndarray) -> None:
        self.features, self.targets = features, targets

    def __call__(self, rows: Sequence[int]) -> Iterator[dict[str, Any]]:
        """Yield the items of a block of rows.

        Args:
            rows: Row numbers.

        Yields:
            ``{"x": features, "y": target, "id": row}``.
        """
        for row in rows:
            yield {"x": self.features[row], "y": np.asarray(self.targets[row]), "id": int(row)}


def image_item(sample: tuple[str, int]) -> dict[str, Any]:
    """An image file as a chunk item.

    Args:
        sample: ``(path, class index)``.

    Returns:
        ``{"image": the file's bytes, "y": class, "id": the path, UTF-8}``.

    Raises:
        DataError: If the file cannot be read.
    """
    path, label = sample
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read image {path!r} ({exc})") from None
    # the path as bytes: LitData stores a str naming a file as that file's contents, a second copy of the image
    return {"image": data, "y": int(label), "id": str(path).encode()}


def _array_plan(datamodule: Any) -> tuple[dict[str, Any], dict[str, list[Any]], Any, Any]:  # noqa: ANN401
    """What an array datamodule's chunks hold: kind details, each split's inputs, the writer, the content hash."""
    datamodule.setup()
    split = datamodule.split()
    assert datamodule.targets is not None  # labelled: checked by the caller
    digest = hashlib.sha256()
    inputs: dict[str, list[Any]] = {}
    for name in SPLITS:
        rows = np.asarray(getattr(split, name), dtype=np.int64)
        if not len(rows):
            continue
        digest.update(name.encode())
        for lo in range(0, len(rows), 1 << 16):
            block = rows[lo : lo + (1 << 16)]
            digest.update(np.ascontiguousarray(datamodule.features[block]).tobytes())
            digest.update(np.ascontiguousarray(datamodule.targets[block]).tobytes())
        inputs[name] = [rows[lo : lo + 256].tolist() for lo in range(0, len(rows), 256)]
    transform = datamodule.train_transform()
    details = {
        "max_shift": int(getattr(transform, "max_shift", 0) or 0),  # Digits' RandomShift, the one array augmentation
        "feature_names": getattr(datamodule, "feature_names", None),
    }
    return details, inputs, ArrayItems(datamodule.features, datamodule.targets), digest


def _image_plan(datamodule: Any) -> tuple[dict[str, Any], dict[str, list[Any]], Any, Any]:  # noqa: ANN401
    """What an image datamodule's chunks hold (see :func:`_array_plan`)."""
    from lit_nn.data.redundancy import file_keys

    digest = hashlib.sha256()
    inputs: dict[str, list[Any]] = {}
    for name in SPLITS:
        samples = datamodule.samples.get(name) or []
        if not samples:
            continue
        digest.update(name.encode())
        digest.update(file_keys([path for path, _ in samples]).tobytes())
        digest.update(np.asarray([label for _, label in samples], dtype=np.int64).tobytes())
        inputs[name] = [(str(path), int(label)) for path, label in samples]
    details = {
        "image_size": int(datamodule.image_size),
        "resize": int(datamodule.resize),
        "augment": bool(datamodule.augment),
        "mean": list(datamodule.mean),
        "std": list(datamodule.std),
    }
    return details, inputs, image_item, digest


def _kind_of(datamodule: Any) -> str:  # noqa: ANN401
    from lit_nn.data.arrays import ArrayDataModule
    from lit_nn.data.image_folder import ImageFolderDataModule

    if isinstance(datamodule, ArrayDataModule):
        return "arrays"
    if isinstance(datamodule, ImageFolderDataModule):
        return "images"
    raise DataError(
        f"lit-nn data optimize writes lit_nn's array datamodules (digits, csv, …) and image folders; "
        f"{type(datamodule).__name__} is neither"
    )


def _jsonable(value: Any) -> Any:  # noqa: ANN401
    return json.loads(json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))


def write_chunks(
    datamodule: Any,  # noqa: ANN401 (a lit_nn datamodule)
    output: str,
    source: dict[str, Any],
    size_names: Sequence[str],
    chunk_bytes: str = "64MB",
    workers: int = 1,
) -> dict[str, Any]:
    """Write a datamodule's splits to LitData chunks under ``output``, then the manifest.

    The manifest is written last: a folder without one is not a finished chunk folder.

    Args:
        datamodule: The source datamodule, built (not set up).
        output: An empty or new folder.
        source: ``{"class_path": …, "init_args": …}``, for the manifest.
        size_names: The attributes that size a model (``num_classes``, ``num_targets`` …).
        chunk_bytes: LitData's largest chunk.
        workers: LitData's writer processes.

    Returns:
        The manifest.

    Raises:
        DataError: For a datamodule whose data cannot be written (unlabelled, absent, neither arrays
            nor images), or a folder that is not empty.
    """
    from litdata import optimize

    kind = _kind_of(datamodule)
    if datamodule.absent is not None or not datamodule.labelled:
        raise DataError(f"{datamodule.describe_source()} is not training data (no targets, or gone): nothing to write")
    if is_url(output):
        raise DataError(
            f"--output {output}: write the chunks to a local folder, then copy it to the bucket "
            "(aws s3 sync DIR s3://bucket/prefix); training streams from the URL (docs/cluster.md)"
        )
    folder = Path(output).expanduser()
    if folder.exists() and any(folder.iterdir()):
        raise DataError(f"--output {folder} is not empty; give a new folder (chunks are never written over)")
    details, inputs, writer, digest = (_array_plan if kind == "arrays" else _image_plan)(datamodule)
    state = _jsonable(datamodule.state_dict())
    sizes = {name: int(getattr(datamodule, name)) for name in size_names if getattr(datamodule, name, None) is not None}
    described = {
        "format": FORMAT,
        "kind": kind,
        "task": getattr(datamodule, "task", "multiclass"),
        "input_shape": [int(d) for d in datamodule.input_shape],
        "sizes": sizes,
        "class_names": getattr(datamodule, "class_names", None),
        "batch_size": int(datamodule.batch_size),
        "source": _jsonable(source),
        "state": state,
        kind: _jsonable(details),
    }
    digest.update(json.dumps({k: described[k] for k in ("kind", "task", "input_shape", "sizes", "class_names",
                                                         "state", kind)}, sort_keys=True).encode())  # fmt: skip
    splits: dict[str, Any] = {}
    for name, blocks in inputs.items():
        optimize(fn=writer, inputs=blocks, output_dir=str(folder / name), chunk_bytes=chunk_bytes,
                 num_workers=workers, reorder_files=False, verbose=False)  # fmt: skip
        index = json.loads((folder / name / INDEX).read_text())
        chunks = [{"file": c["filename"], "bytes": (folder / name / c["filename"]).stat().st_size}
                  for c in index["chunks"]]  # fmt: skip
        count = sum(len(block) for block in blocks) if kind == "arrays" else len(blocks)
        splits[name] = {"samples": count, "chunks": chunks}
    manifest = {**described, "splits": splits, "hash": digest.hexdigest()}
    write_text(folder / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    return manifest


def _read_remote(url: str) -> bytes:
    """The bytes of an object in an ``s3://`` bucket (boto3, which LitData installs)."""
    if not url.startswith("s3://"):
        raise DataError(f"{url}: lit_nn reads chunk manifests from s3:// URLs or local folders")
    import boto3

    bucket, _, key = url.removeprefix("s3://").partition("/")
    try:
        body: bytes = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:  # botocore's errors: no credentials, no such key, no network
        raise DataError(f"cannot read {url} ({type(exc).__name__}: {exc})") from None
    return body


def read_manifest(root: str) -> dict[str, Any]:
    """Read and check a chunk folder's manifest, and (for a local folder) that every chunk is whole.

    Args:
        root: The chunk folder or URL ``lit-nn data optimize`` wrote.

    Returns:
        The manifest.

    Raises:
        DataError: For a folder that is missing, holds no manifest (not a chunk folder, or one still
            being written), a manifest of another format, or a chunk that is missing or truncated.
    """
    fix = "give the folder `lit-nn data optimize -c CONFIG --output DIR` wrote"
    if is_url(root):
        text = _read_remote(f"{root.rstrip('/')}/{MANIFEST}").decode()
    else:
        folder = Path(root).expanduser()
        if not folder.is_dir():
            raise DataError(f"chunk folder {str(folder)!r} does not exist; {fix}")
        try:
            text = (folder / MANIFEST).read_text()
        except OSError:
            raise DataError(f"{folder} holds no {MANIFEST}, so it is not a chunk folder lit_nn wrote; {fix}") from None
    try:
        manifest = json.loads(text)
    except ValueError:
        raise DataError(f"{root}/{MANIFEST} is not JSON; {fix}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise DataError(
            f"{root}/{MANIFEST} is not a lit_nn chunk manifest (format {found!r}, expected {FORMAT}); {fix}"
        )
    if not is_url(root):
        _check_chunks(Path(root).expanduser(), manifest)
    return manifest


def _check_chunks(folder: Path, manifest: dict[str, Any]) -> None:
    """Refuse a chunk that is missing, or whose size is not what was written (truncated, replaced)."""
    for name, split in manifest["splits"].items():
        for chunk in split["chunks"]:
            path = folder / name / chunk["file"]
            try:
                size = path.stat().st_size
            except OSError:
                raise DataError(f"chunk {path} is missing; copy the whole chunk folder again") from None
            if size != chunk["bytes"]:
                raise DataError(
                    f"chunk {path} has {size} bytes, {chunk['bytes']} were written: it is truncated or damaged; "
                    "copy the chunk folder again (or run lit-nn data optimize again)"
                )
