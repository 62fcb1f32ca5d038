"""``lit-nn plugins``: what is registered, by which plugin, and what failed to load."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from lit_nn import signatures
from lit_nn.cli.scaffold import new_plugin
from lit_nn.cli.table import format_table
from lit_nn.errors import InvalidArgumentsError
from lit_nn.registry import KINDS, Registry, default_registry


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``lit-nn plugins``.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="lit-nn plugins",
        description="List the loaded plugins (built-ins included), what each registers, and "
        "any that failed to load. With --kind, list one kind's names with their providers "
        "and arguments.",
    )
    parser.add_argument("--kind", choices=KINDS, help="list the names of one kind")
    parser.add_argument(
        "--plot",
        nargs=2,
        metavar=("KIND", "FILE"),
        help="draw every registered name of KIND (activations: each function and its derivative) to a PNG FILE",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    new = actions.add_parser(
        "new",
        help="write a new plugin package",
        description="Write lit-nn-NAME/: a plugin package with an example for every hook, tests and a README. "
        "`pip install -e lit-nn-NAME` and lit_nn finds it at once.",
    )
    new.add_argument("name", help="plugin name: lower case letters, digits, '-' and '_'")
    new.add_argument("--dir", default=".", help="where to create the package folder (default: here)")
    return parser


def main(argv: list[str]) -> int:
    """``lit-nn plugins ARGS``.

    Args:
        argv: The arguments after ``plugins``.

    Returns:
        The exit status.
    """
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace, registry: Registry | None = None) -> int:
    """Print the listing, or write a new plugin package.

    Args:
        args: Parsed arguments (``kind``; ``action``, ``name`` and ``dir`` for ``new``).
        registry: The registry to list (default: the process-wide one).

    Returns:
        The exit status (0).
    """
    if getattr(args, "action", None) == "new":
        root = new_plugin(args.name, Path(args.dir))
        print(f"Wrote {root}/\nNext: pip install -e {root} && lit-nn plugins && pytest {root / 'tests'}")
        return 0
    registry = registry or default_registry()
    if args.plot:
        print(plot_kind(registry, *args.plot))
        return 0
    print(list_kind(registry, args.kind) if args.kind else list_plugins(registry))
    return 0


def plot_kind(registry: Registry, kind: str, file: str) -> str:
    """Draw every registered activation (with its default arguments) and its derivative.

    Args:
        registry: The registry.
        kind: What to draw; ``activations`` is the kind that has a picture.
        file: The PNG file to write.

    Returns:
        A line naming the file and what it shows.

    Raises:
        InvalidArgumentsError: For another kind.
    """
    if kind != "activations":
        raise InvalidArgumentsError(
            f"--plot draws activations; {kind!r} has no picture (try: --plot activations out.png)"
        )
    from lit_nn import plotting

    drawable = {e.name: e.factory for e in registry.entries("activations") if not signatures.required(e.factory)}
    path = plotting.activations(drawable, Path(file))
    return f"Wrote {path}: {', '.join(drawable)}"


def list_plugins(registry: Registry) -> str:
    """Describe every plugin the registry saw.

    Args:
        registry: The registry.

    Returns:
        A summary line, a table of loaded plugins, then failed and skipped ones with why.
    """
    loaded = [p for p in registry.plugins if p.status == "loaded"]
    others = [p for p in registry.plugins if p.status != "loaded"]
    counts = ", ".join(
        f"{sum(p.status == s for p in registry.plugins)} {s}"
        for s in ("loaded", "failed", "disabled", "not loaded")
        if any(p.status == s for p in registry.plugins)
    )
    rows = [
        (
            p.name,
            p.distribution or "-",
            p.version or "-",
            "; ".join(f"{kind}: {', '.join(names)}" for kind, names in p.registers.items()),
        )
        for p in loaded
    ]
    out = [f"lit_nn plugins: {counts}", "", format_table(("PLUGIN", "DISTRIBUTION", "VERSION", "REGISTERS"), rows)]
    for status in ("failed", "disabled", "not loaded"):
        group = [p for p in others if p.status == status]
        if group:
            out += ["", f"{status.capitalize()}:"]
            out += [f"  {p.describe()}: {p.reason}" for p in group]
    return "\n".join(out)


WEIGHTS_NOTE = (
    "Pretrained weights (weights=…): a state-dict file, --model.backbone_kwargs.weights FILE, or a torchvision "
    "weight name (IMAGENET1K_V1, DEFAULT) whose file is already in the torch hub cache "
    "($TORCH_HOME/hub/checkpoints, by default ~/.cache/torch/hub/checkpoints); lit_nn never downloads. A file "
    "named as torchvision names them (resnet18-f37072fd.pth) must have the SHA-256 its name begins."
)
"""Said under a list of backbones that take ``weights`` (docs/cli.md, "Pretrained weights")."""


def list_kind(registry: Registry, kind: str) -> str:
    """Describe every name of one kind.

    Args:
        registry: The registry.
        kind: One of :data:`~lit_nn.registry.KINDS`.

    Returns:
        A table of name, plugin, distribution, version and accepted arguments.
    """
    rows = [
        (e.name, e.plugin.name, e.plugin.distribution or "-", e.plugin.version or "-", signatures.text(e.factory))
        for e in registry.entries(kind)
    ]
    text = format_table(("NAME", "PLUGIN", "DISTRIBUTION", "VERSION", "ARGUMENTS"), rows)
    if any(re.search(r"\bweights=", row[-1]) for row in rows):
        text += "\n\n" + WEIGHTS_NOTE
    failed = len(registry.failures)
    if failed:
        text += f"\n\n{failed} plugin(s) failed to load; run `lit-nn plugins` to see why."
    return text
