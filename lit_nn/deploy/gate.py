"""Every request judged before LitServe sees it, for the PyTorch server and an export's alike (no torch here).

LitServe runs each model in worker processes and batches requests that arrive together
(``max_batch_size``, ``batch_timeout``); one request whose decoding raised inside a batch would
fail every request batched with it. So every request is judged alone, completely, before
LitServe sees it: :class:`RequestGate`, an ASGI middleware, checks the API key first (401, and
nothing else runs), bounds the body (its size, declared and as read, and the time it takes to
arrive), parses it and decodes it with its model's :class:`~lit_nn.deploy.requests.RequestDecoder`,
answers a bad one there with its 4xx line, and hands LitServe only the decoded samples. It
counts what it answers and serves the counts at ``GET /metrics`` (:mod:`lit_nn.deploy.metrics`).
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lit_nn.deploy.metrics import CONTENT_TYPE, ServerMetrics
from lit_nn.deploy.requests import MAX_IMAGE_PIXELS, Decoded, Rejected, RequestDecoder

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SAMPLES = "lit_nn.samples"
"""The key of the JSON :class:`RequestGate` hands LitServe: a request's decoded samples."""
KEY_HEADER = b"x-api-key"
"""The header a client sends the API key in (LitServe's own name for it)."""
METRICS_PATH = "/metrics"


def to_payload(decoded: Decoded) -> dict[str, Any]:
    """A decoded request as JSON (LitServe's handler reads its body as JSON), its array base64-encoded.

    Args:
        decoded: A request's samples.

    Returns:
        What :func:`from_payload` reads back.
    """
    array = decoded.inputs
    return {
        SAMPLES: base64.b64encode(array.tobytes()).decode("ascii"),
        "dtype": str(array.dtype),
        "shape": list(array.shape),
        "single": decoded.single,
    }


def from_payload(payload: Any) -> Decoded | Rejected:  # noqa: ANN401 (the JSON LitServe parsed)
    """The samples :func:`to_payload` wrote.

    Args:
        payload: The JSON LitServe read.

    Returns:
        The samples, or a rejection if the payload is not the gate's (it always is, unless the
        gate was left out of the app).
    """
    try:
        array = np.frombuffer(base64.b64decode(payload[SAMPLES]), dtype=np.dtype(payload["dtype"]))
        return Decoded(array.reshape(payload["shape"]).copy(), bool(payload["single"]))
    except Exception:  # noqa: BLE001 (nothing may raise inside a batch)
        return Rejected(400, "the request did not pass the server's request checks (RequestGate); send it again")


@dataclass(frozen=True)
class Bounds:
    """What one request may cost the server, each refused in one line when exceeded.

    Attributes:
        max_body_bytes: The largest body (413), checked on the declared ``Content-Length`` before
            reading and on the bytes read so far while reading (a chunked body declares none).
        body_timeout: Seconds the whole body may take to arrive after the request's headers (408,
            and the connection is closed).
        max_image_pixels: The most pixels an image may declare in its header (413, before it is decoded).
    """

    max_body_bytes: int = 16 * 2**20
    body_timeout: float = 30.0
    max_image_pixels: int = MAX_IMAGE_PIXELS


def _answer(status: int, error: str, close: bool) -> tuple[Message, Message]:
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:  # the body was not read to its end: uvicorn closes the connection instead of reading on
        headers.append((b"connection", b"close"))
    return {"type": "http.response.start", "status": status, "headers": headers}, {
        "type": "http.response.body",
        "body": body,
    }


def _is_json(content_type: bytes) -> bool:
    kind = content_type.split(b";")[0].strip().lower()
    return kind in (b"", b"application/json") or (kind.startswith(b"application/") and kind.endswith(b"+json"))


@dataclass(frozen=True)
class Route:
    """One model's predict path, as the gate sees it.

    Attributes:
        name: The model's name (its label in ``/metrics``).
        decoder: Its request decoder.
    """

    name: str
    decoder: RequestDecoder


class RequestGate:
    """ASGI middleware: the key, then each ``POST`` judged alone before LitServe sees it (see the module's note).

    Answers, in one JSON line ``{"error": ...}``: 401 a request without the API key (when the
    server has one), 415 a body that is not sent as JSON, 413 a body over
    :attr:`Bounds.max_body_bytes`, 408 one that does not arrive within :attr:`Bounds.body_timeout`,
    400 one that is not JSON, and the decoder's 400/413/422 on a predict path. Parsing and decoding
    run in a thread, so a large request does not hold up the others.

    Args:
        app: The ASGI app.
        routes: Predict path to its model (other ``POST`` paths get the body checks only).
        bounds: What a request may cost.
        api_key: The key every request must send in ``X-API-Key``, or ``None`` for none.
        metrics: Where to count requests, or ``None`` to count nothing (and serve no ``/metrics``).
    """

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        routes: Mapping[str, Route],
        bounds: Bounds = Bounds(),  # noqa: B008 (frozen)
        api_key: str | None = None,
        metrics: ServerMetrics | None = None,
    ) -> None:
        self.app, self.routes, self.bounds, self.metrics = app, dict(routes), bounds, metrics
        self.api_key = api_key.encode() if api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check a request; answer it here, or call the app (with the decoded samples for a predict path).

        Args:
            scope: The ASGI scope.
            receive: The ASGI receive channel.
            send: The ASGI send channel.
        """
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = self.routes.get(scope["path"])
        started, status = asyncio.get_running_loop().time(), [0]

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self._route(scope, receive, counted, route)
        finally:
            if self.metrics is not None and route is not None and status[0]:
                self.metrics.requests.labels(route.name, str(status[0])).inc()
                self.metrics.latency.labels(route.name).observe(asyncio.get_running_loop().time() - started)

    async def _route(self, scope: Scope, receive: Receive, send: Send, route: Route | None) -> None:
        """The key, ``/metrics``, then the body checks of a ``POST``."""
        if self.api_key is not None:
            given = dict(scope["headers"]).get(KEY_HEADER, b"")
            if not hmac.compare_digest(given, self.api_key):
                said = "a wrong API key" if given else "no API key"
                for message in _answer(401, f"{said}: this server needs its key in the X-API-Key header", False):
                    await send(message)
                return
        if scope["method"] == "GET" and scope["path"] == METRICS_PATH and self.metrics is not None:
            counts = await asyncio.to_thread(self.metrics.exposition)
            headers = [(b"content-type", CONTENT_TYPE.encode()), (b"content-length", str(len(counts)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": counts})
            return
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        decoder = route.decoder if route is not None else None
        body, refused = await self._read(scope, receive, decoder)
        if refused is None and body is not None:
            judged = await asyncio.to_thread(self._judge, body, decoder)
            if isinstance(judged, Rejected):
                refused = (judged.status, judged.error, False)
            else:
                body, count = judged
                if self.metrics is not None and route is not None and count:
                    self.metrics.samples.labels(route.name).observe(count)
        if refused is not None:
            for message in _answer(*refused):
                await send(message)
            return
        if body is None:  # the client went away
            return
        headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
        scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read(
        self, scope: Scope, receive: Receive, decoder: RequestDecoder | None
    ) -> tuple[bytes | None, tuple[int, str, bool] | None]:
        """The body, or why it is refused before parsing (status, line, close the connection)."""
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"")
        if not _is_json(content_type):
            like = f", like {decoder.example}" if decoder is not None else ""
            return None, (
                415,
                f"Content-Type {content_type.decode('latin-1')[:80]!r} is not JSON; send the body as JSON with "
                f"Content-Type: application/json{like}",
                True,
            )
        limit = self.bounds.max_body_bytes
        too_large = (
            413,
            f"the body is over this server's limit of {limit:,} bytes; send fewer samples per request "
            "(or smaller images), or ask for a larger --max_body_mb",
            True,
        )
        declared = headers.get(b"content-length", b"").strip()
        if declared and not declared.isdigit():
            return None, (400, "the Content-Length header is not a number", True)
        if declared and int(declared) > limit:
            return None, too_large
        loop = asyncio.get_running_loop()
        deadline, chunks, size, more = loop.time() + self.bounds.body_timeout, [], 0, True
        while more:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                return None, (
                    408,
                    f"the body did not arrive in full within {self.bounds.body_timeout:g} s "
                    f"({size:,} bytes came); send it again, whole",
                    True,
                )
            if message["type"] == "http.disconnect":
                return None, None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None, too_large
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks), None

    def _judge(self, body: bytes, decoder: RequestDecoder | None) -> tuple[bytes, int] | Rejected:
        """Parse and decode the body (in a worker thread): the JSON LitServe is handed on and its sample count."""
        example = decoder.example if decoder is not None else '{"features": [...]}'
        try:
            parsed = json.loads(body)
        except RecursionError:
            return Rejected(400, f"the JSON is nested too deep to parse; send e.g. {example}")
        except (UnicodeDecodeError, ValueError) as exc:
            reason = str(exc)[:200]
            return Rejected(
                400, f"the body is not JSON ({reason}); send e.g. {example} with Content-Type: application/json"
            )
        if decoder is None:
            return body, 0
        decoded = decoder(parsed)
        if isinstance(decoded, Rejected):
            return decoded
        return json.dumps(to_payload(decoded)).encode(), len(decoded.inputs)
