"""Write an :class:`~lit_nn.deploy.inference.InferenceModel` as ONNX, TorchScript or an ExportedProgram, and check it.

Each format is written by PyTorch's own exporter (``torch.onnx.export`` through ``torch.export``,
``torch.jit.trace``, ``torch.export.export``) with a dynamic batch dimension, then loaded back by
the runtime a consumer would use (onnxruntime, ``torch.jit.load``, ``torch.export.load``) and run
on the test split (or on generated inputs, where the data is not here) beside the PyTorch model;
:func:`compare` says how far apart they are.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from lit_nn import runs
from lit_nn.atomic import write_text
from lit_nn.compat import jit_scripting
from lit_nn.deploy.inference import InferenceModel, Preprocessing, example_input
from lit_nn.deploy.metadata import metadata_path
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
    _check_finite_weights(model)
    sample = example_input(preprocessing, 2)
    batch = torch.export.Dim("batch", min=1)
    # PyTorch's C++ writers abort the process when a write fails (a full disk: exit 134); serialised in
    # memory, the file is written by Python, whose failure is an OSError said in one line
    buffer = io.BytesIO()
    program: torch.onnx.ONNXProgram | torch.export.ExportedProgram | None
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
                assert program is not None  # dynamo=True always returns the program
                program.model.metadata_props.update({"lit_nn": json.dumps(metadata)})
                program.save(str(path))
            elif fmt == "torchscript":
                traced = _traced(model, sample)
                torch.jit.save(traced, buffer, _extra_files={"lit_nn.json": json.dumps(metadata)})
            else:
                program = torch.export.export(model, (sample,), dynamic_shapes={"x": {0: batch}})
                torch.export.save(program, buffer, extra_files={"lit_nn.json": json.dumps(metadata)})
            if fmt != "onnx":
                path.write_bytes(buffer.getbuffer())
    except OSError as exc:  # the file system's failure, not PyTorch's: said as such, naming the file
        path.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror or str(exc), exc.filename or str(path)) from exc
    except Exception as exc:  # noqa: BLE001 (an exporter's failure is reported in one line)
        path.unlink(missing_ok=True)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"PyTorch could not export the model as {fmt}: {reason}") from exc


def _check_finite_weights(model: InferenceModel) -> None:
    """Refuse weights (or buffers: a normalisation's statistics) that are NaN or infinite.

    Raises:
        ExportError: Naming the first such tensor.
    """
    for kind, tensors in (("weight", model.named_parameters()), ("buffer", model.named_buffers())):
        for name, tensor in tensors:
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise ExportError(
                    f"the model's {kind} {name} holds NaN or infinite values: the checkpoint was saved after "
                    "training diverged; export an earlier checkpoint (--ckpt_path best, or a FILE); nothing was written"
                )


@contextlib.contextmanager
def staging(path: Path) -> Iterator[Path]:
    """A place to write ``path`` and its metadata before they are checked: a new hidden folder beside it.

    Nothing is written under ``path``'s own name until :func:`publish`; the folder (on the same file
    system, so moving out of it is atomic) is removed whatever happens. Only a process killed
    outright (a C++ abort on a full disk) leaves it behind, as ``.<name>.partial-*``.

    Args:
        path: The file to be written (its folder exists).

    Yields:
        Where to write the file, in the hidden folder.

    Raises:
        OSError: A file-system failure inside the folder, said of ``path``.
    """
    folder = Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-", dir=path.parent))
    try:
        yield folder / path.name
    except OSError as exc:  # said of the file the user asked for, not of the hidden one
        if exc.filename is not None and not str(exc.filename).startswith(str(folder)):
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def publish(staged: Path, path: Path) -> None:
    """Move a checked export and its metadata from :func:`staging` to ``path``, each in one atomic rename.

    Args:
        staged: The file :func:`staging` gave, written and checked, its metadata beside it.
        path: Where it goes.
    """
    os.replace(staged, path)
    os.replace(metadata_path(staged), metadata_path(path))


def _traced(model: InferenceModel, sample: Tensor) -> torch.jit.ScriptModule:
    """``torch.jit.trace``, with Lightning's switch that keeps its trainer properties out of the trace."""
    with jit_scripting(model.task):  # as LightningModule.to_torchscript does
        return torch.jit.trace(model, (sample,), check_trace=False)


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
        label_agreement: Share of samples whose every integer or boolean output (label, prediction set)
            is the same (``None`` without such outputs).
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
        ExportError: If no test sample was compared, or either side's outputs are NaN or infinite.
    """
    samples, worst, scaled, same, labelled = 0, 0.0, 0.0, 0, False
    for raw, task_input in batches:
        with torch.inference_mode():
            outputs = model.task.predict_outputs(task_input)
        reference = [outputs[name].numpy() for name in model.output_names]
        agree = np.ones(len(raw), dtype=bool)  # a sample agrees when every label-like output does (label, set)
        for want, got in zip(reference, exported(raw.contiguous().numpy()), strict=True):
            if not np.issubdtype(want.dtype, np.floating):  # labels and sets: the same, or not
                labelled = True
                agree &= (want == got).reshape(len(want), -1).all(axis=1)
                continue
            for side, values in (("PyTorch's", want), ("the exported model's", got)):
                if not np.isfinite(values).all():
                    raise ExportError(
                        f"{side} outputs are NaN or infinite on samples {samples} to {samples + len(raw) - 1} of the "
                        "check: nothing can be checked, so nothing was written; export a checkpoint saved before "
                        "training diverged (--ckpt_path best, or a FILE)"
                    )
            diff = np.abs(want.astype(np.float64) - got.astype(np.float64))
            worst = max(worst, float(diff.max(initial=0.0)))
            scaled = max(scaled, float((diff / np.maximum(1.0, np.abs(want))).max(initial=0.0)))
        same += int(agree.sum())
        samples += len(raw)
    if not samples:
        raise ExportError("no samples to check the export on (the test split is empty)")
    if not (math.isfinite(worst) and math.isfinite(scaled)):
        raise ExportError(f"the export's difference from PyTorch is not a number ({worst}); nothing was written")
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
    fmt: Format | Literal["pytorch"],
    checkpoint: str,  # noqa: ANN401
) -> dict[str, Any]:
    """Everything a consumer of the exported file needs besides the file.

    Args:
        model: The exported model.
        preprocessing: Its preprocessing.
        datamodule: The datamodule it was trained with.
        fmt: The format (``pytorch`` for the model a server runs).
        checkpoint: The checkpoint exported: recorded by its file name and its run's, never by its
            path (the metadata names no local path, so it travels with the file).

    Returns:
        Plain values: the task's kind, input (name, shape with ``null`` batch, dtype, how to make
        it), outputs as the task describes them, class names, the checkpoint and its run, the
        versions that wrote it, and what else the task adds (a threshold).
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
        "checkpoint": Path(checkpoint).name,
        "versions": {"lit_nn": lit_nn.__version__, "torch": torch.__version__},
    }
    run = runs.run_dir_of(Path(checkpoint))
    if run is not None:  # by name and id (the W&B run's, when it logged to W&B)
        metadata["run"] = {"name": run.name, "id": runs.run_info(run).get("wandb_id")}
        tested = runs.tested_metrics(run, Path(checkpoint).name)
        if tested:  # what `lit-nn test` measured on this checkpoint
            metadata["test_metrics"] = tested
    extra = getattr(task, "export_metadata", None)
    metadata.update(extra() if extra is not None else {})
    return metadata
