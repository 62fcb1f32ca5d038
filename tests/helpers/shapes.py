"""Generate a small image-folder dataset of drawn shapes, to try the image pipeline without data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle")


def draw_shape(shape: str, size: int, rng: np.random.Generator) -> Image.Image:
    """Draw one shape of random size, place and colour on a noisy background.

    Args:
        shape: ``"circle"``, ``"square"`` or ``"triangle"``.
        size: Image side in pixels.
        rng: Random source.

    Returns:
        An RGB image.

    Raises:
        ValueError: For an unknown shape.
    """
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    background = rng.integers(0, 256, 3)
    pixels = np.clip(background + rng.normal(0, 20, (size, size, 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    radius = rng.uniform(0.2, 0.35) * size
    cx, cy = rng.uniform(radius, size - radius, 2)
    colour = tuple(int(c) for c in (background + 128 + rng.integers(-40, 40, 3)) % 256)
    draw = ImageDraw.Draw(image)
    if shape == "circle":
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=colour)
    elif shape == "square":
        draw.rectangle([cx - radius, cy - radius, cx + radius, cy + radius], fill=colour)
    else:
        draw.polygon([(cx, cy - radius), (cx - radius, cy + radius), (cx + radius, cy + radius)], fill=colour)
    return image


def make_shapes_folder(
    root: str | Path,
    per_class: int = 50,
    size: int = 64,
    classes: Sequence[str] = ("circle", "square"),
    splits: Sequence[str] = ("train", "val"),
    seed: int = 0,
    suffix: str = ".jpg",
) -> Path:
    """Write ``root/<split>/<class>/<n><suffix>`` images (or ``root/<class>/…`` with no splits).

    Args:
        root: Folder to create.
        per_class: Images per class and split.
        size: Image side in pixels.
        classes: Shapes to draw, one class each.
        splits: Split folders; empty for the single-folder layout.
        seed: Random seed.
        suffix: ``".jpg"`` or ``".png"``.

    Returns:
        ``root``.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    for split in splits or [""]:
        for shape in classes:
            folder = root / split / shape
            folder.mkdir(parents=True, exist_ok=True)
            for n in range(per_class):
                draw_shape(shape, size, rng).save(folder / f"{n:05d}{suffix}")
    return root
