"""Plain-text tables whose last column wraps to the terminal width (no wrapping when piped)."""

from __future__ import annotations

import shutil
import sys
import textwrap
from collections.abc import Sequence


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int | None = None) -> str:
    """Lay out rows in aligned columns.

    Args:
        headers: Column titles.
        rows: Cells, one sequence per row, as many as ``headers``.
        width: Total width; when ``None``, the terminal's (at least 60), or no limit when standard
            output is not a terminal, so ``grep`` and files see one line per row.

    Returns:
        The table, one line per row plus wrapped continuation lines, without a final newline.
    """
    if width is None:
        width = max(60, shutil.get_terminal_size((100, 24)).columns) if sys.stdout.isatty() else 10**6
    fixed = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)][:-1]
    indent = sum(w + 2 for w in fixed)
    last_width = max(20, width - indent)
    lines = []
    for row in [headers, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row, fixed, strict=False)]
        wrapped = textwrap.wrap(str(row[-1]), last_width) or [""]
        lines.append(("  ".join([*cells, wrapped[0]])).rstrip())
        lines.extend(" " * indent + more for more in wrapped[1:])
    return "\n".join(lines)
