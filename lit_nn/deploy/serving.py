"""Serve an :class:`~lit_nn.deploy.inference.InferenceModel` over HTTP on LitServe.

LitServe runs the model in a worker process and batches requests that arrive together
(``max_batch_size``, ``batch_timeout``); one request whose decoding raised inside a batch would
fail every request batched with it. So every request is judged alone, completely, before
LitServe sees it: :class:`RequestGate`, an ASGI middleware, bounds the body (its size, declared
and as read, and the time it takes to arrive), parses it and decodes it with
:class:`~lit_nn.deploy.requests.RequestDecoder`, answers a bad one there with its 4xx line, and
hands LitServe only the decoded samples, which the worker turns back into a tensor.
"""

from __future__ import annotations

import asyncio
import base64
import json
import signal
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import litserve as ls
import numpy as np
import torch
from fastapi.responses import JSONResponse

from lit_nn.deploy.inference import InferenceModel
from lit_nn.deploy.requests import MAX_IMAGE_PIXELS, Decoded, Rejected, RequestDecoder, responses
from lit_nn.lifetime import die_with_parent

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ModelAPI(ls.LitAPI):
    """The model behind LitServe's ``/predict``.

    Args:
        model: The model (pickled into LitServe's worker process).
        metadata: Its export metadata (input, outputs, class names).
        max_batch_size: Most requests run through the model at once.
        batch_timeout: Seconds to wait for a batch to fill.
    """

    def __init__(
        self, model: InferenceModel, metadata: dict[str, Any], max_batch_size: int = 32, batch_timeout: float = 0.005
    ) -> None:
        super().__init__(max_batch_size=max_batch_size, batch_timeout=batch_timeout)
        self.model, self.metadata = model, metadata

    def setup(self, device: str) -> None:
        """Put the model on the worker's device, one torch thread per worker (in LitServe's worker process).

        Args:
            device: LitServe's device for this worker (``cpu``, ``cuda:0``).
        """
        # Ctrl+C reaches every process of the terminal's group: the worker leaves it to the server, which
        # stops it in order (LitServe's loop would print a KeyboardInterrupt traceback from its queue read)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        die_with_parent()
        torch.set_num_threads(1)  # requests run side by side; one thread each is fastest for small models
        self.model = self.model.to(device).eval()
        self.device = device

    def decode_request(self, request) -> Decoded | Rejected:  # type: ignore[no-untyped-def]  # noqa: ANN001 (LitServe reads the body as JSON when unannotated)
        """The samples :class:`RequestGate` decoded (never raises: see the module's note).

        Args:
            request: The JSON the gate handed on.

        Returns:
            Its samples.
        """
        return from_payload(request)

    def batch(self, inputs: list[Decoded | Rejected]) -> list[Decoded | Rejected]:
        """Keep the requests apart; :meth:`predict` concatenates the valid ones.

        Args:
            inputs: Decoded requests.

        Returns:
            The same list.
        """
        return inputs

    def predict(self, x: Any) -> Any:  # noqa: ANN401 (one request or a list of them, and so the answers)
        """Run the valid requests' samples through the model at once.

        Args:
            x: A decoded request, or a list of them (batching on).

        Returns:
            Per request (a list when ``x`` is one): its prediction, ``{"predictions": [...]}`` for
            several samples, or its rejection.
        """
        requests = x if isinstance(x, list) else [x]
        valid = [r for r in requests if isinstance(r, Decoded)]
        if not valid:
            return list(requests)
        with torch.inference_mode():
            outputs = self.model(torch.cat([r.inputs for r in valid]).to(self.device))
        named = dict(zip(self.model.output_names, (o.cpu() for o in outputs), strict=True))
        answered: list[Rejected | dict[str, Any]]
        rows, at, answered = responses(named, self.metadata, self.model.task), 0, []
        for request in requests:
            if isinstance(request, Rejected):
                answered.append(request)
                continue
            part = rows[at : at + len(request.inputs)]
            answered.append(part[0] if request.single else {"predictions": part})
            at += len(request.inputs)
        return answered if isinstance(x, list) else answered[0]

    def unbatch(self, output: list[Any]) -> list[Any]:
        """One answer per request.

        Args:
            output: :meth:`predict`'s list.

        Returns:
            The same list.
        """
        return output

    def encode_response(self, output: Any) -> Any:  # noqa: ANN401
        """The JSON answer: one prediction, a list of them, or the error with its status.

        Args:
            output: A request's prediction(s) or rejection.

        Returns:
            A dict, or a ``JSONResponse`` with a 4xx status.
        """
        if isinstance(output, Rejected):
            return JSONResponse({"error": output.error}, status_code=output.status)
        return output


SAMPLES = "lit_nn.samples"
"""The key of the JSON :class:`RequestGate` hands LitServe: a request's decoded samples."""


def to_payload(decoded: Decoded) -> dict[str, Any]:
    """A decoded request as JSON (LitServe's handler reads its body as JSON), its tensor base64-encoded.

    Args:
        decoded: A request's samples.

    Returns:
        What :func:`from_payload` reads back.
    """
    array = decoded.inputs.numpy()
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
        return Decoded(torch.from_numpy(array.reshape(payload["shape"]).copy()), bool(payload["single"]))
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


class RequestGate:
    """ASGI middleware: judge each ``POST`` alone before LitServe sees it (see the module's note).

    Answers, in one JSON line ``{"error": ...}``: 415 a body that is not sent as JSON, 413 a body
    over :attr:`Bounds.max_body_bytes`, 408 one that does not arrive within
    :attr:`Bounds.body_timeout`, 400 one that is not JSON, and the decoder's 400/413/422 for the
    predict path. Parsing and decoding run in a thread, so a large request does not hold up the
    others.

    Args:
        app: The ASGI app.
        decoder: The model's request decoder.
        bounds: What a request may cost.
        path: LitServe's predict path (other ``POST`` paths get the body checks only).
    """

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        decoder: RequestDecoder,
        bounds: Bounds = Bounds(),  # noqa: B008 (frozen)
        path: str = "/predict",
    ) -> None:
        self.app, self.decoder, self.bounds, self.path = app, decoder, bounds, path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check a ``POST``; answer it here, or call the app with the decoded samples.

        Args:
            scope: The ASGI scope.
            receive: The ASGI receive channel.
            send: The ASGI send channel.
        """
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, refused = await self._read(scope, receive)
        if refused is None and body is not None:
            judged = await asyncio.to_thread(self._judge, body, scope["path"] == self.path)
            if isinstance(judged, Rejected):
                refused = (judged.status, judged.error, False)
            else:
                body = judged
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

    async def _read(self, scope: Scope, receive: Receive) -> tuple[bytes | None, tuple[int, str, bool] | None]:
        """The body, or why it is refused before parsing (status, line, close the connection)."""
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"")
        if not _is_json(content_type):
            return None, (
                415,
                f"Content-Type {content_type.decode('latin-1')[:80]!r} is not JSON; send the body as JSON with "
                f"Content-Type: application/json, like {self.decoder.example}",
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

    def _judge(self, body: bytes, predict: bool) -> bytes | Rejected:
        """Parse and decode the body (in a worker thread): the JSON LitServe is handed on, or the refusal."""
        example = self.decoder.example
        try:
            parsed = json.loads(body)
        except RecursionError:
            return Rejected(400, f"the JSON is nested too deep to parse; send e.g. {example}")
        except (UnicodeDecodeError, ValueError) as exc:
            reason = str(exc)[:200]
            return Rejected(
                400, f"the body is not JSON ({reason}); send e.g. {example} with Content-Type: application/json"
            )
        if not predict:
            return body
        decoded = self.decoder(parsed)
        if isinstance(decoded, Rejected):
            return decoded
        return json.dumps(to_payload(decoded)).encode()


def server(api: ModelAPI, workers: int = 1, timeout: float = 30, bounds: Bounds = Bounds()) -> ls.LitServer:  # noqa: B008 (frozen)
    """A LitServer for ``api`` on the CPU (or the GPU when there is one), each request judged by :class:`RequestGate`.

    Args:
        api: The model's API.
        workers: Inference worker processes.
        timeout: Seconds a request may wait before it is answered 504.
        bounds: What one request may cost.

    Returns:
        The server, not yet running.
    """
    decoder = RequestDecoder(api.metadata, max_image_pixels=bounds.max_image_pixels)
    gate = (RequestGate, {"decoder": decoder, "bounds": bounds, "path": api.api_path})
    return ls.LitServer(api, accelerator="auto", workers_per_device=workers, timeout=timeout, middlewares=[gate])
