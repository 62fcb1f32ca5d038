"""Keep the garbage collector off the objects that importing torch and Lightning created.

Importing torch, Lightning, torchmetrics and their dependencies leaves a few hundred thousand
long-lived objects (modules, functions, classes) that Python's cyclic garbage collector walks on
every full collection during the run, and once more when the interpreter exits. Moving them to
the permanent generation (:func:`gc.freeze`) skips that work; nothing they refer to is freed
later anyway. What it saves: docs/performance.md.
"""

from __future__ import annotations

import gc


def freeze_imports() -> int:
    """Move every object the collector tracks now into the permanent generation.

    Call it once the command's imports are done; objects created afterwards are collected as usual.

    Returns:
        How many objects are frozen in all.
    """
    gc.freeze()
    return gc.get_freeze_count()
