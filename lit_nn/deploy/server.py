"""One LitServe server for one model or several: the gate in front, ``/info`` with each model's card, ``/metrics``.

Torch-free: a server of ONNX exports runs without it; PyTorch models bring it with them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import signal
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import litserve as ls

from lit_nn.console import notice
from lit_nn.deploy.api import SampleAPI
from lit_nn.deploy.gate import Bounds, RequestGate, Route
from lit_nn.deploy.metadata import card
from lit_nn.deploy.metrics import server_metrics, shared_folder
from lit_nn.errors import ConfigError
from lit_nn.lifetime import die_with_parent

API_KEY_ENV = "LIT_SERVER_API_KEY"
"""LitServe's environment variable for the API key, read when ``--api_key`` is not given."""


def predict_path(name: str, several: bool) -> str:
    """A model's predict path.

    Args:
        name: The model's name.
        several: Whether the server serves several models.

    Returns:
        ``/predict`` for a server of one model, else ``/models/<name>/predict``.
    """
    return f"/models/{name}/predict" if several else "/predict"


@dataclass(frozen=True)
class ServeOptions:
    """How a server listens and what a request may cost.

    Attributes:
        host: ``127.0.0.1`` (this machine only), ``0.0.0.0`` or ``::`` (every interface).
        port: TCP port, 1024-65535.
        workers: Inference worker processes per model.
        timeout: Seconds a request may wait before it is answered 504.
        bounds: What one request may cost.
        api_key: The key every request must send in ``X-API-Key`` (default: ``LIT_SERVER_API_KEY``).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    timeout: float = 30
    bounds: Bounds = field(default_factory=Bounds)
    api_key: str | None = None

    def check(self) -> None:
        """Refuse what cannot serve, before any model is loaded.

        Raises:
            ConfigError: On a bad host, port, worker count or bound, or a port in use.
        """
        if self.host not in ("127.0.0.1", "0.0.0.0", "::"):
            raise ConfigError(f"--host {self.host}: LitServe listens on 127.0.0.1 (this machine), 0.0.0.0 or :: (all)")
        if not 1024 <= self.port <= 65535:
            raise ConfigError(f"--port {self.port}: give a port from 1024 to 65535")
        if self.workers < 1:
            raise ConfigError("--workers must be 1 or more")
        bounds = self.bounds
        if not (bounds.max_body_bytes > 0 and bounds.body_timeout > 0 and bounds.max_image_pixels > 0):
            raise ConfigError("--max_body_mb, --body_timeout and --max_image_pixels must be above 0")
        if self.api_key is not None and not self.api_key.strip():
            raise ConfigError("--api_key is empty; give the key clients must send, or leave it out")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((self.host, self.port))
            except OSError as exc:
                where = f"{self.host}:{self.port}"
                raise ConfigError(f"cannot listen on {where} ({exc.strerror}); give another --port") from None

    @property
    def key(self) -> str | None:
        """The API key in force: ``--api_key``, else ``LIT_SERVER_API_KEY``, else none."""
        return self.api_key or os.environ.get(API_KEY_ENV) or None


def serve_options(  # noqa: PLR0913 (the command's options, one each)
    host: str,
    port: int,
    workers: int,
    max_body_mb: float,
    body_timeout: float,
    max_image_pixels: int,
    api_key: str | None,
) -> ServeOptions:
    """The serve command's options, gathered.

    Args:
        host: ``--host``.
        port: ``--port``.
        workers: ``--workers``.
        max_body_mb: ``--max_body_mb``.
        body_timeout: ``--body_timeout``.
        max_image_pixels: ``--max_image_pixels``.
        api_key: ``--api_key``.

    Returns:
        The options (not yet checked).
    """
    bounds = Bounds(round(max_body_mb * 2**20), body_timeout, max_image_pixels)
    return ServeOptions(host, port, workers, bounds=bounds, api_key=api_key)


def batching_options(max_batch_size: int, batch_timeout: float) -> dict[str, Any]:
    """LitServe's batching for each model, checked.

    Args:
        max_batch_size: ``--max_batch_size``.
        batch_timeout: ``--batch_timeout``.

    Returns:
        ``SampleAPI`` keyword arguments.

    Raises:
        ConfigError: For a batch size below 1 or a negative timeout.
    """
    if max_batch_size < 1 or batch_timeout < 0:
        raise ConfigError("--max_batch_size must be 1 or more, --batch_timeout 0 or more")
    return {"max_batch_size": max_batch_size, "batch_timeout": batch_timeout}


def build_server(apis: Sequence[SampleAPI], options: ServeOptions, accelerator: str = "auto") -> ls.LitServer:
    """A LitServer for the models, each request judged by :class:`~lit_nn.deploy.gate.RequestGate`.

    Args:
        apis: The models, each on its own ``api_path``.
        options: How it serves.
        accelerator: LitServe's accelerator (``cpu`` for exports: nothing imports torch to look for GPUs).

    Returns:
        The server, not yet running.
    """
    bounds = options.bounds
    routes = {api.api_path: Route(api.name, api.decoder(bounds.max_image_pixels)) for api in apis}
    info = {"models": [card(api.name, api.metadata, api.api_path) for api in apis]}
    gate = (RequestGate, {"routes": routes, "bounds": bounds, "api_key": options.key, "metrics": server_metrics()})
    return ls.LitServer(list(apis), accelerator=accelerator, workers_per_device=options.workers,
                        timeout=options.timeout, middlewares=[gate], model_metadata=info)  # fmt: skip


def _loopback(host: str) -> bool:
    return ipaddress.ip_address(host).is_loopback


def serve(apis: Sequence[SampleAPI], options: ServeOptions, what: str, accelerator: str = "auto") -> None:
    """Serve models until Ctrl+C or SIGTERM, saying where.

    Args:
        apis: The models.
        options: How to serve (checked already).
        what: What is served, for the first line.
        accelerator: LitServe's accelerator.
    """
    os.register_at_fork(after_in_child=die_with_parent)  # LitServe forks its HTTP server and queue manager
    base = f"http://{options.host if ':' not in options.host else f'[{options.host}]'}:{options.port}"
    paths = ", ".join(api.api_path for api in apis)
    print(f"Serving {what} on {base} ({paths}; /info, /metrics, /health); Ctrl+C stops", flush=True)
    if not _loopback(options.host) and options.key is None:
        notice(
            f"--host {options.host}: the server is reachable from other machines, with no API key; give --api_key "
            f"(or set {API_KEY_ENV}), or --host 127.0.0.1 to keep it to this one"
        )
    with shared_folder(), _terminate_gracefully():
        build_server(apis, options, accelerator).run(
            host=options.host, port=options.port, generate_client_file=False, log_level="warning"
        )
    # LitServe's monitoring thread may still poll its stopped manager and log the broken pipe as a crash
    logging.getLogger("litserve.server").setLevel(logging.CRITICAL)
    print("Server stopped")


@contextlib.contextmanager
def _terminate_gracefully() -> Iterator[None]:
    """SIGTERM (Docker, Kubernetes, SLURM) stops the server as Ctrl+C does: LitServe shuts its workers down.

    Without this, SIGTERM ends the main process at once and leaves LitServe's worker processes behind.
    """
    owner = os.getpid()

    def interrupt(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != owner:  # LitServe's forked HTTP server, which re-raises SIGTERM once it has stopped
            raise SystemExit(0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one would break LitServe's orderly shutdown
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
