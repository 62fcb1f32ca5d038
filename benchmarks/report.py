"""Render ``docs/performance.md`` from the benchmarks' JSON results (``benchmarks/performance.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

Result = Mapping[str, Any]


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table.

    Args:
        header: Column titles.
        rows: Cells, converted with ``str``.

    Returns:
        The table, one line per row.
    """
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(met: bool) -> str:
    """Say whether a goal was met.

    Args:
        met: Whether it was.

    Returns:
        ``"met"`` or ``"**not met**"``.
    """
    return "met" if met else "**not met**"


def provenance(result: Result) -> str:
    """The line under each section saying where and how its figures were measured.

    Args:
        result: One benchmark's figures.

    Returns:
        Machine, date, the script's own wall time and peak memory.
    """
    script = result.get("script", {})
    quick = " with --quick" if script.get("quick") else ""
    return (
        f"Measured {script.get('date', '?')}{quick} on {result['machine']}; the script took "
        f"{script.get('seconds', '?')} s, peak memory {script.get('peak_mib', '?')} MiB."
    )


def startup(result: Result) -> str:
    """The start-up section.

    Args:
        result: ``benchmarks/startup.py``'s figures.

    Returns:
        Markdown.
    """
    goal = result["goal_seconds"]
    rows = [
        (
            f"`{name}`",
            f"{figures['median_s']:.2f}",
            f"{figures['min_s']:.2f}",
            f"{figures['peak_mib']:.0f}",
            f"< {goal:.0f} s: {verdict(result['goals_met'][name])}" if name in result["goals_met"] else "reference",
        )
        for name, figures in result["commands"].items()
    ]
    return "\n".join(
        [
            "## Start-up",
            "",
            "Wall time of a fresh process (median of the runs; the commands alternated), and its peak",
            "memory. Listing commands import no torch, Lightning or plugin code: every name is registered",
            "by import path (`lit_nn.lazy`) and imported when a run uses it. `plugins --kind` reads each",
            "factory's arguments, so it imports torch; `fit --help` builds Lightning's parser.",
            "",
            table(("command", "median s", "min s", "peak MiB", "goal"), rows),
            "",
            provenance(result),
        ]
    )


def image_pipeline(result: Result) -> str:
    """The image input pipeline section.

    Args:
        result: ``benchmarks/image_pipeline.py``'s figures.

    Returns:
        Markdown.
    """
    rows = []
    for mode, title in (("in_process", "one thread, in process"), ("one_worker", "one worker process")):
        for name, figures in result.get(mode, {}).items():
            ratio = figures["ratio"]
            goal = "" if name == "baseline" or mode != "in_process" else f" ({verdict(ratio >= 0.9)})"
            rows.append((title, name, f"{figures['images_per_s']:.0f}", f"{ratio:.2f}{goal}"))
    return "\n".join(
        [
            "## Image input pipeline",
            "",
            f"{result['images']} generated photo-like JPEGs (mean {result['mean_file_kib']} KiB, 300-500 px), "
            f"resized to {result['image_size']} px, batch {result['batch_size']}, {result['rounds']} rounds. "
            "Baseline: read the file, `torchvision.io.decode_jpeg`, the same resize and crop, `uint8` collate. "
            "`train`: the `image_folder` datamodule's training loader (decode, resize, random crop, flip, "
            "normalise to float, collate); `val`: its evaluation loader (centre crop). In process the loaders "
            "alternate batch by batch; the ratio is the median over rounds of the rate over the baseline's "
            "in the same round. Goal: ratio at least 0.90.",
            "",
            table(("mode", "loader", "images/s", "ratio to baseline"), rows),
            "",
            f"Peak memory of a worker process: {result.get('worker_peak_mib', '?')} MiB. " + provenance(result),
        ]
    )


SECTIONS: dict[str, Callable[[Result], str]] = {"startup": startup, "image_pipeline": image_pipeline}


def render(results: Mapping[str, Result]) -> str:
    """The whole page.

    Args:
        results: Benchmark name to its figures.

    Returns:
        Markdown for ``docs/performance.md``.
    """
    parts = [
        "# Performance",
        "",
        "Produced by `python benchmarks/performance.py` (each benchmark in its own process; figures in",
        "`benchmarks/results/*.json`). Every figure names the machine it came from; every ratio compares",
        "with a baseline measured in the same run.",
    ]
    for name, section in SECTIONS.items():
        if name in results:
            parts += ["", section(results[name])]
    return "\n".join(parts) + "\n"
