"""Shared fixtures: fixture plugins on sys.path, a clean plugin environment."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import lightning.pytorch  # noqa: F401  (Lightning binds its log handler to the stderr of the moment it is first
import pytest  # imported: that must be the real one, not the capture of whichever test imports it first)

from lit_nn.registry import default_registry

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_PLUGINS = Path(__file__).resolve().parent / "plugins"


DISTRIBUTED_ENV = ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--gpu-only",
        action="store_true",
        help="run only the GPU-only tests (marked by tests/helpers/run_if.py): make gpu-check",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``--gpu-only``, keep the tests that ``tests/helpers/run_if.py`` marks (a ``skipif`` with ``gpus``)."""
    if not config.getoption("--gpu-only"):
        return
    keep = [item for item in items if any("gpus" in mark.kwargs for mark in item.iter_markers("skipif"))]
    config.hook.pytest_deselected(items=[item for item in items if item not in keep])
    items[:] = keep


@pytest.fixture(autouse=True)
def _clean_lit_nn_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LIT_NN_* setting leaks into a test, nor the rendezvous variables Lightning sets when a
    test runs DDP in process; the shared registry is rebuilt."""
    for key in list(os.environ):
        if key.startswith(("LIT_NN_", "WANDB_")) or key in DISTRIBUTED_ENV:
            monkeypatch.delenv(key)
    # Tests run without W&B unless they ask for it (tests/test_wandb.py runs it offline, for real).
    monkeypatch.setenv("WANDB_MODE", "disabled")
    default_registry.cache_clear()
    yield
    default_registry.cache_clear()


@pytest.fixture
def use_plugins(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Put fixture plugin folders (``tests/plugins/<name>``) on ``sys.path``.

    Their ``*.dist-info`` folders make ``importlib.metadata`` find real entry points.
    """

    def add(*names: str) -> None:
        for name in names:
            monkeypatch.syspath_prepend(str(FIXTURE_PLUGINS / name))

    return add


def plugin_pythonpath(*names: str) -> str:
    """PYTHONPATH for a subprocess that should see the given fixture plugins."""
    paths = [str(FIXTURE_PLUGINS / name) for name in names]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    return os.pathsep.join(paths)


@pytest.fixture
def lit_nn_exe() -> list[str]:
    """The installed ``lit-nn`` console script of the running environment."""
    exe = Path(sys.executable).with_name("lit-nn")
    assert exe.exists(), f"{exe} is missing: install the package with `pip install -e .`"
    return [str(exe)]
