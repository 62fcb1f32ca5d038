"""torchvision ResNets with the classifier replaced, local weights only, optional frozen features."""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
import torchvision
from torch import Tensor, nn

from lit_nn.models import RESNET_DEPTHS as DEPTHS


def _hub_file(arch: str, name: str) -> Path:
    """Where torchvision keeps the weights ``name`` of ``arch`` once downloaded."""
    enum = torchvision.models.get_model_weights(arch)
    try:
        weights = enum[name]
    except KeyError:
        raise ValueError(
            f"{arch} has no weights named {name!r}; torchvision knows {', '.join(enum.__members__)}, "
            "or pass the path of a state-dict file"
        ) from None
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


HASH_IN_NAME = r"^{arch}-([0-9a-f]{{8,64}})\.pth$"
"""torchvision's weight files carry the start of their SHA-256 in their names (``resnet18-f37072fd.pth``),
the rule torch.hub's ``check_hash`` reads; only a name of that whole form is taken to promise a hash."""


def check_hash(arch: str, path: Path) -> None:
    """Refuse a weights file named like torchvision's whose SHA-256 does not begin as its name says.

    Args:
        arch: For example ``"resnet18"``, for the message.
        path: The file.

    Raises:
        ValueError: On a mismatch, in one line, with both hashes.
    """
    named = re.match(HASH_IN_NAME.format(arch=re.escape(arch)), path.name)
    if named is None:
        return
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    actual = digest.hexdigest()
    if not actual.startswith(named.group(1)):
        raise ValueError(
            f"{arch} weights file {str(path)!r} is named as torchvision names its weights, with a SHA-256 beginning "
            f"{named.group(1)}, but its SHA-256 begins {actual[: len(named.group(1))]}: the file is damaged or not "
            "the one its name says; copy torchvision's file again, or rename a file of your own (no hash in the name)"
        )


def load_state_dict(arch: str, weights: str) -> dict[str, Tensor]:
    """Load ResNet weights from a local file or torch's hub cache; never download.

    Args:
        arch: For example ``"resnet18"``.
        weights: A state-dict file (``torch.save(model.state_dict(), path)``), or a torchvision
            weight name such as ``"IMAGENET1K_V1"`` or ``"DEFAULT"`` already in the hub cache.

    Returns:
        The state dict.

    Raises:
        ValueError: If the file is missing or not a state dict, its name carries a SHA-256 prefix
            its bytes do not have, or a named weight is not cached (saying how to provide it).
    """
    looks_like_path = os.sep in weights or "/" in weights or weights.endswith((".pt", ".pth", ".bin", ".ckpt"))
    if looks_like_path:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise ValueError(f"{arch} weights file {str(path)!r} does not exist")
    else:
        path = _hub_file(arch, weights)
        if not path.is_file():
            url = torchvision.models.get_model_weights(arch)[weights].url
            raise ValueError(
                f"{arch} weights {weights!r} are not in the torch hub cache ({path}) and lit_nn never "
                f"downloads. On a machine with internet, download {url}, then copy it to {path} or pass "
                "its path as weights"
            )
    check_hash(arch, path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{arch} weights file {str(path)!r} could not be read as a state dict: {exc}") from exc
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"{arch} weights file {str(path)!r} does not hold a state dict of tensors")
    return dict(state)


class ResNet(nn.Module):
    """A torchvision ResNet whose ``fc`` is replaced by ``dropout → Linear(features, output_size)``.

    Args:
        depth: 18, 34, 50, 101 or 152.
        input_shape: ``(channels, height, width)``; a first convolution for other than 3
            channels is built from the RGB one (averaged) when weights are loaded.
        output_size: Number of outputs.
        activation: Returns a fresh activation module; used instead of the ReLUs unless it is a
            ReLU itself.
        dropout: Dropout probability before the head.
        weights: ``None`` (random initialisation), a state-dict file, or a cached torchvision
            weight name (see :func:`load_state_dict`).
        freeze_backbone: Train only the head; the frozen features also keep their batch-norm
            statistics (they stay in eval mode).
    """

    def __init__(
        self,
        depth: int,
        input_shape: Sequence[int],
        output_size: int,
        activation: Callable[[], nn.Module],
        dropout: float = 0.0,
        weights: str | None = None,
        freeze_backbone: bool = False,
    ) -> None:
        super().__init__()
        if depth not in DEPTHS:
            raise ValueError(f"depth must be one of {DEPTHS}, got {depth}")
        if len(input_shape) != 3:
            raise ValueError(f"resnet{depth} needs image input (channels, height, width), got {tuple(input_shape)}")
        if freeze_backbone and weights is None:
            warnings.warn(
                f"resnet{depth}: freeze_backbone=True without weights trains only a head on random features",
                UserWarning,
                stacklevel=2,
            )
        arch = f"resnet{depth}"
        net = getattr(torchvision.models, arch)(weights=None)
        if weights is not None:
            state = {k: v for k, v in load_state_dict(arch, weights).items() if not k.startswith("fc.")}
            missing, unexpected = net.load_state_dict(state, strict=False)
            missing = [k for k in missing if not k.startswith("fc.")]
            if missing or unexpected:
                raise ValueError(
                    f"the weights do not fit {arch}: missing {missing[:5]}, unexpected {unexpected[:5]} "
                    f"(of {len(missing)} and {len(unexpected)}); was the file saved from another architecture?"
                )
        channels = input_shape[0]
        if channels != 3:
            old = net.conv1
            net.conv1 = nn.Conv2d(channels, old.out_channels, old.kernel_size, old.stride, old.padding, bias=False)
            if weights is not None:
                with torch.no_grad():
                    net.conv1.weight.copy_(old.weight.mean(dim=1, keepdim=True).expand(-1, channels, -1, -1))
        probe = activation()
        if not isinstance(probe, nn.ReLU):
            if weights is not None:
                warnings.warn(
                    f"{arch}: replacing the pretrained network's ReLUs by {type(probe).__name__}",
                    UserWarning,
                    stacklevel=2,
                )
            _replace_relus(net, activation)
        features = net.fc.in_features
        net.fc = nn.Identity()
        self.features = net
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(features, output_size))
        self.freeze_backbone = freeze_backbone
        if freeze_backbone:
            self.features.requires_grad_(False)
            self.features.eval()

    def train(self, mode: bool = True) -> ResNet:
        """Switch train/eval mode, keeping frozen features in eval mode.

        Args:
            mode: Training mode.

        Returns:
            Itself.
        """
        super().train(mode)
        if self.freeze_backbone:
            self.features.eval()
        return self

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(batch, channels, height, width)`` to ``(batch, output_size)``.

        Args:
            x: Image batch.

        Returns:
            Raw outputs.
        """
        return self.head(self.features(x))


def _replace_relus(module: nn.Module, activation: Callable[[], nn.Module]) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.ReLU):
            setattr(module, name, activation())
        else:
            _replace_relus(child, activation)
