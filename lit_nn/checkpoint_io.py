"""Lightning's checkpoint input and output, through lit_nn's gate: safe reads, atomic writes.

Lightning reads a checkpoint wherever it restores one — a resumed fit, a tested file, SLURM's
automatic ``hpc_ckpt_N.ckpt`` restore — through the strategy's ``CheckpointIO`` plugin, its
extension point for exactly this. :class:`GatedCheckpointIO` sends every such read through
:func:`lit_nn.checkpoints.load_checkpoint` (tensors and plain values only, the same check and
message whichever path found the file), or gives back the copy the command's
:class:`~lit_nn.checkpoint_route.CheckpointRoute` already read when it is that file; and it writes
every checkpoint beside its final name first, then renames it, so a kill at any moment leaves the
previous file whole.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from lit_nn.atomic import atomic_write
from lit_nn.checkpoints import load_checkpoint


class HeldCheckpoint(Protocol):
    """A checkpoint already read through the gate (:class:`~lit_nn.checkpoint_route.CheckpointRoute`)."""

    checkpoint: dict[str, Any] | None

    def holds(self, path: str | os.PathLike[str]) -> bool:
        """Whether ``path`` is the file held."""


class GatedCheckpointIO(TorchCheckpointIO):
    """Read checkpoints through lit_nn's gate; write them atomically in their own folder.

    Args:
        held: The command's checkpoint, already read: Lightning gets that copy when it restores the
            same file, so a command reads its checkpoint once.
    """

    def __init__(self, held: HeldCheckpoint | None = None) -> None:
        super().__init__()
        self.held = held

    def load_checkpoint(
        self,
        path: str | os.PathLike,
        map_location: Callable[..., Any] | None = None,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        """Load a checkpoint with :func:`lit_nn.checkpoints.load_checkpoint`, whatever is asked.

        Args:
            path: The checkpoint file.
            map_location: Ignored: the gate loads on the CPU and Lightning moves the state.
            weights_only: Ignored: lit_nn always loads tensors and plain values only.

        Returns:
            The checkpoint.
        """
        if self.held is not None and self.held.checkpoint is not None and self.held.holds(path):
            return self.held.checkpoint
        return load_checkpoint(path)

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None) -> None:  # noqa: ANN401
        """Write a checkpoint beside its name, flush it to disk, then rename it into place.

        Args:
            checkpoint: The state.
            path: The file to (re)place.
            storage_options: Not supported (as in Lightning's ``TorchCheckpointIO``).

        Raises:
            TypeError: If ``storage_options`` is given.
        """
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} does not take storage_options")
        import io

        import torch

        buffer = io.BytesIO()  # serialised first (as Lightning does): a full disk is then an OSError naming the file
        torch.save(checkpoint, buffer)
        with atomic_write(Path(path)) as handle:
            handle.write(buffer.getbuffer())
