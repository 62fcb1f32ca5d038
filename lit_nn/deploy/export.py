"""Write an :class:`~lit_nn.deploy.inference.InferenceModel` as ONNX, TorchScript or an ExportedProgram, and check it.

Each format is written by PyTorch's own exporter (``torch.onnx.export`` through ``torch.export``,
``torch.jit.trace``, ``torch.export.export``) with a dynamic batch dimension, then loaded back by
the runtime a consumer would use (onnxruntime, ``torch.jit.load``, ``torch.export.load``) and run
on the test split beside the PyTorch model; :func:`compare` says how far apart they are.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from lit_nn.atomic import write_text
from lit_nn.compat import jit_scripting
from lit_nn.deploy.inference import InferenceModel, Preprocessing, example_input
from lit_nn.errors import LitNNError

Format = Literal["onnx", "torchscript", "exported"]
SUFFIXES: dict[str, str] = {"onnx": ".onnx", "torchscript": ".ts", "exported": ".pt2"}
INPUT_NAME = "features"


class ExportError(LitNNError):
    """An export that could not be written, loaded back, or that disagrees with PyTorch."""


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keep the exporters' progress lines and TorchScript's deprecation notice off the console."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*deprecated", category=FutureWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings(
            "ignore", category=DeprecationWarning, module=r"torchmetrics"
        )  # the tracer reads every attribute
        try:
            yield
        finally:
            logger.setLevel(level)


def write(
    model: InferenceModel, preprocessing: Preprocessing, fmt: Format, path: Path, metadata: dict[str, Any]
) -> None:
    """Export ``model`` to ``path`` in ``fmt``, with a dynamic batch dimension.

    Args:
        model: The model, in evaluation mode on the CPU.
        preprocessing: Its preprocessing (the input's shape and dtype).
        fmt: ``onnx``, ``torchscript`` or ``exported``.
        path: The file to write (its folder exists).
        metadata: Recorded inside the file too where the format has room (ONNX metadata).

    Raises:
        ExportError: When the exporter fails, with its reason.
    """
    sample = example_input(preprocessing, 2)
    batch = torch.export.Dim("batch", min=1)
    try:
        with _quiet(), torch.no_grad():
            if fmt == "onnx":
                program = torch.onnx.export(
                    model,
                    (sample,),
                    input_names=[INPUT_NAME],
                    output_names=model.output_names,
                    dynamic_shapes={"x": {0: batch}},
                    dynamo=True,
                    verbose=False,
                )
                program.model.metadata_props.update({"lit_nn": json.dumps(metadata)})
                program.save(str(path))
            elif fmt == "torchscript":
                traced = _traced(model, sample)
                traced.save(str(path), _extra_files={"lit_nn.json": json.dumps(metadata)})
            else:
                program = torch.export.export(model, (sample,), dynamic_shapes={"x": {0: batch}})
                torch.export.save(program, str(path), extra_files={"lit_nn.json": json.dumps(metadata)})
    except Exception as exc:  # noqa: BLE001 (an exporter's failure is reported in one line)
        path.unlink(missing_ok=True)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"PyTorch could not export the model as {fmt}: {reason}") from exc


def _traced(model: InferenceModel, sample: Tensor) -> torch.jit.ScriptModule:
    """``torch.jit.trace``, with Lightning's switch that keeps its trainer properties out of the trace."""
    with jit_scripting(model.task):  # as LightningModule.to_torchscript does
        return torch.jit.trace(model, (sample,), check_trace=False)


def metadata_path(path: Path) -> Path:
    """Where an exported file's metadata goes: beside it, ``<file>.json``.

    Args:
        path: The exported file.

    Returns:
        ``model.onnx`` -> ``model.onnx.json``.
    """
    return path.with_name(path.name + ".json")


def load(path: Path, fmt: Format) -> Callable[[np.ndarray], list[np.ndarray]]:
    """Load an exported file in the runtime a consumer would use.

    Args:
        path: The exported file.
        fmt: Its format.

    Returns:
        A function of a raw input batch (numpy) to the outputs (numpy), in the exported order.
    """
    if fmt == "onnx":
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return lambda x: session.run(None, {INPUT_NAME: x})
    with _quiet():
        module = torch.jit.load(str(path)) if fmt == "torchscript" else torch.export.load(str(path)).module()

    def run(x: np.ndarray) -> list[np.ndarray]:
        with torch.no_grad(), _quiet():
            return [t.numpy() for t in module(torch.from_numpy(x))]

    return run


@dataclass
class Agreement:
    """How an exported model's outputs compare with PyTorch's.

    Attributes:
        samples: Test samples compared.
        max_abs_diff: Largest absolute difference of any floating-point output.
        max_scaled_diff: The same, each difference divided by ``max(1, |PyTorch's value|)``.
        label_agreement: Share of samples with the same label(s) (``None`` without integer outputs).
    """

    samples: int
    max_abs_diff: float
    max_scaled_diff: float
    label_agreement: float | None

    def as_dict(self) -> dict[str, Any]:
        """The figures, for the metadata file.

        Returns:
            A plain dict.
        """
        return dict(self.__dict__)


def compare(
    model: InferenceModel,
    exported: Callable[[np.ndarray], list[np.ndarray]],
    batches: Iterable[tuple[Tensor, Tensor]],
) -> Agreement:
    """Run PyTorch and the exported model on the same samples.

    PyTorch runs the task on what the datamodule feeds it (``lit-nn test``'s path); the exported
    model runs on the raw inputs, doing the preprocessing itself.

    Args:
        model: The PyTorch model (its task gives the reference).
        exported: :func:`load`'s function.
        batches: ``(raw, task_input)`` pairs (:func:`~lit_nn.deploy.inference.test_batches`).

    Returns:
        The agreement.

    Raises:
        ExportError: If no test sample was compared.
    """
    samples, worst, scaled, same, labelled = 0, 0.0, 0.0, 0, False
    for raw, task_input in batches:
        with torch.inference_mode():
            outputs = model.task.predict_outputs(task_input)
        reference = [outputs[name].numpy() for name in model.output_names]
        for want, got in zip(reference, exported(raw.contiguous().numpy()), strict=True):
            if not np.issubdtype(want.dtype, np.floating):  # labels: the same, or not
                labelled = True
                same += int((want == got).reshape(len(want), -1).all(axis=1).sum())
                continue
            diff = np.abs(want.astype(np.float64) - got.astype(np.float64))
            worst = max(worst, float(diff.max(initial=0.0)))
            scaled = max(scaled, float((diff / np.maximum(1.0, np.abs(want))).max(initial=0.0)))
        samples += len(raw)
    if not samples:
        raise ExportError("the test split is empty: nothing to check the export on")
    return Agreement(samples, worst, scaled, same / samples if labelled else None)


def write_metadata(path: Path, metadata: dict[str, Any]) -> None:
    """Write the metadata JSON beside an exported file.

    Args:
        path: The ``.json`` file.
        metadata: What :func:`metadata_of` gave, with the check's figures.
    """
    write_text(path, json.dumps(metadata, indent=2) + "\n")


def metadata_of(
    model: InferenceModel,
    preprocessing: Preprocessing,
    datamodule: Any,
    fmt: Format,
    checkpoint: str,  # noqa: ANN401
) -> dict[str, Any]:
    """Everything a consumer of the exported file needs besides the file.

    Args:
        model: The exported model.
        preprocessing: Its preprocessing.
        datamodule: The datamodule it was trained with.
        fmt: The format (``pytorch`` for the model a server runs).
        checkpoint: The checkpoint exported.

    Returns:
        Plain values: the task's kind, input (name, shape with ``null`` batch, dtype, how to make
        it), outputs as the task describes them, class names, the versions that wrote it, and what
        else the task adds (a threshold).
    """
    import lit_nn

    task = model.task
    kind = getattr(task, "kind", type(task).__name__)
    describe = getattr(task, "output_descriptions", None)
    outputs = describe() if describe is not None else {}
    metadata: dict[str, Any] = {
        "format": fmt,
        "task": kind,
        "input": {
            "name": INPUT_NAME,
            "shape": [None, *preprocessing.input_shape],
            "dtype": preprocessing.input_dtype,
            "description": preprocessing.description,
            **preprocessing.details,
        },
        "outputs": [{"name": n, "description": outputs.get(n, "")} for n in model.output_names],
        "class_names": list(getattr(datamodule, "class_names", None) or []) or None,
        "checkpoint": checkpoint,
        "versions": {"lit_nn": lit_nn.__version__, "torch": torch.__version__},
    }
    extra = getattr(task, "export_metadata", None)
    metadata.update(extra() if extra is not None else {})
    return metadata
