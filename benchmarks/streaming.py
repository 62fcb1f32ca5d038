"""Training loaders' samples per second: the streaming datamodule (LitData chunks) against the in-memory source.

Two sources are generated in a temporary folder and written to chunks as ``lit-nn data optimize``
writes them (:func:`lit_nn.data.chunks.write_chunks`):

- ``csv``: the CSV benchmark's table (14 numbers, 3 categories, a 5-class target), 10,000 rows,
  read by the ``csv`` datamodule (the whole file in memory as tensors), batches of 256;
- ``images``: the image benchmark's photo-like JPEGs (300-500 px a side), 128 of them, read by the
  ``image_folder`` datamodule (each file decoded as it is read), 224 px crops, batches of 32.

One round reads one shuffled training epoch of each loader, in process (``num_workers=0``), every
batch through the datamodule's ``on_after_batch_transfer`` (standardised or normalised on this
CPU, as when training on it); the order alternates each round, so that other programs on the
machine slow both alike. Reported are the median rates and the median of each round's ratio
``streaming / in_memory``. The first epoch of each is a warm-up, not counted.

    python benchmarks/streaming.py                # 3 rounds after the warm-up
    python benchmarks/streaming.py --quick        # smaller sources, 2 rounds, to check it works
    python benchmarks/streaming.py --json benchmarks/results/streaming.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import write_result  # noqa: E402
from benchmarks.csv_loading import write_table  # noqa: E402
from benchmarks.image_pipeline import make_photos  # noqa: E402
from lit_nn.checkpoint_choice import size_keys  # noqa: E402
from lit_nn.data.chunks import write_chunks  # noqa: E402
from lit_nn.data.streaming import StreamingDataModule  # noqa: E402
from lit_nn.registry import build_registry  # noqa: E402


def sources(folder: Path, quick: bool) -> dict[str, tuple[str, dict[str, Any]]]:
    """Write the two sources.

    Args:
        folder: An empty folder.
        quick: Smaller sources.

    Returns:
        Each source's datamodule name and arguments.
    """
    csv = write_table(folder / "table.csv", 2_000 if quick else 10_000)
    make_photos(folder / "photos", 32 if quick else 128)
    return {
        "csv": ("csv", {"path": str(csv), "target": "target", "categorical": ["colour", "town", "size"],
                        "batch_size": 256, "val_fraction": 0.1}),
        "images": ("image_folder", {"root": str(folder / "photos"), "image_size": 224, "batch_size": 32,
                                    "num_workers": 0}),
    }  # fmt: skip


def epoch(datamodule: Any) -> tuple[int, float]:  # noqa: ANN401 (a lit_nn datamodule)
    """Read one training epoch as training would.

    Args:
        datamodule: The datamodule.

    Returns:
        Samples and seconds.
    """
    samples, start = 0, time.perf_counter()
    for batch in datamodule.train_dataloader():
        samples += len(datamodule.on_after_batch_transfer(batch, 0)[0])
    return samples, time.perf_counter() - start


def compare(name: str, arguments: dict[str, Any], chunks: Path, rounds: int) -> dict[str, Any]:
    """Time the source and its chunks, alternating.

    Args:
        name: The source's datamodule.
        arguments: Its arguments.
        chunks: An empty folder for the chunks.
        rounds: Rounds after the warm-up.

    Returns:
        The figures.
    """
    registry = build_registry()
    start = time.perf_counter()
    write_chunks(registry.create("datamodules", name, **arguments), str(chunks), {"class_path": name,
                 "init_args": arguments}, size_keys()[:-1])  # fmt: skip
    written = time.perf_counter() - start
    in_memory = registry.create("datamodules", name, **arguments)
    in_memory.setup("fit")
    loaders = {"in_memory": in_memory, "streaming": StreamingDataModule(str(chunks))}
    rates: dict[str, list[float]] = {key: [] for key in loaders}
    counts = {}
    for round_ in range(rounds + 1):
        order = list(loaders) if round_ % 2 == 0 else list(reversed(loaders))
        for key in order:
            counts[key], seconds = epoch(loaders[key])
            if round_:
                rates[key].append(counts[key] / seconds)
    ratios = [s / m for s, m in zip(rates["streaming"], rates["in_memory"], strict=True)]
    return {
        "train_samples": counts,
        "samples_per_s": {key: round(statistics.median(values), 1) for key, values in rates.items()},
        "ratio_streaming_to_in_memory": round(statistics.median(ratios), 3),
        "ratios": [round(r, 3) for r in ratios],
        "optimize_s": round(written, 2),
    }


def main() -> None:
    """Run the benchmark and print (or write) its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json")
    options = parser.parse_args()
    warnings.filterwarnings("ignore")
    rounds = 2 if options.quick else options.rounds
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results = {key: compare(name, arguments, folder / f"{key}-chunks", rounds)
                   for key, (name, arguments) in sources(folder, options.quick).items()}  # fmt: skip
    write_result(options.json, {"benchmark": "streaming", "quick": options.quick, "rounds": rounds,
                                "num_workers": 0, **results})  # fmt: skip


if __name__ == "__main__":
    main()
