"""Yes/no settings read from environment variables (``LIT_NN_DEBUG=1``, ``LIT_NN_STRICT_PLUGINS=0`` …)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from lit_nn.errors import ConfigError, LitNNError

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"", "0", "false", "no", "off"})


def flag(key: str, environ: Mapping[str, str] | None = None, error: type[LitNNError] | None = ConfigError) -> bool:
    """Read a yes/no environment variable; unset is no.

    Args:
        key: The variable.
        environ: The environment (default: ``os.environ``).
        error: The error to raise for a value that is neither; ``None`` reads such a value as no
            (for a setting that must not itself end in an error, such as ``LIT_NN_DEBUG``).

    Returns:
        Whether it is set to a true value (``1``, ``true``, ``yes``, ``on``, any case).

    Raises:
        LitNNError: ``error``, for a value such as ``maybe``.
    """
    environ = os.environ if environ is None else environ
    value = environ.get(key, "").strip().lower()
    if value in TRUE:
        return True
    if value in FALSE or error is None:
        return False
    raise error(f"{key}={environ[key]!r} is not a yes/no value; set it to 1 or 0")
