"""``lit-nn serve``: a checkpoint with PyTorch, an ONNX export without torch, or several models from a serve config.

    lit-nn serve --ckpt_path FILE|best|last [-c CONFIG] [options]   a checkpoint (Lightning's command)
    lit-nn serve EXPORT.onnx | EXPORT_FOLDER [options]               an export: no torch, no Lightning
    lit-nn serve SERVE_CONFIG.yaml [options]                         several models, /models/<name>/predict

An export or a serve config of exports is served without importing torch or Lightning (the
``serve`` install extra is all it needs); a checkpoint in a serve config brings PyTorch with it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lit_nn.errors import ConfigError

CONFIG_SUFFIXES = (".yaml", ".yml")

USAGE = """usage: lit-nn serve --ckpt_path FILE|best|last [-c CONFIG] [options]   a checkpoint, with PyTorch
       lit-nn serve EXPORT.onnx | EXPORT_FOLDER [options]               an ONNX export, without torch
       lit-nn serve SERVE_CONFIG.yaml [options]                         several models (docs/deploy.md)

options: --host 127.0.0.1  --port 8000  --workers 1  --max_batch_size 32  --batch_timeout 0.005
         --max_body_mb 16  --body_timeout 30  --max_image_pixels 40000000  --api_key KEY

Every model answers POST /predict (one model) or POST /models/<name>/predict (a serve config);
GET /info describes them, GET /metrics counts requests for Prometheus, GET /health says when it is
ready. With --api_key (or LIT_SERVER_API_KEY) every request must send the key in X-API-Key.
`lit-nn serve --ckpt_path FILE --help` lists the checkpoint command's options."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lit-nn serve", add_help=False, exit_on_error=False)
    parser.add_argument("target")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max_batch_size", type=int, default=32)
    parser.add_argument("--batch_timeout", type=float, default=0.005)
    parser.add_argument("--max_body_mb", type=float, default=16)
    parser.add_argument("--body_timeout", type=float, default=30)
    parser.add_argument("--max_image_pixels", type=int, default=40_000_000)
    parser.add_argument("--api_key", default=None)
    return parser


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse the options of an export's or a serve config's server.

    Args:
        argv: The arguments after ``serve``.

    Returns:
        The options.

    Raises:
        ConfigError: On an unknown option or a value of the wrong type, in one line.
    """
    try:
        options, unknown = _parser().parse_known_args(list(argv))
    except (argparse.ArgumentError, SystemExit) as exc:
        raise ConfigError(f"lit-nn serve: {exc}; see lit-nn serve --help") from None
    if unknown:
        raise ConfigError(
            f"lit-nn serve: unknown option(s) {' '.join(unknown)} for an export or a serve config; "
            "see lit-nn serve --help"
        )
    return options


def need_pytorch(what: str) -> None:
    """Refuse in one line, before anything loads, to serve a checkpoint where PyTorch is not installed.

    A serving-only environment (the ``serve`` extra, docker/serve.Dockerfile) has no torch, Lightning
    or jsonargparse; without this its user reads ``No module named 'lightning'`` and no way out.

    Args:
        what: Where the checkpoint was named (the option, or the serve config and the model).

    Raises:
        ConfigError: When torch, Lightning or jsonargparse cannot be imported.
    """
    from lit_nn.cli.gc_freeze import collector_off

    try:
        with collector_off(freeze=False):  # imports the command makes next anyway, as fast (lit_nn/cli/gc_freeze.py)
            import jsonargparse  # noqa: F401
            import lightning  # noqa: F401
            import torch  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"{what}: a checkpoint is served with PyTorch and Lightning, which this environment lacks ({exc}); "
            "serve its ONNX export instead (lit-nn export --ckpt_path FILE, where lit_nn is installed with its "
            "dependencies, writes one), or install lit_nn with its dependencies here"
        ) from None


def checkpoint_api(path: Path, name: str, api_path: str, batching: dict[str, Any]) -> Any:  # noqa: ANN401 (a ModelAPI)
    """A checkpoint of a serve config, loaded as ``lit-nn serve --ckpt_path`` loads it (checked by the same gate).

    Args:
        path: The checkpoint.
        name: Its model's name.
        api_path: Its predict path.
        batching: LitServe's batching.

    Returns:
        Its :class:`~lit_nn.deploy.serving.ModelAPI`.
    """
    from lit_nn.cli import run_lightning
    from lit_nn.cli.deploy import model_api
    from lit_nn.cli.lightning_cli import LitNNCLI
    from lit_nn.runs import drop_empty_session

    class Loading(LitNNCLI):
        """The serve command up to its model, its weights loaded; it serves nothing itself."""

        def run_subcommand(self, subcommand: str) -> None:
            self.before_export()
            drop_empty_session(self.run_dir, self.session)

    cli = run_lightning(["serve", f"--ckpt_path={path}"], cli_class=Loading)
    return model_api(cli.model, cli.datamodule, str(path), name, batching, api_path)


def run(argv: Sequence[str]) -> int:
    """``lit-nn serve ARGS``.

    Args:
        argv: The arguments after ``serve``.

    Returns:
        0 once the server stopped.

    Raises:
        ConfigError: On bad options, a missing or foreign file, a serve config that names one
            path twice, or a checkpoint where PyTorch is not installed: before anything starts.
    """
    argv = list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv[0].startswith("-"):  # a checkpoint: Lightning's serve command
        need_pytorch("lit-nn serve --ckpt_path")
        from lit_nn.cli import run_lightning

        run_lightning(["serve", *argv])
        return 0
    options = parse(argv)
    from lit_nn.deploy.serve_config import Served, read_config
    from lit_nn.deploy.server import batching_options, predict_path, serve, serve_options

    server = serve_options(options.host, options.port, options.workers, options.max_body_mb, options.body_timeout,
                           options.max_image_pixels, options.api_key)  # fmt: skip
    batching = batching_options(options.max_batch_size, options.batch_timeout)
    target = Path(options.target)
    several = target.suffix in CONFIG_SUFFIXES
    if several:
        served = read_config(target)
    else:
        from lit_nn.deploy.metadata import find_export

        onnx, metadata = find_export(target)
        served = [Served(onnx.stem, onnx, metadata)]
    server.check()
    for entry in served:
        if entry.checkpoint:
            need_pytorch(f"{target}: model {entry.name!r} ({entry.path})")
    apis = []
    for entry in served:
        path = predict_path(entry.name, several)
        if entry.metadata is None:
            apis.append(checkpoint_api(entry.path, entry.name, path, batching))
            continue
        from lit_nn.deploy.onnx_serving import OnnxAPI

        apis.append(OnnxAPI(entry.path, entry.name, entry.metadata, api_path=path, **batching))
    accelerator = "auto" if any(entry.checkpoint for entry in served) else "cpu"
    serve(apis, server, str(target), accelerator)
    return 0
