"""Freezing the imported objects: they leave the collector's generations, later garbage does not."""

from __future__ import annotations

import gc

from lit_nn.cli.heap import freeze_imports


def test_imported_objects_are_frozen_and_new_garbage_is_still_collected():
    try:
        frozen = freeze_imports()
        assert frozen > 1000 and frozen == gc.get_freeze_count()

        class Cycle:
            pass

        first, second = Cycle(), Cycle()
        first.other, second.other = second, first
        gc.callbacks.append(lambda phase, info: None)
        del first, second
        assert gc.collect() >= 2  # a cycle made after the freeze is found and freed
    finally:
        gc.callbacks.pop()
        gc.unfreeze()
