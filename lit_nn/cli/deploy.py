"""``lit-nn export`` and ``lit-nn serve``: Trainer methods, the way Lightning's CLI grows a command.

Lightning's CLI runs a command as the method of the same name on its trainer, its arguments
parsed from the method's signature; so these commands are :class:`DeployTrainer` methods, and
they get everything ``lit-nn test`` has: ``-c`` configs, ``--ckpt_path best|last|FILE`` chosen
among the runs of the configuration, the checkpoint read by lit_nn's loader and checked against
the model, and the datamodule rebuilt with the preprocessing the model was trained with.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning.pytorch import LightningDataModule, LightningModule, Trainer

from lit_nn.deploy import export as exporting
from lit_nn.deploy.inference import InferenceModel, Preprocessing, generated_batches, inference_model, test_batches
from lit_nn.errors import ConfigError

if TYPE_CHECKING:  # the server's modules load when a server starts (LitServe and FastAPI take 0.4 s)
    from lit_nn.deploy.serving import ModelAPI

RUNTIMES = {"onnx": "onnxruntime", "torchscript": "torch.jit.load", "exported": "torch.export.load"}
GENERATED = 256
"""Inputs an export is checked on where its test data is not here (the training data is gone)."""


def _model(
    model: LightningModule, datamodule: LightningDataModule | None, stage: str
) -> tuple[InferenceModel, Preprocessing]:
    """The trained model (its weights loaded by the CLI from the checkpoint it read) behind its preprocessing."""
    if datamodule is None:
        raise ConfigError("give the datamodule the model was trained with (-c CONFIG or --data NAME)")
    datamodule.setup(stage)
    return inference_model(model, datamodule)


class DeployTrainer(Trainer):
    """Lightning's Trainer, with the ``export`` and ``serve`` commands.

    The model they are given holds the checkpoint's weights: the CLI loads them from the
    checkpoint it read and checked (``LitNNCLI.before_export``), as ``Trainer.test`` would from
    ``ckpt_path``.
    """

    def export(
        self,
        model: LightningModule,
        datamodule: LightningDataModule | None = None,
        ckpt_path: str | None = None,
        format: exporting.Format = "onnx",  # noqa: A002 (the command's --format)
        output: str | None = None,
        overwrite: bool = False,
        tolerance: float = 1e-4,
    ) -> Path:
        """Export a checkpoint's model with its preprocessing, and check it on the test split.

        Where the training data is gone (the checkpoint's fitted state built the datamodule), the
        check runs on :data:`GENERATED` inputs drawn from the model's input space instead, and says so.

        Args:
            model: The task (built by the CLI from the checkpoint).
            datamodule: Its datamodule, with the training preprocessing.
            ckpt_path: best, last, or a checkpoint FILE.
            format: onnx (run by onnxruntime), torchscript (torch.jit.load) or exported
                (torch.export's ExportedProgram, .pt2, torch.export.load).
            output: The file to write (default: exports/<checkpoint name>.<onnx|ts|pt2> in the run folder).
            overwrite: Replace --output (and its metadata file, ``<output>.json``) if they exist.
            tolerance: Largest difference allowed between the exported model's outputs and PyTorch's,
                relative to max(1, |PyTorch's value|).

        Returns:
            The exported file.

        Raises:
            ConfigError: On a bad --output or --tolerance.
            ExportError: When the export fails, or its outputs differ from PyTorch's beyond the tolerance.
        """
        suffix = exporting.SUFFIXES[format]
        path = (
            Path(output)
            if output
            else Path(self.default_root_dir) / "exports" / (Path(ckpt_path or "model").stem + suffix)
        )
        if output and path.suffix != suffix:
            raise ConfigError(f"--output {output}: a {format} export is a {suffix} file; name it …{suffix}")
        if output and not overwrite:
            for taken in (path, exporting.metadata_path(path)):
                if taken.exists():
                    raise ConfigError(
                        f"--output {output}: {taken} exists; give another file, or --overwrite true to replace it"
                    )
        if not tolerance > 0:
            raise ConfigError(f"--tolerance must be above 0, got {tolerance}")
        inference, preprocessing = _model(model, datamodule, "test")
        metadata = exporting.metadata_of(inference, preprocessing, datamodule, format, str(ckpt_path))
        here = getattr(datamodule, "absent", None) is None  # absent: the training data is gone, no test split
        inputs = "test samples" if here else "generated inputs"
        path.parent.mkdir(parents=True, exist_ok=True)
        with exporting.staging(path) as staged:  # checked before anything takes the target's name
            exporting.write(inference, preprocessing, format, staged, metadata)
            batches = test_batches(datamodule, preprocessing) if here else generated_batches(preprocessing, GENERATED)
            agreement = exporting.compare(inference, exporting.load(staged, format), batches)
            if not agreement.max_scaled_diff <= tolerance:
                raise exporting.ExportError(
                    f"the {format} export's outputs differ from PyTorch's by up to {agreement.max_abs_diff:.3g} "
                    f"({agreement.max_scaled_diff:.3g} relative) on {agreement.samples} {inputs}, above "
                    f"--tolerance {tolerance:g}; nothing was written"
                )
            check = {"tolerance": tolerance, "runtime": RUNTIMES[format], "inputs": "test" if here else "generated"}
            metadata.update(file=path.name, check={**check, **agreement.as_dict()})
            exporting.write_metadata(exporting.metadata_path(staged), metadata)
            exporting.publish(staged, path)
        sets = any(output.get("name") == "prediction_set" for output in metadata.get("outputs") or [])
        labels = (
            ""
            if agreement.label_agreement is None
            else f", labels{' and prediction sets' if sets else ''} agree on {100 * agreement.label_agreement:.2f} %"
        )
        print(f"Exported {path}")
        print(
            f"Checked with {RUNTIMES[format]} against PyTorch on {agreement.samples} {inputs}"
            f"{'' if here else ' (the test data is not here)'}: largest absolute difference "
            f"{agreement.max_abs_diff:.3g}{labels}"
        )
        print(f"Metadata: {exporting.metadata_path(path)}")
        return path

    def serve(
        self,
        model: LightningModule,
        datamodule: LightningDataModule | None = None,
        ckpt_path: str | None = None,
        host: str = "127.0.0.1",
        port: int = 8000,
        max_batch_size: int = 32,
        batch_timeout: float = 0.005,
        workers: int = 1,
        max_body_mb: float = 16,
        body_timeout: float = 30,
        max_image_pixels: int = 40_000_000,
        api_key: str | None = None,
    ) -> None:
        """Serve a checkpoint's model over HTTP on LitServe: POST /predict, GET /info, /metrics, /health.

        Args:
            model: The task (built by the CLI from the checkpoint).
            datamodule: Its datamodule, with the training preprocessing.
            ckpt_path: best, last, or a checkpoint FILE.
            host: 127.0.0.1 (this machine only), 0.0.0.0 or :: (every interface).
            port: TCP port, 1024-65535.
            max_batch_size: Most requests run through the model together.
            batch_timeout: Seconds to wait for a batch to fill.
            workers: Inference worker processes.
            max_body_mb: The largest request body in MiB (413 beyond it, checked before it is read whole).
            body_timeout: Seconds a request's body may take to arrive (408 after, the connection closed).
            max_image_pixels: The most pixels an image may declare (413 beyond it, before it is decoded).
            api_key: The key every request must send in the X-API-Key header (401 without it);
                default: the LIT_SERVER_API_KEY environment variable, else none.

        Raises:
            ConfigError: On a bad host, port, batch size, worker count or bound, or a port in use.
        """
        from lit_nn.deploy.server import batching_options, serve, serve_options

        options = serve_options(host, port, workers, max_body_mb, body_timeout, max_image_pixels, api_key)
        batching = batching_options(max_batch_size, batch_timeout)
        options.check()
        serve([model_api(model, datamodule, ckpt_path, "model", batching)], options, str(ckpt_path))


def model_api(
    model: LightningModule,
    datamodule: LightningDataModule | None,
    ckpt_path: str | None,
    name: str,
    batching: dict[str, Any],
    api_path: str = "/predict",
) -> ModelAPI:
    """A checkpoint's model (its weights loaded) behind LitServe, with PyTorch.

    Args:
        model: The task.
        datamodule: Its datamodule, with the training preprocessing.
        ckpt_path: The checkpoint.
        name: The model's name.
        batching: :func:`batching_options`.
        api_path: Its predict path.

    Returns:
        The model's API.
    """
    from lit_nn.deploy.serving import ModelAPI

    inference, preprocessing = _model(model, datamodule, "predict")
    # the served model is PyTorch's own, not an export
    metadata = exporting.metadata_of(inference, preprocessing, datamodule, "pytorch", str(ckpt_path))
    return ModelAPI(inference, metadata, name, api_path=api_path, **batching)


def commands() -> dict[str, set[str]]:
    """The deploy commands and the method arguments their parsers skip (the CLI passes them).

    Returns:
        Command to skipped arguments, as ``LightningCLI.subcommands`` gives them.
    """
    return {"export": {"model", "datamodule"}, "serve": {"model", "datamodule"}}


def is_deploy(command: Any) -> bool:  # noqa: ANN401
    """Whether a command is one of this module's.

    Args:
        command: The command name.

    Returns:
        ``True`` for export and serve.
    """
    return command in commands()
