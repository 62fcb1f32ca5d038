"""A small convolutional network for images from 8x8 up to 224x224 pixels."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from torch import Tensor, nn


def auto_stem_stride(size: int) -> int:
    """Pick the first convolution's stride so large images are cheap and small ones keep detail.

    Args:
        size: The smaller of the input's height and width.

    Returns:
        1 below 64 pixels, 2 below 128, else 4.
    """
    return 1 if size < 64 else 2 if size < 128 else 4


class CNN(nn.Module):
    """Stages of ``conv → batch norm → activation`` blocks, then a global-pooling head.

    Stages are pooled by 2 between them while the feature map is larger than 1x1; the head is
    global average pooling, dropout and a linear layer.

    Args:
        input_shape: ``(channels, height, width)``.
        output_size: Number of outputs.
        activation: Returns a fresh activation module per call.
        channels: Output channels of each stage.
        blocks_per_stage: Convolutions per stage.
        kernel_size: Odd convolution kernel size.
        pool: Pooling between stages.
        stem_stride: Stride of the first convolution; ``None`` chooses from the input size.
        dropout: Dropout probability before the head.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        output_size: int,
        activation: Callable[[], nn.Module],
        channels: Sequence[int] = (32, 64, 128),
        blocks_per_stage: int = 2,
        kernel_size: int = 3,
        pool: Literal["max", "avg"] = "max",
        stem_stride: int | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if len(input_shape) != 3:
            raise ValueError(
                f"cnn needs image input (channels, height, width), got input_shape {tuple(input_shape)}; "
                "use the mlp backbone for vectors"
            )
        if not channels or any(c < 1 for c in channels) or blocks_per_stage < 1:
            raise ValueError(f"channels must be positive and non-empty and blocks_per_stage >= 1, got {list(channels)}")
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if pool not in ("max", "avg"):
            raise ValueError(f"pool must be 'max' or 'avg', got {pool!r}")
        in_channels, height, width = input_shape
        stride = stem_stride or auto_stem_stride(min(height, width))
        size = [-(-height // stride), -(-width // stride)]
        layers: list[nn.Module] = []
        for stage, out_channels in enumerate(channels):
            if stage > 0 and max(size) > 1:
                layers.append(nn.MaxPool2d(2, ceil_mode=True) if pool == "max" else nn.AvgPool2d(2, ceil_mode=True))
                size = [-(-s // 2) for s in size]
            for block in range(blocks_per_stage):
                conv_stride = stride if stage == 0 and block == 0 else 1
                layers += [
                    nn.Conv2d(in_channels, out_channels, kernel_size, conv_stride, kernel_size // 2, bias=False),
                    nn.BatchNorm2d(out_channels),
                    activation(),
                ]
                in_channels = out_channels
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(in_channels, output_size)
        )

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(batch, channels, height, width)`` to ``(batch, output_size)``.

        Args:
            x: Image batch.

        Returns:
            Raw outputs.
        """
        return self.head(self.features(x))
