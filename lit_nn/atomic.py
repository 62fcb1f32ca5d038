"""Writing a file so that a kill at any moment leaves either the old file or the new one, whole."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path``; on success flush it to disk and rename it to ``path``.

    The temporary file lives in ``path``'s own folder (a rename across file systems would copy),
    so the rename is atomic; on any error it is removed and ``path`` is left as it was.

    Args:
        path: The file to write.

    Yields:
        The temporary file, open for binary writing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.partial"):  # left by a writer that was killed
        with contextlib.suppress(OSError):
            stale.unlink()
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
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
