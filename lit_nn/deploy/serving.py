"""A checkpoint's model served with PyTorch: :class:`ModelAPI` runs its :class:`InferenceModel`.

Requests are judged and answered as for an export (:mod:`lit_nn.deploy.gate`,
:mod:`lit_nn.deploy.api`); images are cropped as the model's evaluation split was (TorchCodec's
decoder and torchvision's resize), and the task answers for itself (its ``answers``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lit_nn.deploy.api import SampleAPI
from lit_nn.deploy.inference import InferenceModel
from lit_nn.deploy.requests import SEND_AN_IMAGE, ImageCrop, RequestDecoder


def responses(outputs: Mapping[str, Tensor], metadata: Mapping[str, Any], task: Any = None) -> list[dict[str, Any]]:  # noqa: ANN401
    """One JSON-ready prediction per sample, as the task answers (its ``answers``).

    Args:
        outputs: The model's outputs by name, for a batch.
        metadata: The export metadata (class names).
        task: The task that made them; without one (or for a model that is no lit_nn task) each
            output is answered as it is, a one-column output as one value, ``label`` with its
            ``class_name``.

    Returns:
        Per sample: ``label`` and ``class_name`` with ``probability`` or ``probabilities``; or
        ``prediction``; or what a plugin's task answers.
    """
    from lit_nn.tasks.outputs import json_answers

    answer = getattr(task, "answers", None) or json_answers
    return answer(outputs, metadata.get("class_names") or [])


def torch_crop(image_size: int, resize: int) -> ImageCrop:
    """The evaluation crop the model was trained with: decoded and resized as :class:`ImageTransform` does.

    Args:
        image_size: Side of the square crop.
        resize: Shorter side before cropping.

    Returns:
        The crop function (``uint8`` ``(S, S, 3)``).
    """
    from lit_nn.data.images import ImageTransform, decode_image

    transform = ImageTransform(image_size, resize, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), augment=False)

    def crop(data: bytes, name: str) -> np.ndarray:
        return transform.crop(decode_image(data, resize, name, SEND_AN_IMAGE)).permute(1, 2, 0).numpy()

    return crop


class ModelAPI(SampleAPI):
    """A checkpoint's model behind LitServe.

    Args:
        model: The model (pickled into LitServe's worker process).
        metadata: Its export metadata (input, outputs, class names).
        name: Its name (``/metrics`` and ``/info`` call it so).
        **kwargs: :class:`~lit_nn.deploy.api.SampleAPI`'s batching and path.
    """

    def __init__(self, model: InferenceModel, metadata: dict[str, Any], name: str = "model", **kwargs: Any) -> None:  # noqa: ANN401
        super().__init__(name, metadata, **kwargs)
        self.model = model

    def decoder(self, max_image_pixels: int) -> RequestDecoder:
        """This model's request decoder: images cropped as in training.

        Args:
            max_image_pixels: The most pixels an image may declare.

        Returns:
            The decoder.
        """
        given = self.metadata["input"]
        crop = torch_crop(given["image_size"], given["resize"]) if given["dtype"] == "uint8" else None
        return RequestDecoder(self.metadata, max_image_pixels, crop)

    def setup(self, device: str) -> None:
        """Put the model on the worker's device, one torch thread per worker (in LitServe's worker process).

        Args:
            device: LitServe's device for this worker (``cpu``, ``cuda:0``).
        """
        super().setup(device)
        torch.set_num_threads(1)  # requests run side by side; one thread each is fastest for small models
        self.model = self.model.to(device).eval()
        self.device = device

    def answer(self, inputs: np.ndarray) -> list[dict[str, Any]]:
        """Run samples through the model; the task answers.

        Args:
            inputs: ``(N, *input_shape)`` in the model's input dtype.

        Returns:
            One answer per sample.
        """
        with torch.inference_mode():
            outputs = self.model(torch.from_numpy(inputs).to(self.device))
        named = dict(zip(self.model.output_names, (o.cpu() for o in outputs), strict=True))
        return responses(named, self.metadata, self.model.task)
