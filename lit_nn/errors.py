"""Errors and warnings a user can act on.

Every :class:`LitNNError` carries a message that says what is wrong and how to fix it; the CLI
prints that message alone (no traceback unless ``LIT_NN_DEBUG=1``) and exits non-zero.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class LitNNError(Exception):
    """Base class of the errors lit_nn reports to users as one clear message."""


class UnknownNameError(LitNNError, LookupError):
    """A name that no loaded plugin registered."""


class DuplicateNameError(LitNNError):
    """The same name registered by two plugins."""


class PluginLoadError(LitNNError):
    """A plugin failed to load (raised in strict mode; a warning otherwise)."""


class PluginConfigError(LitNNError, ValueError):
    """A malformed plugin setting, such as an environment variable."""


class InvalidArgumentsError(LitNNError, TypeError):
    """Keyword arguments that a registered factory does not accept."""


class ConfigError(LitNNError):
    """A configuration or command line that cannot be used as given."""


class LitNNWarning(UserWarning):
    """Base class of the warnings lit_nn shows users."""


class PluginLoadWarning(LitNNWarning):
    """A plugin that failed to load; the others still load."""


ALIASES = {
    "learning_rate": "lr",
    "lr_rate": "lr",
    "epochs": "max_epochs",
    "num_epochs": "max_epochs",
    "n_epochs": "max_epochs",
    "steps": "max_steps",
    "batchsize": "batch_size",
    "bs": "batch_size",
    "wd": "weight_decay",
    "l2": "weight_decay",
    "workers": "num_workers",
    "gpus": "devices",
    "n_classes": "num_classes",
    "classes": "num_classes",
    "drop_rate": "dropout",
    "label": "target",
    "label_column": "target",
    "target_column": "target",
    "seed": "seed_everything",
}
"""Common names from other libraries (Keras, timm, scikit-learn) for lit_nn's settings, for "did you mean"."""


def suggest(word: str, candidates: Iterable[str]) -> str:
    """Format close matches of ``word`` as a hint.

    Args:
        word: What the user typed.
        candidates: The valid choices.

    Returns:
        ``" Did you mean 'a' or 'b'?"`` with a leading space, or ``""`` when nothing is close.
    """
    pool = list(candidates)
    alias = ALIASES.get(word.lower())
    matches = [alias] if alias in pool else []
    matches += [m for m in difflib.get_close_matches(word, pool, n=3, cutoff=0.6) if m not in matches]
    if len(word) >= 3:
        matches += [c for c in pool if word in c and c not in matches][: 3 - len(matches)]
    if not matches:
        return ""
    quoted = [f"'{m}'" for m in matches]
    joined = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f" Did you mean {joined}?"
