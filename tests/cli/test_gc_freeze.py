"""Freezing the imported objects: they leave the collector's generations, later garbage does not."""

from __future__ import annotations

import gc

from lit_nn.cli.gc_freeze import freeze_imports


def test_imported_objects_are_frozen_and_new_garbage_is_still_collected():
    try:
        frozen = freeze_imports()
        # a frozen object that is freed afterwards (a finaliser, another thread) leaves the count
        assert frozen > 1000 and 0.99 * frozen <= gc.get_freeze_count() <= frozen

        class Cycle:
            pass

        first, second = Cycle(), Cycle()
        first.other, second.other = second, first
        del first, second
        assert gc.collect() >= 2  # a cycle made after the freeze is found and freed
    finally:
        gc.unfreeze()


def test_the_collector_is_off_inside_and_back_on_after_even_on_error():
    from lit_nn.cli.gc_freeze import collector_off

    assert gc.isenabled()
    with collector_off(freeze=False):
        assert not gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() == 0
    try:
        with collector_off(freeze=True):
            raise KeyError("an import failed")
    except KeyError:
        pass
    assert gc.isenabled() and gc.get_freeze_count() == 0  # nothing frozen when the imports failed
    gc.disable()
    try:
        with collector_off(freeze=False):
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()
