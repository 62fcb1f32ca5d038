"""Child processes that end with their parent."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """Have Linux send this process SIGTERM when the process that started it dies.

    Helper processes (LitServe's HTTP server, queue manager and inference workers; a sweep's
    extra workers) do not watch the process that started them; if that is killed outright
    (SIGKILL, the OOM killer) they would live on, holding a port or a trial. Elsewhere than Linux
    this does nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)
