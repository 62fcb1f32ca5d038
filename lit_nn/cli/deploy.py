"""``lit-nn export`` and ``lit-nn serve``: Trainer methods, the way Lightning's CLI grows a command.

Lightning's CLI runs a command as the method of the same name on its trainer, its arguments
parsed from the method's signature; so these commands are :class:`DeployTrainer` methods, and
they get everything ``lit-nn test`` has: ``-c`` configs, ``--ckpt_path best|last|FILE`` chosen
among the runs of the configuration, the checkpoint read by lit_nn's loader and checked against
the model, and the datamodule rebuilt with the preprocessing the model was trained with.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from lightning.pytorch import LightningDataModule, LightningModule, Trainer

from lit_nn.deploy import export as exporting
from lit_nn.deploy.inference import InferenceModel, Preprocessing, generated_batches, inference_model, test_batches
from lit_nn.errors import ConfigError

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
        labels = (
            "" if agreement.label_agreement is None else f", labels agree on {100 * agreement.label_agreement:.2f} %"
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
    ) -> None:
        """Serve a checkpoint's model over HTTP on LitServe: POST /predict, GET /health.

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

        Raises:
            ConfigError: On a bad host, port, batch size, worker count or bound, or a port in use.
        """
        if host not in ("127.0.0.1", "0.0.0.0", "::"):
            raise ConfigError(f"--host {host}: LitServe listens on 127.0.0.1 (this machine), 0.0.0.0 or :: (all)")
        if not 1024 <= port <= 65535:
            raise ConfigError(f"--port {port}: give a port from 1024 to 65535")
        if max_batch_size < 1 or workers < 1 or batch_timeout < 0:
            raise ConfigError("--max_batch_size and --workers must be 1 or more, --batch_timeout 0 or more")
        if not (max_body_mb > 0 and body_timeout > 0 and max_image_pixels > 0):
            raise ConfigError("--max_body_mb, --body_timeout and --max_image_pixels must be above 0")
        _check_free(host, port)
        inference, preprocessing = _model(model, datamodule, "predict")
        # the served model is PyTorch's own, not an export
        metadata = exporting.metadata_of(inference, preprocessing, datamodule, "pytorch", str(ckpt_path))
        from lit_nn.deploy.serving import Bounds, ModelAPI, server
        from lit_nn.lifetime import die_with_parent

        os.register_at_fork(after_in_child=die_with_parent)  # LitServe forks its HTTP server and queue manager
        api = ModelAPI(inference, metadata, max_batch_size=max_batch_size, batch_timeout=batch_timeout)
        bounds = Bounds(round(max_body_mb * 2**20), body_timeout, max_image_pixels)
        print(f"Serving {ckpt_path} on http://{host}:{port}/predict (health: /health); Ctrl+C stops", flush=True)
        if host != "127.0.0.1":
            print(
                f"--host {host}: the server is reachable from other machines, with no authentication; "
                "--host 127.0.0.1 keeps it to this one",
                flush=True,
            )
        with _terminate_gracefully():
            server(api, workers=workers, bounds=bounds).run(
                host=host, port=port, generate_client_file=False, log_level="warning"
            )
        print("Server stopped")


@contextlib.contextmanager
def _terminate_gracefully() -> Iterator[None]:
    """SIGTERM (Docker, Kubernetes, SLURM) stops the server as Ctrl+C does: LitServe shuts its workers down.

    Without this, SIGTERM ends the main process at once and leaves LitServe's worker processes behind.
    """
    owner = os.getpid()

    def interrupt(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != owner:  # LitServe's forked HTTP server, which re-raises SIGTERM once it has stopped
            raise SystemExit(0)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); give another --port") from None


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
