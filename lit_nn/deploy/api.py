"""The part of a served model LitServe runs: decoded samples in, one JSON answer per request out (no torch here).

Subclasses say how a batch of samples becomes answers: :class:`~lit_nn.deploy.serving.ModelAPI`
with PyTorch, :class:`~lit_nn.deploy.onnx_serving.OnnxAPI` with onnxruntime.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from typing import Any

import litserve as ls
import numpy as np
from fastapi.responses import JSONResponse

from lit_nn.deploy.gate import from_payload
from lit_nn.deploy.metrics import server_metrics
from lit_nn.deploy.requests import Decoded, Rejected, RequestDecoder
from lit_nn.lifetime import die_with_parent


class SampleAPI(ls.LitAPI):
    """One model behind LitServe: requests the gate decoded, answered batch by batch.

    Args:
        name: The model's name (``/metrics`` labels it so).
        metadata: Its export metadata (input, outputs, class names).
        max_batch_size: Most requests run through the model at once.
        batch_timeout: Seconds to wait for a batch to fill.
        api_path: Its predict path (``/predict``, or ``/models/<name>/predict`` beside others).
        count: Count batches in ``/metrics``.
    """

    def __init__(
        self,
        name: str,
        metadata: Mapping[str, Any],
        max_batch_size: int = 32,
        batch_timeout: float = 0.005,
        api_path: str = "/predict",
        count: bool = True,
    ) -> None:
        super().__init__(max_batch_size=max_batch_size, batch_timeout=batch_timeout, api_path=api_path)
        self.name, self.metadata, self.count = name, dict(metadata), count

    def decoder(self, max_image_pixels: int) -> RequestDecoder:
        """This model's request decoder, run by the gate in the HTTP process.

        Args:
            max_image_pixels: The most pixels an image may declare.

        Returns:
            The decoder (images cropped with Pillow).
        """
        return RequestDecoder(self.metadata, max_image_pixels)

    def setup(self, device: str) -> None:
        """Leave Ctrl+C to the server and end with it (in LitServe's worker process).

        Args:
            device: LitServe's device for this worker.
        """
        # Ctrl+C reaches every process of the terminal's group: the worker leaves it to the server, which
        # stops it in order (LitServe's loop would print a KeyboardInterrupt traceback from its queue read)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        die_with_parent()

    def answer(self, inputs: np.ndarray) -> list[dict[str, Any]]:
        """Run samples through the model.

        Args:
            inputs: ``(N, *input_shape)`` in the model's input dtype.

        Returns:
            One JSON-ready answer per sample.
        """
        raise NotImplementedError

    def decode_request(self, request) -> Decoded | Rejected:  # type: ignore[no-untyped-def]  # noqa: ANN001 (LitServe reads the body as JSON when unannotated)
        """The samples :class:`~lit_nn.deploy.gate.RequestGate` decoded (never raises: see its module's note).

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
        inputs = np.concatenate([r.inputs for r in valid])
        rows = self.answer(inputs)
        if self.count:
            server_metrics().batches.labels(self.name).observe(len(inputs))
        answered: list[Rejected | dict[str, Any]] = []
        at = 0
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
