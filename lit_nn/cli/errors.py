"""One clear line for users, the traceback only when debugging is asked for."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import warnings
from collections.abc import Iterator
from typing import Any, TextIO

from lit_nn.cli.run_folders import process_rank
from lit_nn.env import TRUE
from lit_nn.errors import LitNNError, LitNNWarning

DEBUG_ENV = "LIT_NN_DEBUG"


def debugging() -> bool:
    """Whether the user asked for tracebacks.

    Returns:
        True when ``LIT_NN_DEBUG`` is set to a true value (any other value counts as no: the
        setting that asks for tracebacks must not itself end in an error).
    """
    return os.environ.get(DEBUG_ENV, "").strip().lower() in TRUE


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn errors into one ``lit-nn: error: …`` line and a non-zero exit.

    A :class:`~lit_nn.errors.LitNNError` (bad input the user can fix) or a full disk exits with
    status 2, any other exception with status 1, a stop on SIGTERM with 143 (128 + 15, as a process
    killed by it). With ``LIT_NN_DEBUG=1`` the exception propagates unchanged.

    Yields:
        Nothing.

    Raises:
        SystemExit: With status 2, 1 or 143 after printing the message.
    """
    show = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        yield
    except BrokenPipeError:  # the reader went away (`lit-nn plugins | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None
    except SystemExit as exc:
        if type(exc).__name__ == "SIGTERMException":  # Lightning's stop on SIGTERM: exit as a terminated process does
            raise SystemExit(128 + signal.SIGTERM) from None
        raise
    except LitNNError as exc:
        if debugging():
            raise
        print(f"lit-nn: error: {worker_message(str(exc))}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as exc:
        if debugging():
            raise
        if isinstance(exc, OSError) and exc.errno in WRITE_ERRORS:
            print(f"lit-nn: error: {write_error(exc)}", file=sys.stderr)
            raise SystemExit(2) from None
        print(
            f"lit-nn: error: {type(exc).__name__}: {exc}\n(set {DEBUG_ENV}=1 to see the traceback)",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    finally:
        warnings.showwarning = show


WRITE_ERRORS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EFBIG: "the file grew beyond the size this process may write",
    errno.EROFS: "the file system is read-only",
}
"""Errors of writing output, which a user fixes outside lit_nn (free space, another folder)."""


def worker_message(message: str) -> str:
    """The original message of an error raised in a DataLoader worker.

    PyTorch re-raises a worker's exception in the main process with the worker's traceback in
    its message; the user needs only the last line.

    Args:
        message: The exception's message.

    Returns:
        The worker's own message, or ``message`` unchanged when it did not come from a worker.
    """
    if not message.startswith("Caught ") or "Original Traceback" not in message:
        return message
    last = message.rstrip().splitlines()[-1]
    return last.split(": ", 1)[1] if ": " in last else last


def write_error(exc: OSError) -> str:
    """Say which file could not be written, why, and what to do.

    Args:
        exc: The error of a failed write.

    Returns:
        One line for the user.
    """
    where = f" {exc.filename}" if exc.filename else ""
    return (
        f"cannot write{where}: {WRITE_ERRORS[exc.errno]} ({exc.strerror}). Free some space or point --run.root "
        "at a folder you can write to; files written before, earlier checkpoints included, are untouched"
    )


_default_showwarning = warnings.showwarning


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
    **_: Any,
) -> None:
    if issubclass(category, LitNNWarning) and not debugging():
        print(f"lit-nn: warning: {message}", file=file or sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


def notice(message: str) -> None:
    """Say in one line what the command chose (rank zero only; on stderr, beside Lightning's own notes).

    Args:
        message: The line, without the ``lit-nn:`` prefix.
    """
    if process_rank(os.environ) == 0:
        print(f"lit-nn: {message}", file=sys.stderr, flush=True)
