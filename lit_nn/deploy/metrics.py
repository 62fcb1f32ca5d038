"""What a server counts, in Prometheus' text format at ``GET /metrics`` (``prometheus_client``).

The HTTP process counts requests (by model and status), their latency and their samples; the
inference workers, other processes, count the batches LitServe makes. So the counts live in
``prometheus_client``'s multi-process mode: every process writes its own files in one folder
(``PROMETHEUS_MULTIPROC_DIR``, made by :func:`shared_folder` before ``prometheus_client`` is
first imported) and ``/metrics`` adds them up.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SAMPLE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


@contextlib.contextmanager
def shared_folder() -> Iterator[str]:
    """Make the folder every process of a server writes its counts to, for the server's life.

    Yields:
        The folder (also in the environment, which LitServe's processes inherit).
    """
    with tempfile.TemporaryDirectory(prefix="lit-nn-metrics-") as folder:
        before = os.environ.get(MULTIPROCESS_ENV)
        os.environ[MULTIPROCESS_ENV] = folder
        try:
            yield folder
        finally:
            if before is None:
                os.environ.pop(MULTIPROCESS_ENV, None)
            else:
                os.environ[MULTIPROCESS_ENV] = before


@dataclass(frozen=True)
class ServerMetrics:
    """The server's metrics (one set per process).

    Attributes:
        requests: ``lit_nn_requests_total{model, status}``: requests answered.
        latency: ``lit_nn_request_seconds{model}``: from a request's arrival to its answer.
        samples: ``lit_nn_request_samples{model}``: samples per accepted request.
        batches: ``lit_nn_batch_samples{model}``: samples per batch through the model.
    """

    requests: Any
    latency: Any
    samples: Any
    batches: Any

    def exposition(self) -> bytes:
        """Every process's counts, added up, in Prometheus' text format.

        Returns:
            The ``/metrics`` body.
        """
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess

        if not os.environ.get(MULTIPROCESS_ENV):
            from prometheus_client import REGISTRY

            return generate_latest(REGISTRY)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)


@functools.cache
def server_metrics() -> ServerMetrics:
    """This process's metrics, made once.

    Returns:
        The metrics.
    """
    from prometheus_client import Counter, Histogram

    return ServerMetrics(
        Counter("lit_nn_requests", "Requests answered, by model and HTTP status", ["model", "status"]),
        Histogram(
            "lit_nn_request_seconds",
            "Seconds from a request's arrival to its answer",
            ["model"],
            buckets=LATENCY_BUCKETS,
        ),  # fmt: skip
        Histogram("lit_nn_request_samples", "Samples per accepted request", ["model"], buckets=SAMPLE_BUCKETS),
        Histogram("lit_nn_batch_samples", "Samples per batch run through the model", ["model"], buckets=SAMPLE_BUCKETS),
    )
