"""Writing a file so that a kill at any moment leaves either the old file or the new one, whole."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

ABANDONED_SECONDS = 3600.0
"""A partial file of a writer on another machine, untouched this long, was left by a writer that died."""


def _writer() -> str:
    """This writer, as partial files name it: ``<host>-<pid>`` (a process of the same host can check it)."""
    return f"{socket.gethostname()}-{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def abandoned(partial: Path, name: str) -> bool:
    """Whether a partial file beside ``name`` was left by a writer that died, rather than one still writing.

    Several processes may write the same file at once (the workers of a sweep, its SLURM array
    tasks on a shared folder); a partial file is another writer's work in progress unless its
    writer, named in the file's name, is gone: a process of this host that no longer runs, or, on
    another host, one that has not touched it for :data:`ABANDONED_SECONDS`.

    Args:
        partial: ``.<name>.<host>-<pid>.<token>.partial``.
        name: The file's own name.

    Returns:
        True when it may be removed.
    """
    writer = partial.name[len(name) + 2 : -len(".partial")].rpartition(".")[0]
    host, _, pid = writer.rpartition("-")
    if not host or not pid.isdigit():
        return True  # a leftover that names no writer
    if host == socket.gethostname():
        return not _alive(int(pid))
    try:
        return time.time() - partial.stat().st_mtime > ABANDONED_SECONDS
    except OSError:
        return False


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path``; on success flush it to disk and rename it to ``path``.

    The temporary file lives in ``path``'s own folder (a rename across file systems would copy),
    so the rename is atomic; on any error it is removed and ``path`` is left as it was. Partial
    files that writers which died left beside ``path`` are removed; those of writers still at work
    (another process writing the same file) are left to them.

    Args:
        path: The file to write.

    Yields:
        The temporary file, open for binary writing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.partial"):  # left by a writer that was killed
        if abandoned(stale, path.name):
            with contextlib.suppress(OSError):
                stale.unlink()
    temporary = path.with_name(f".{path.name}.{_writer()}.{secrets.token_hex(4)}.partial")
    try:
        with temporary.open("xb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(path)  # the file the user knows, for the one-line message
        raise
    with contextlib.suppress(OSError):  # the rename itself survives a power cut once the folder is synced
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def write_text(path: Path, text: str) -> Path:
    """Write a text file atomically (see :func:`atomic_write`).

    Args:
        path: The file.
        text: Its content (UTF-8).

    Returns:
        ``path``.
    """
    with atomic_write(path) as handle:
        handle.write(text.encode("utf-8"))
    return path
