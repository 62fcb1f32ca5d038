"""An ONNX export served with onnxruntime: the same requests, answers and errors as the PyTorch server, no torch.

``lit-nn serve model.onnx`` (or the export's folder) runs in a process that never imports torch
or Lightning: the export's metadata (``<file>.json``, written by ``lit-nn export``) says what the
model takes and answers, and the graph holds the preprocessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lit_nn.answers import plain_answers
from lit_nn.deploy.api import SampleAPI


class OnnxAPI(SampleAPI):
    """An ONNX export behind LitServe, run by onnxruntime (one thread per worker, on the CPU).

    Args:
        path: The ``.onnx`` file.
        name: The model's name.
        metadata: Its export metadata.
        **kwargs: :class:`~lit_nn.deploy.api.SampleAPI`'s batching and path.
    """

    def __init__(self, path: Path, name: str, metadata: Mapping[str, Any], **kwargs: Any) -> None:  # noqa: ANN401
        super().__init__(name, metadata, **kwargs)
        self.path = Path(path)

    def setup(self, device: str) -> None:
        """Load the graph (in LitServe's worker process).

        Args:
            device: LitServe's device (the CPU: onnxruntime's CPU provider runs the graph).
        """
        super().setup(device)
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1  # requests run side by side
        self.session = onnxruntime.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [output["name"] for output in self.metadata["outputs"]]

    def answer(self, inputs: np.ndarray) -> list[dict[str, Any]]:
        """Run samples through the graph and answer as the task's default answers do.

        Args:
            inputs: ``(N, *input_shape)`` in the model's input dtype.

        Returns:
            One answer per sample.
        """
        outputs = self.session.run(self.output_names, {self.input_name: inputs})
        return plain_answers(dict(zip(self.output_names, outputs, strict=True)), self.metadata.get("class_names"))
