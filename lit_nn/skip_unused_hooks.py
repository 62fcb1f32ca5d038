"""Spare Lightning the per-batch calls to callback hooks that do nothing."""

from __future__ import annotations

from collections.abc import Iterable

from lightning.pytorch import Callback

BATCH_HOOKS = (
    "on_train_batch_start",
    "on_before_backward",
    "on_after_backward",
    "on_before_optimizer_step",
    "on_before_zero_grad",
    "on_train_batch_end",
    "on_validation_batch_start",
    "on_validation_batch_end",
    "on_test_batch_start",
    "on_test_batch_end",
    "on_predict_batch_start",
    "on_predict_batch_end",
)
"""The callback hooks Lightning calls for every batch."""


def skip_unused_batch_hooks(callbacks: Iterable[Callback]) -> None:
    """Let Lightning skip the per-batch hooks that a callback inherits from ``Callback`` unchanged.

    Lightning calls each of :data:`BATCH_HOOKS` on every callback for every batch, with a profiler
    context and the callback's ``state_key`` built for each call: a few microseconds per callback
    and hook even when the hook is ``Callback``'s empty one, which adds up to a tenth of a small
    model's step with lit_nn's callbacks. Lightning skips a hook attribute that is not callable,
    so each inherited empty hook is shadowed by ``None`` on the instance; hooks a class (or a
    subclass) implements stay as they are.

    Args:
        callbacks: The trainer's callbacks.
    """
    for callback in callbacks:
        for name in BATCH_HOOKS:
            if getattr(type(callback), name, None) is getattr(Callback, name) and name not in vars(callback):
                setattr(callback, name, None)
