"""Reading checkpoints safely: tensors and plain values only, never code.

Every checkpoint lit_nn opens goes through :func:`load_checkpoint` first, which loads it with
``torch.load(weights_only=True)``. A file that carries pickled Python objects (a class, a function,
``os.system`` …) is refused before anything in it runs; a truncated or corrupt file is named as
such, so the user picks another one instead of reading a stack trace.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from lit_nn.errors import LitNNError


class CheckpointError(LitNNError):
    """A checkpoint that is missing, unsafe, corrupt or not a lit_nn checkpoint."""


def _unsafe_global(message: str) -> str:
    """The ``module.name`` torch refused, from its weights-only error message."""
    found = re.search(r"GLOBAL ([\w.]+)", message)
    return found.group(1) if found else "a Python object"


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint without running any code from it.

    Args:
        path: The checkpoint file.

    Returns:
        The checkpoint dictionary (tensors on the CPU).

    Raises:
        CheckpointError: If the file is missing, carries pickled code, or is corrupt or truncated,
            saying which and what to do.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}; check the path, or use --ckpt_path best|last")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Weights only load failed" not in str(exc):
            raise CheckpointError(f"checkpoint {path} is corrupt ({exc}); use another checkpoint") from None
        raise CheckpointError(
            f"refusing to load checkpoint {path}: it carries pickled code ({_unsafe_global(str(exc))}), and lit_nn "
            "only loads tensors and plain values, so nothing in it was run. Use a checkpoint written by lit-nn fit; "
            "if you made this file yourself and trust it, save its state_dict with plain values instead"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        first = str(exc).strip().splitlines()[0].split(". ")[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated ({first}); it may have been cut off while copying. "
            "Use another checkpoint, e.g. --ckpt_path best or an earlier file in the same folder"
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(
            f"{path} is not a Lightning checkpoint (it has no state_dict); pass a .ckpt file written by lit-nn fit"
        )
    return checkpoint
