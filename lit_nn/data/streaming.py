"""Training from LitData chunks (``lit-nn data optimize``), locally or streamed from object storage.

Shuffling, sharding across DDP ranks and nodes, and resuming mid-epoch are LitData's
(``StreamingDataset``, ``StreamingDataLoader``): Lightning keeps a stateful training loader's
``state_dict()`` in every checkpoint and gives it back on resume, so an epoch carried on from a
mid-epoch checkpoint neither repeats nor skips samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from lit_nn.data.base import DataError, SplitDataModule, check_positive
from lit_nn.data.chunks import MANIFEST, is_url, read_manifest, split_dir
from lit_nn.data.fitted import fitted_state, gone_line, training_data_gone
from lit_nn.data.images import ImageTransform, decode_image

STATE_KEY = "streaming"
"""The key of the chunk folder's description in the datamodule's ``state_dict()`` (beside the source's state)."""


class ChunkBatches:
    """Collate chunk items into the source datamodule's batches (a callable: loader workers take it).

    Args:
        kind: ``arrays`` or ``images``.
        task: The task (``regression`` targets are ``float32``, class labels ``int64``).
        transform: Images: the split's crop and collate; ``None`` for arrays.
        max_shift: Arrays: Digits' random shift for training batches (0: none).
        resize: Images: the side to decode at.
    """

    def __init__(
        self, kind: str, task: str, transform: ImageTransform | None, max_shift: int = 0, resize: int = 0
    ) -> None:
        self.kind, self.task, self.transform, self.max_shift, self.resize = kind, task, transform, max_shift, resize

    def __call__(self, items: Sequence[dict[str, Any]]) -> Any:  # noqa: ANN401 (a batch)
        """Build one batch.

        Args:
            items: Chunk items.

        Returns:
            ``(features, targets)`` as the source datamodule's loader yields them (raw features:
            standardised on the device, :meth:`StreamingDataModule.on_after_batch_transfer`).
        """
        if self.transform is not None:
            decode = decode_image
            crops = [(self.transform.crop(decode(bytes(it["image"]), self.resize, str(sample_id(it["id"])))),
                      int(it["y"])) for it in items]  # fmt: skip
            return self.transform.collate(crops)
        x = torch.from_numpy(np.stack([np.asarray(it["x"], dtype=np.float32) for it in items]))
        if self.max_shift:
            from lit_nn.data.bundled import RandomShift

            x = RandomShift(self.max_shift)(x)
        y = torch.from_numpy(np.stack([np.asarray(it["y"]) for it in items]))
        return x, y.to(torch.float32 if self.task == "regression" else torch.int64)


class ChunkSplit(Dataset):
    """A split's chunks read by index (LitData's random access), for the evaluation loaders.

    Args:
        dataset: The split's ``StreamingDataset``, unshuffled.
        count: Its samples, all ranks' (under DDP a ``StreamingDataset``'s length is its rank's share).
    """

    def __init__(self, dataset: Any, count: int) -> None:  # noqa: ANN401 (a StreamingDataset)
        self.dataset, self.count = dataset, count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict[str, Any]:
        return cast(dict[str, Any], self.dataset[index])


class StreamingDataModule(SplitDataModule):
    """The splits ``lit-nn data optimize`` wrote, streamed by LitData, batched as their source batched them.

    The same task, ``input_shape``, class or target count and class names as the source
    datamodule, and its fitted state (standardisation, CSV encoding, image normalisation) as this
    datamodule's own ``state_dict()``, so a checkpoint trained here predicts, exports and serves as
    one trained on the source. Given to a trained model, the folder must hold the chunks it was
    trained on (the manifest's content hash); where they are gone, the checkpoint alone builds it.

    Args:
        path: The chunk folder, or its URL in object storage (``s3://bucket/prefix``).
        batch_size: Samples per batch; ``None``: the source datamodule's.
        num_workers: Loader worker processes (each streams its share of the chunks).
        cache_dir: Where chunks streamed from a URL are kept (LitData's default: under ``~/.lightning``).
        max_cache_size: The most the cache may hold (``"50GB"``).
        drop_last: LitData's ``drop_last`` for training; ``None``: its default, ``False`` on one process
            (every sample once an epoch) and ``True`` under DDP, where every rank must step as often:
            the fewer than ``ranks x batch_size`` samples left over are left out of the epoch, different
            ones every epoch. Evaluation reads every sample (under DDP sharded as the other
            datamodules' are, by Lightning's ``DistributedSampler``).
    """

    content_basis = "chunks"

    def __init__(
        self,
        path: str,
        batch_size: int | None = None,
        num_workers: int = 0,
        cache_dir: str | None = None,
        max_cache_size: str = "100GB",
        drop_last: bool | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if batch_size is not None:
            check_positive("batch_size", batch_size)
        if num_workers < 0:
            raise DataError(f"num_workers must be 0 or more, got {num_workers}")
        self.path = path if is_url(path) else str(Path(path).expanduser())
        self.num_workers, self.cache_dir, self.max_cache_size, self.drop_last = (
            num_workers, cache_dir, max_cache_size, drop_last)  # fmt: skip
        fitted = fitted_state()
        recorded = (fitted or {}).get(STATE_KEY)
        local = None if is_url(self.path) else Path(self.path)
        if recorded is not None and local is not None and training_data_gone(local, recorded.get("path")):
            manifest = recorded
            self.absent = gone_line(local, "folder", "--data.path CHUNK_FOLDER")
        else:
            manifest = read_manifest(self.path)
            if recorded is not None and recorded.get("hash") != manifest["hash"]:
                raise DataError(
                    f"{self.path} holds the chunks of another dataset (content hash {manifest['hash'][:12]}, "
                    f"source {manifest['source'].get('class_path')}); the checkpoint was trained on "
                    f"{recorded.get('path')} (hash {str(recorded.get('hash'))[:12]}): give that chunk folder"
                )
        self.manifest = manifest
        self._describe(manifest)
        self.batch_size = batch_size or int(manifest["batch_size"])

    def _describe(self, manifest: dict[str, Any]) -> None:
        """Take the source datamodule's attributes (what a model and the deploy path read) from the manifest."""
        self.kind, self.task = manifest["kind"], manifest["task"]
        self.input_shape = tuple(manifest["input_shape"])
        for name, value in manifest["sizes"].items():
            setattr(self, name, int(value))
        self.class_names = manifest.get("class_names")
        self.fitted_source_state: dict[str, Any] = dict(manifest["state"])
        state = self.fitted_source_state
        self.counts = {name: int(split["samples"]) for name, split in manifest["splits"].items()}
        self.feature_stats: tuple[Tensor, Tensor] | None = None
        self.target_stats: tuple[Tensor, Tensor] | None = None
        if self.kind == "images":
            images = manifest["images"]
            self.image_size, self.resize, self.augment = images["image_size"], images["resize"], images["augment"]
            self.mean, self.std = tuple(images["mean"]), tuple(images["std"])
            self.normaliser = self.transform(train=False)
            return
        self.max_shift = int(manifest["arrays"].get("max_shift", 0))
        if manifest["arrays"].get("feature_names") is not None:
            self.feature_names = list(manifest["arrays"]["feature_names"])
        if "encoding" in state:
            self.encoding = {k: v for k, v in state["encoding"].items() if k != "source"}
        if "feature_mean" in state:
            self.feature_stats = (torch.tensor(state["feature_mean"]), torch.tensor(state["feature_std"]))
        if "target_mean" in state:
            self.target_stats = (torch.tensor(state["target_mean"]), torch.tensor(state["target_std"]))

    def state_dict(self) -> dict[str, Any]:
        """The source datamodule's fitted state, and what the chunk folder is, for checkpoints.

        Returns:
            The source's ``state_dict()`` with the manifest (less its chunk list) and the folder under
            :data:`STATE_KEY`.
        """
        recorded = {k: v for k, v in self.manifest.items() if k != "splits"}
        recorded["splits"] = {name: {"samples": count, "chunks": []} for name, count in self.counts.items()}
        recorded["path"] = self.manifest.get("path") or (
            self.path if is_url(self.path) else str(Path(self.path).resolve()))  # fmt: skip
        return {**self.fitted_source_state, STATE_KEY: recorded}

    def describe_source(self) -> str:
        """Name the data for messages.

        Returns:
            The chunk folder or URL.
        """
        return self.path

    def missing_split(self, split: str) -> str | None:
        """Say why a split has no chunks.

        Args:
            split: ``"train"``, ``"val"`` or ``"test"``.

        Returns:
            What to do, or ``None`` when the split was written.
        """
        if self.counts.get(split):
            return None
        return (
            f"{self.path} has no {split} chunks: its source ({self.manifest['source'].get('class_path')}) had no "
            f"{split} split; give the source one (--data.{split}_fraction 0.1, or a {split}/ folder) and run "
            "lit-nn data optimize again"
        )

    def transform(self, train: bool) -> ImageTransform:
        """The image transform of one split (images only), as the image datamodule builds it.

        Args:
            train: Training (random crop and flip when the source augmented) or evaluation.

        Returns:
            The transform.
        """
        return ImageTransform(self.image_size, self.resize, self.mean, self.std, augment=train and self.augment)

    def dataset(self, split: str, shuffle: bool = False) -> Any:  # noqa: ANN401 (a StreamingDataset)
        """LitData's dataset of one split's chunks.

        Args:
            split: ``"train"``, ``"val"`` or ``"test"``.
            shuffle: Shuffle (LitData's: chunks, then samples within them, seeded by the run's seed and the epoch).

        Returns:
            A ``StreamingDataset`` (``drop_last`` as asked for training).

        Raises:
            DataError: If the split has no chunks.
        """
        from litdata import StreamingDataset

        missing = self.missing_split(split)
        if missing:
            raise DataError(missing)
        options: dict[str, Any] = {"max_cache_size": self.max_cache_size}
        if self.cache_dir is not None:
            options["cache_dir"] = self.cache_dir
        drop_last = self.drop_last if split == "train" else None
        return StreamingDataset(split_dir(self.path, split), shuffle=shuffle, drop_last=drop_last,
                                seed=torch.initial_seed() % (1 << 32), **options)  # fmt: skip

    def loader(self, split: str, shuffle: bool = False) -> DataLoader:
        """A LitData loader of one split's chunks.

        Args:
            split: ``"train"``, ``"val"`` or ``"test"``.
            shuffle: Shuffle (LitData's: chunks, then samples within them, seeded by the run's seed and the epoch).

        Returns:
            For training, a ``StreamingDataLoader`` (stateful: Lightning saves and restores its place
            mid-epoch; LitData shards it across ranks and nodes); for evaluation, a loader of
            :class:`ChunkSplit`, every sample in order.

        Raises:
            DataError: If the split has no chunks.
        """
        from litdata import StreamingDataLoader

        train = split == "train"
        dataset = self.dataset(split, shuffle)
        if self.kind == "images":
            collate = ChunkBatches("images", self.task, self.transform(train=train), resize=self.resize)
        else:
            collate = ChunkBatches("arrays", self.task, None, self.max_shift if train else 0)
        if not train:
            # Evaluation reads the chunks by index, in order, as a map-style dataset: under DDP Lightning gives it
            # a DistributedSampler as it does every other datamodule's (LitData's own sharding would leave a rank
            # without a batch when a split has fewer than ranks x batch_size samples)
            return DataLoader(ChunkSplit(dataset, self.counts[split]), batch_size=self.batch_size,
                              num_workers=self.num_workers, collate_fn=collate)  # fmt: skip
        return StreamingDataLoader(dataset, batch_size=self.batch_size, num_workers=self.num_workers,
                                   collate_fn=collate)  # fmt: skip

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:  # noqa: ANN401 (a loader's batch)
        """Normalise images, or standardise features, on the device the batch was moved to (Lightning's hook).

        Args:
            batch: ``(inputs, targets)`` or inputs alone.
            dataloader_idx: Which loader (unused).

        Returns:
            The batch as the source datamodule hands it to the task.
        """
        pair = isinstance(batch, (tuple, list))
        inputs = batch[0] if pair else batch
        if self.kind == "images":
            if inputs.dtype != torch.uint8:
                return batch
            inputs = self.normaliser.normalise(inputs)
        elif self.feature_stats is not None:
            mean, std = (t.to(inputs.device) for t in self.feature_stats)
            inputs = (inputs - mean) / std
        return (inputs, *batch[1:]) if pair else inputs

    def predict_split(self) -> str:
        """The test chunks if there are any, else the validation chunks.

        Sets ``predict_ids`` to the ids the chunks keep of their source's samples (row numbers of a
        table, image paths), in order, for the prediction file: one more read of the split's chunks.

        Returns:
            ``"test"`` or ``"val"``.
        """
        split = "test" if self.counts.get("test") else "val"
        if self.counts.get(split) and self.absent is None:
            self.predict_ids = [sample_id(item["id"]) for item in self.dataset(split)]
        return split


def sample_id(value: Any) -> int | str:  # noqa: ANN401 (what a chunk kept: a number or a path)
    """A chunk item's ``id`` as the source datamodule's ``predict_ids`` hold it.

    Args:
        value: A row number (LitData may give it as a NumPy integer or a 0-d array) or a path.

    Returns:
        An ``int`` or a ``str``.
    """
    if isinstance(value, (str, bytes)):
        return value.decode() if isinstance(value, bytes) else value
    return int(np.asarray(value).item())


__all__ = ["MANIFEST", "StreamingDataModule"]
