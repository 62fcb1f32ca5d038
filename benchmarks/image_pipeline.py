"""Images per second per worker of the ``image_folder`` datamodule against plain torchvision decoding.

A folder of photo-like JPEGs (smooth colour fields with edges and grain, 300-500 px a side, JPEG
quality 80-95: about the size and file weight of Kaggle's dogs-vs-cats) is written to a temporary
folder, the same files under ``train/`` and ``val/``. Three loaders read them, in one process, one
thread (as in a DataLoader worker, which runs ``torch.set_num_threads(1)``), ``num_workers=0``:

- ``baseline``: the file's bytes, TorchCodec's ``decode_jpeg``, the datamodule's resize (shorter
  side to ``resize``, antialiased) and centre crop to ``image_size``, ``default_collate``
  (``uint8`` batches);
- ``train``: the datamodule's training loader (decode, resize, random crop and flip, ``uint8``
  batches);
- ``val``: its validation loader (decode, resize, centre crop, ``uint8`` batches);
- ``val_normalised`` (in process only): ``val`` followed by the datamodule's
  ``on_after_batch_transfer``, which turns a batch into normalised ``float32`` on the device it
  reached; here that device is this CPU, so this is the whole cost when training on the CPU.

Each round reads one epoch with every loader, a batch of each in turn, so that other programs on
the machine slow all three alike. The rounds repeat; reported are the median rates, wall-clock
(``images_per_s``) and per CPU second of this process (``cpu_images_per_s``, steadier on a shared
machine), and the median of each round's ratio to the baseline (goals: ``train`` and ``val``
ratio at least 0.97 in process and 0.95 with a worker).

The full run also times the same three with one worker process each (``num_workers=1``,
persistent, started by a first epoch), whose batches reach the main process through shared
memory; these alternate epoch by epoch, since a worker prepares batches ahead. ``peak_mib``: this
process; ``worker_peak_mib``: the largest worker process.

    python benchmarks/image_pipeline.py                 # 384 images, 7 rounds, and workers (about 1 minute)
    python benchmarks/image_pipeline.py --quick         # 64 images, 2 rounds, to check it works
    python benchmarks/image_pipeline.py --json out.json
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torchvision.transforms.v2.functional as F  # noqa: E402
from torchcodec.decoders import decode_jpeg  # noqa: E402

from benchmarks.common import photo, write_result  # noqa: E402
from lit_nn.data.image_folder import ImageFolderDataModule  # noqa: E402

IMAGE_SIZE = 224
BATCH_SIZE = 32
CLASSES = ("cat", "dog")
GOALS = {"in_process": 0.97, "one_worker": 0.95}


def make_photos(root: Path, count: int, seed: int = 0) -> list[Path]:
    """Write ``count`` JPEGs to ``root/train/<class>/`` and the same files to ``root/val/<class>/``.

    Args:
        root: An empty folder.
        count: Images, half of each class.
        seed: Random seed.

    Returns:
        The files under ``train/``, in the order the loaders read them unshuffled.
    """
    rng = np.random.default_rng(seed)
    for n in range(count):
        name = Path(CLASSES[n % 2]) / f"{n:05d}.jpg"
        (root / "train" / name).parent.mkdir(parents=True, exist_ok=True)
        photo(rng).save(root / "train" / name, quality=int(rng.integers(80, 96)))
        (root / "val" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / "train" / name, root / "val" / name)
    return sorted((root / "train").rglob("*.jpg"))


class DecodeResize(Dataset):
    """The baseline: bytes, TorchCodec's ``decode_jpeg``, the datamodule's resize and centre crop.

    Args:
        files: The JPEGs.
        resize: Shorter side after resizing.
        size: Side of the centre crop.
    """

    def __init__(self, files: list[Path], resize: int, size: int) -> None:
        self.files, self.resize, self.size = files, resize, size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        data = torch.frombuffer(bytearray(self.files[index].read_bytes()), dtype=torch.uint8)
        image = decode_jpeg(data, mode="RGB")
        return F.center_crop(F.resize(image, [self.resize], antialias=True), [self.size]), index % 2


class Normalised:
    """A loader whose batches then go through the datamodule's ``on_after_batch_transfer``.

    Args:
        loader: The loader.
        data: Its datamodule.
    """

    def __init__(self, loader: DataLoader, data: ImageFolderDataModule) -> None:
        self.loader, self.data = loader, data

    def __iter__(self) -> Iterable[tuple[Tensor, Tensor]]:
        """Yield the normalised batches."""
        for batch in self.loader:
            yield self.data.on_after_batch_transfer(batch, 0)


def loaders(root: Path, files: list[Path], num_workers: int) -> dict[str, DataLoader]:
    """The loaders over the same files (``val_normalised`` only without workers).

    Args:
        root: The image folder.
        files: Its ``train/`` files.
        num_workers: Worker processes of every loader.

    Returns:
        Variant name to loader.
    """
    data = ImageFolderDataModule(str(root), image_size=IMAGE_SIZE, batch_size=BATCH_SIZE, num_workers=num_workers)
    baseline = DataLoader(
        DecodeResize(files, data.resize, IMAGE_SIZE),
        batch_size=BATCH_SIZE,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )
    named = {"baseline": baseline, "train": data.train_dataloader(), "val": data.val_dataloader()}
    if num_workers == 0:
        named["val_normalised"] = Normalised(data.val_dataloader(), data)
    return named


def epoch(loader: Iterable[tuple[Tensor, Tensor]]) -> tuple[int, float, float]:
    """Read one epoch.

    Args:
        loader: The loader.

    Returns:
        Images read, wall seconds, CPU seconds of this process.
    """
    images = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for x, _ in loader:
        images += len(x)
    return images, time.perf_counter() - wall, time.process_time() - cpu


def interleaved_epochs(named: dict[str, DataLoader], first: int) -> dict[str, tuple[int, float, float]]:
    """Read one epoch of every loader, one batch of each in turn, timing each batch.

    Other programs on the machine then slow every loader alike, not whichever ran while they did.
    Only for loaders without workers: a worker would prepare its next batches while the others run.

    Args:
        named: Variant name to loader (all with the same number of batches).
        first: Index of the variant that takes the first batch of every turn.

    Returns:
        Per variant: images read, wall seconds, CPU seconds of this process.
    """
    order = list(named)
    order = order[first % len(order) :] + order[: first % len(order)]
    iterators = {name: iter(named[name]) for name in order}
    totals = {name: [0, 0.0, 0.0] for name in order}
    while iterators:
        for name in list(iterators):
            wall, cpu = time.perf_counter(), time.process_time()
            batch = next(iterators[name], None)
            if batch is None:
                del iterators[name]
                continue
            total = totals[name]
            total[0] += len(batch[0])
            total[1] += time.perf_counter() - wall
            total[2] += time.process_time() - cpu
    return {name: (int(n), wall, cpu) for name, (n, wall, cpu) in totals.items()}


def measure(named: dict[str, DataLoader], rounds: int, interleave: bool) -> dict[str, dict[str, float]]:
    """Read ``rounds`` epochs of every loader, alternating, and summarise.

    Args:
        named: Variant name to loader; one is ``baseline``.
        rounds: Epochs per loader.
        interleave: Alternate batch by batch (:func:`interleaved_epochs`); otherwise epoch by epoch,
            a different loader first each round.

    Returns:
        Per variant: the median images per second (wall and CPU) and the median over rounds of
        its rate divided by the baseline's in the same round.
    """
    rates: dict[str, list[tuple[float, float]]] = {name: [] for name in named}
    for turn in range(rounds):
        if interleave:
            results = interleaved_epochs(named, turn)
        else:
            order = list(named)
            results = {name: epoch(named[name]) for name in order[turn % len(order) :] + order[: turn % len(order)]}
        for name, (images, wall, cpu) in results.items():
            rates[name].append((images / wall, images / cpu))

    def median(values: Iterable[float]) -> float:
        return round(statistics.median(values), 3)

    base = rates["baseline"]
    return {
        name: {
            "images_per_s": round(median(w for w, _ in r), 1),
            "ratio": median(w / b for (w, _), (b, _) in zip(r, base, strict=True)),
            "cpu_images_per_s": round(median(c for _, c in r), 1),
            "cpu_ratio": median(c / b for (_, c), (_, b) in zip(r, base, strict=True)),
        }
        for name, r in rates.items()
    }


def measure_one_worker(root: Path, files: list[Path], rounds: int) -> dict[str, dict[str, float]]:
    """Like :func:`measure`, each loader with one persistent worker process, started beforehand.

    Args:
        root: The image folder.
        files: Its ``train/`` files.
        rounds: Epochs per loader.

    Returns:
        As :func:`measure`, wall-clock figures only (the work is in the workers, not this process).
    """
    named = loaders(root, files, num_workers=1)
    for loader in named.values():
        epoch(loader)
    summary = measure(named, rounds, interleave=False)
    return {name: {k: v for k, v in figures.items() if not k.startswith("cpu")} for name, figures in summary.items()}


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print (or write) its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="64 images, 2 rounds, no worker processes")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    count, rounds = (64, 2) if args.quick else (384, 7)
    warnings.simplefilter("error", DeprecationWarning)  # neither pipeline uses torchvision's deprecated decoders
    torch.set_num_threads(1)
    torch.manual_seed(0)
    result: dict[str, object] = {
        "images": count,
        "rounds": rounds,
        "image_size": IMAGE_SIZE,
        "batch_size": BATCH_SIZE,
        "torch_threads": 1,
    }
    with tempfile.TemporaryDirectory(prefix="lit_nn_images_") as tmp:
        root = Path(tmp)
        files = make_photos(root, count)
        result["mean_file_kib"] = round(sum(f.stat().st_size for f in files) / len(files) / 1024, 1)
        result["in_process"] = measure(loaders(root, files, num_workers=0), rounds, interleave=True)
        if not args.quick:
            result["one_worker"] = measure_one_worker(root, files, max(3, rounds // 2))
            # the workers have exited (their loaders are gone) and been waited for
            result["worker_peak_mib"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    result["goals"] = GOALS
    result["goals_met"] = {
        mode: all(result[mode][name]["ratio"] >= goal for name in ("train", "val"))
        for mode, goal in GOALS.items()
        if mode in result
    }
    write_result(args.json, result)


if __name__ == "__main__":
    main()
