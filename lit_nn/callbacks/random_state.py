"""Random number generator states in every checkpoint, so a resumed run draws what the first would have."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback


def capture() -> dict[str, Any]:
    """The state of every generator a training step may draw from.

    Returns:
        Tensors and plain values only, so checkpoints stay loadable with ``weights_only=True``.
    """
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    version, internal, python_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "python": {"version": int(version), "internal": list(internal), "gauss": python_gauss},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore(state: dict[str, Any]) -> None:
    """Put the generators back where :func:`capture` found them.

    Args:
        state: What :func:`capture` returned.
    """
    torch.set_rng_state(state["torch"])
    numpy = state["numpy"]
    keys = numpy["keys"].numpy().astype(np.uint32)
    np.random.set_state((numpy["kind"], keys, numpy["position"], numpy["has_gauss"], numpy["gauss"]))
    python = state["python"]
    random.setstate((python["version"], tuple(python["internal"]), python["gauss"]))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


class RandomState(Callback):
    """Save the generators' states with each checkpoint; restore them when training resumes.

    Data order does not depend on them (lit_nn's samplers draw each epoch's order from the seed and
    the epoch number), but dropout, noise and augmentation in the main process do. The states are
    restored as the checkpoint is read, before Lightning fetches the first resumed batch (which may
    already draw for augmentation); lit_nn's loaders carry their own generators, so nothing between
    the two draws from the global ones. A run resumed from an end-of-epoch checkpoint then repeats
    the uninterrupted run exactly.
    """

    def state_dict(self) -> dict[str, Any]:
        """The generators' states now.

        Returns:
            See :func:`capture`.
        """
        return capture()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Put the generators back where they were when the checkpoint was written.

        Args:
            state_dict: What :meth:`state_dict` returned then.
        """
        restore(state_dict)
