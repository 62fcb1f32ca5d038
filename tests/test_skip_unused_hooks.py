"""Skipping the per-batch callback hooks a callback does not implement."""

from __future__ import annotations

from lightning.pytorch import Callback

from lit_nn.callbacks.finite_loss import StopOnNonFiniteLoss
from lit_nn.skip_unused_hooks import skip_unused_batch_hooks


def test_unused_batch_hooks_are_skipped_and_implemented_ones_kept():
    class Guard(StopOnNonFiniteLoss):
        def on_before_backward(self, trainer, pl_module, loss) -> None:
            pass

    guard, plain = Guard(), Callback()
    skip_unused_batch_hooks([guard, plain])
    assert guard.on_train_batch_start is None and plain.on_train_batch_end is None and plain.on_test_batch_end is None
    assert callable(guard.on_train_batch_end) and callable(guard.on_before_backward)
