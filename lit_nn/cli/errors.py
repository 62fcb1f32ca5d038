"""One clear line for users, the traceback only when debugging is asked for."""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import signal
import sys
import warnings
from collections.abc import Iterator
from typing import Any, NoReturn, TextIO

from lit_nn.cli.messages import one_line
from lit_nn.env import flag
from lit_nn.errors import LitNNError, LitNNWarning

DEBUG_ENV = "LIT_NN_DEBUG"


def debugging() -> bool:
    """Whether the user asked for tracebacks.

    Returns:
        True when ``LIT_NN_DEBUG`` is set to a true value (any other value counts as no: the
        setting that asks for tracebacks must not itself end in an error).
    """
    return flag(DEBUG_ENV, error=None)


@contextlib.contextmanager
def user_errors(last_word: bool = False) -> Iterator[None]:
    """Turn errors into one ``lit-nn: error: …`` line and a non-zero exit.

    A :class:`~lit_nn.errors.LitNNError` (bad input the user can fix), a full disk or a file
    that cannot be read or written exits with status 2, any other exception with status 1, a stop
    on SIGTERM with 143 (128 + 15, as a process killed by it). With ``LIT_NN_DEBUG=1`` the
    exception propagates unchanged.

    Args:
        last_word: The command is the whole process: print the line when the process exits, after
            whatever libraries print on their way out (W&B's closing lines), so it stays the last.

    Yields:
        Nothing.

    Raises:
        SystemExit: With status 2, 1 or 143 after printing the message.
    """
    show = warnings.showwarning
    warnings.showwarning = _show_warning
    said: list[str] = []
    if last_word:
        atexit.register(lambda: said and print(said[0], file=sys.stderr, flush=True))  # registered first, runs last

    def say(message: str, status: int) -> NoReturn:
        line = f"lit-nn: error: {one_line(message)}"
        if last_word:
            said.append(line)
        else:
            print(line, file=sys.stderr)
        raise SystemExit(status) from None

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
        say(worker_message(str(exc)), 2)
    except Exception as exc:
        if debugging():
            raise
        if isinstance(exc, OSError) and exc.errno in WRITE_ERRORS:
            say(write_error(exc), 2)
        if isinstance(exc, OSError) and exc.filename:  # a file the user named or lit_nn writes: theirs to fix
            say(f"{exc.filename}: {exc.strerror or exc}", 2)
        say(f"{worker_message(f'{type(exc).__name__}: {exc}')} (set {DEBUG_ENV}=1 for the traceback)", 1)
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
        f"cannot write{where}: {WRITE_ERRORS.get(exc.errno or 0, 'an error')} ({exc.strerror}). Free some space "
        "or point --run.root "
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
