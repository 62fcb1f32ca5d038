"""A fit without any limit: lit_nn's epoch budget and early stopping instead of Lightning's 1000 epochs."""

from __future__ import annotations

from jsonargparse import Namespace

from lit_nn.errors import ConfigError

DEFAULT_MAX_EPOCHS = 100
DEFAULT_PATIENCE = 10


def settle_budget(config: Namespace) -> str | None:
    """Refuse a fit of no epoch; give a fit without any limit lit_nn's defaults.

    Args:
        config: The ``fit`` configuration (changed in place).

    Returns:
        The line that says what was chosen, or ``None`` when the configuration chose.

    Raises:
        ConfigError: When ``max_epochs`` or ``max_steps`` is 0.
    """
    trainer = config.trainer
    for key in ("max_epochs", "max_steps"):
        if trainer.get(key) == 0:
            raise ConfigError(f"trainer.{key} is 0, so fit would train nothing; give 1 or more (-1: no limit)")
    unlimited = trainer.get("max_epochs") is None and trainer.get("max_steps") in (None, -1)
    if not unlimited or trainer.get("max_time") is not None or trainer.get("fast_dev_run"):
        return None
    trainer.max_epochs = DEFAULT_MAX_EPOCHS
    callbacks = trainer.get("callbacks") or []
    callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
    stops = any(str(getattr(c, "class_path", "")).endswith("EarlyStopping") for c in callbacks)
    said = f"no max_epochs given: training for at most {DEFAULT_MAX_EPOCHS} epochs"
    if not stops:
        monitor = config.checkpoint.monitor or "val/loss"
        early = Namespace(
            class_path="lightning.pytorch.callbacks.EarlyStopping",
            init_args=Namespace(monitor=monitor, patience=DEFAULT_PATIENCE, mode=config.checkpoint.mode),
        )
        trainer.callbacks = [*callbacks, early]
        said += f", stopping early once {monitor} has not improved for {DEFAULT_PATIENCE} epochs"
    return said + " (set --trainer.max_epochs, or add your own EarlyStopping, to choose)"
