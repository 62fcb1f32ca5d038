"""Keep the garbage collector off the objects that importing torch and Lightning created.

Importing torch, Lightning, torchmetrics and their dependencies leaves a few hundred thousand
long-lived objects (modules, functions, classes) that Python's cyclic garbage collector walks on
every full collection during the run, and once more when the interpreter exits. Moving them to
the permanent generation (:func:`gc.freeze`) skips that work; nothing they refer to is freed
later anyway. The collector is also kept off while those imports run (:func:`collector_off`):
each of its passes over the growing heap finds nothing to free. What it saves:
docs/performance.md.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


def freeze_imports() -> int:
    """Move every object the collector tracks now into the permanent generation.

    Call it once the command's imports are done; objects created afterwards are collected as usual.

    Returns:
        How many objects are frozen in all.
    """
    gc.freeze()
    return gc.get_freeze_count()


@contextlib.contextmanager
def collector_off(freeze: bool = True) -> Iterator[None]:
    """Run the imports inside with the collector off, then freeze what they made (:func:`freeze_imports`).

    The collector is switched back on afterwards, whatever happens inside, if it was on before.

    Args:
        freeze: Freeze the objects on the way out (only when the command is the whole process);
            otherwise only the collector's passes are skipped.

    Yields:
        Nothing.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
        if freeze:
            freeze_imports()
    finally:
        if was_on:
            gc.enable()
