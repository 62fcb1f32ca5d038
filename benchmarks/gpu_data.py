"""The datamodule of ``benchmarks/gpu.py``'s throughput step: lit_nn's image folder, its training batches decoded ahead.

``lit-nn fit`` is given it by class path (``--data benchmarks.gpu_data.CachedImageFolder``), so the
fit runs through lit_nn's own command line on exactly the tensors the hand-written loop gets.
"""

from __future__ import annotations

from typing import Any

from torch.utils.data import DataLoader

from lit_nn.data.image_folder import ImageFolderDataModule

CACHE: list[tuple[Any, Any]] = []
"""The decoded ``(uint8 images, labels)`` batches, set before the fit."""


class CachedImageFolder(ImageFolderDataModule):
    """lit_nn's image folder datamodule; its training loader yields :data:`CACHE`'s batches, ``steps`` per epoch.

    Validation, test and the batches' normalisation on the device (``on_after_batch_transfer``)
    are the image folder's own.

    Args:
        root: The image folder.
        image_size: The crops' side (the cached batches').
        batch_size: Images per batch (the cached batches').
        steps: Batches per epoch, cycling through the cache.
    """

    def __init__(self, root: str, image_size: int = 224, batch_size: int = 256, steps: int = 40) -> None:
        super().__init__(root=root, image_size=image_size, batch_size=batch_size, num_workers=0)
        self.steps = steps

    def train_dataloader(self) -> DataLoader:
        """The cached batches (already decoded, and pinned on a GPU machine), in order.

        Returns:
            The loader.
        """
        return DataLoader([CACHE[i % len(CACHE)] for i in range(self.steps)], batch_size=None)
