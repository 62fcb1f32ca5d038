"""Serve an :class:`~lit_nn.deploy.inference.InferenceModel` over HTTP on LitServe.

LitServe runs the model in a worker process and batches requests that arrive together
(``max_batch_size``, ``batch_timeout``). A request the model cannot take is answered 4xx on its
own: decoding never raises inside a batch (LitServe would fail every request batched with it),
it marks the request :class:`~lit_nn.deploy.requests.Rejected`, and only the valid samples reach
the model.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import litserve as ls
import torch
from fastapi.responses import JSONResponse

from lit_nn.deploy.inference import InferenceModel
from lit_nn.deploy.requests import Decoded, Rejected, RequestDecoder, responses
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
        self.decoder = RequestDecoder(metadata)

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

    def decode_request(self, request) -> Decoded | Rejected:  # noqa: ANN001 (LitServe reads the body as JSON when unannotated)
        """Decode one request (never raises: see the module's note).

        Args:
            request: The request's JSON.

        Returns:
            Its samples, or why it is refused.
        """
        return self.decoder(request)

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


def _answer(status: int, error: str) -> tuple[Message, Message]:
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return {"type": "http.response.start", "status": status, "headers": headers}, {
        "type": "http.response.body",
        "body": body,
    }


class JSONBodyCheck:
    """ASGI middleware: a ``POST`` whose body is not JSON is answered 400 here, not 500 by the handler.

    LitServe parses the body inside its handler and reports a parse error as a server error; this
    reads the body first, answers 400 with what to send when it is not JSON, and passes it on.

    Args:
        app: The ASGI app.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check a ``POST`` body, then call the app.

        Args:
            scope: The ASGI scope.
            receive: The ASGI receive channel.
            send: The ASGI send channel.
        """
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            start, end = _answer(
                400,
                f'the body is not JSON ({exc}); send e.g. {{"features": [...]}} with Content-Type: application/json',
            )
            await send(start)
            await send(end)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def server(api: ModelAPI, workers: int = 1, timeout: float = 30) -> ls.LitServer:
    """A LitServer for ``api`` on the CPU (or the GPU when there is one), answering bad bodies with 400.

    Args:
        api: The model's API.
        workers: Inference worker processes.
        timeout: Seconds a request may wait before it is answered 504.

    Returns:
        The server, not yet running.
    """
    return ls.LitServer(
        api, accelerator="auto", workers_per_device=workers, timeout=timeout, middlewares=[JSONBodyCheck]
    )
