"""One clear line for users, the traceback only when debugging is asked for."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any, TextIO

from lit_nn.errors import LitNNError, LitNNWarning

DEBUG_ENV = "LIT_NN_DEBUG"


def debugging() -> bool:
    """Whether the user asked for tracebacks.

    Returns:
        True when ``LIT_NN_DEBUG`` is set to a true value.
    """
    return os.environ.get(DEBUG_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn errors into one ``lit-nn: error: …`` line and a non-zero exit.

    A :class:`~lit_nn.errors.LitNNError` (bad input the user can fix) exits with status 2, any
    other exception with status 1. With ``LIT_NN_DEBUG=1`` the exception propagates unchanged.

    Yields:
        Nothing.

    Raises:
        SystemExit: With status 2 or 1 after printing the message.
    """
    show = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        yield
    except BrokenPipeError:  # the reader went away (`lit-nn plugins | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None
    except LitNNError as exc:
        if debugging():
            raise
        print(f"lit-nn: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as exc:
        if debugging():
            raise
        print(
            f"lit-nn: error: {type(exc).__name__}: {exc}\n(set {DEBUG_ENV}=1 to see the traceback)",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    finally:
        warnings.showwarning = show


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
