"""The terminal: one-line notes to the person there (rank zero only), and output sent elsewhere for a while."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path


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


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[None]:
    """Send everything this process prints (Python, C libraries, child processes) to a file for a while.

    Args:
        path: The file (appended to: a trial carried on keeps its first part).

    Yields:
        Nothing, with standard output and error in the file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(path, "a", buffering=1) as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):  # where sys.stdout is not fd 1
                yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
