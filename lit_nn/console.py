"""One-line notes to the person at the terminal, from rank zero only."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping


def process_rank(environ: Mapping[str, str] | None = None) -> int:
    """The global rank a launcher gave this process (0 when none did).

    Args:
        environ: The process environment (default: ``os.environ``).

    Returns:
        ``RANK`` (torchrun), else ``SLURM_PROCID``, else 0.
    """
    environ = os.environ if environ is None else environ
    return int(environ.get("RANK", environ.get("SLURM_PROCID", "0")))


def notice(message: str) -> None:
    """Say in one line what lit_nn chose (rank zero only; on stderr, beside Lightning's own notes).

    Args:
        message: The line, without the ``lit-nn:`` prefix.
    """
    if process_rank() == 0:
        print(f"lit-nn: {message}", file=sys.stderr, flush=True)
