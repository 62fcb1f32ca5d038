"""Training order that depends only on the seed and the epoch, so a resumed run sees the same batches."""

from __future__ import annotations

from collections.abc import Iterator, Sized
from typing import Any

import torch
from torch.utils.data import RandomSampler


class EpochShuffleSampler(RandomSampler):
    """A new random order every epoch, drawn from ``seed`` and the epoch number alone.

    PyTorch's own shuffling draws each epoch's order from a generator that moves on as it is used,
    so a run resumed from a checkpoint (a fresh generator) would see different batches from an
    uninterrupted one. Lightning calls :meth:`set_epoch` before every epoch, as it does for
    ``DistributedSampler``; under DDP, Lightning replaces this sampler (it is a ``RandomSampler``)
    with a ``DistributedSampler``, which is seeded per epoch the same way.

    Args:
        data_source: The dataset.
        seed: Base seed; the order of epoch ``e`` is a permutation seeded with ``seed + e``.
    """

    def __init__(self, data_source: Sized, seed: int = 0) -> None:
        super().__init__(data_source)
        self.seed, self.epoch = int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order the next iteration yields.

        Args:
            epoch: The epoch number.
        """
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        """Yield the dataset indices in this epoch's order.

        The order is drawn when the first index is asked for, so a ``set_epoch`` between creating
        the iterator and using it (as Lightning does when resuming) still counts.

        Yields:
            Dataset indices, each once.
        """
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        yield from torch.randperm(len(self.data_source), generator=generator).tolist()


def shuffle_options(dataset: Sized, shuffle: bool) -> dict[str, Any]:
    """DataLoader keyword arguments that let a resumed run repeat an uninterrupted one exactly.

    Args:
        dataset: The split's dataset.
        shuffle: Whether to shuffle it (training).

    Returns:
        A private ``generator`` for every loader, so starting one never draws from the global
        generator that dropout and augmentation use (PyTorch draws the workers' base seed from it
        otherwise), and for training an :class:`EpochShuffleSampler` seeded from the run's seed.
    """
    seed = torch.initial_seed()  # the run's seed: LightningCLI seeds everything before building the data
    options: dict[str, object] = {"generator": torch.Generator().manual_seed(seed)}
    if shuffle:
        options["sampler"] = EpochShuffleSampler(dataset, seed)
    return options
