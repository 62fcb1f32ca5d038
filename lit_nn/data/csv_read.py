"""Read the columns of a CSV file once, in blocks, into compact arrays (pyarrow's CSV reader).

Every field is read as text and converted here, one block at a time, so a file much larger than
memory's spare room is parsed once and never held as text: a number column becomes a float array,
a text column the codes of its sorted distinct values. A column that turns out to hold text only
after its first block is read a second time (only that column is kept on that pass).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from lit_nn.data.base import DataError

Kind = Literal["number", "text", "auto"]
"""How to read a column: numbers (any other value is an error), text, or numbers if every value is one."""
MISSING = ("", "na", "nan", "n/a", "null", "none", "?")
"""Values (stripped, any case) that mark a missing one."""
BLOCK_BYTES = 4 << 20
MAX_HEADER_BYTES = 1 << 20
"""The longest header line read (1 MiB: some 100,000 column names); a longer one is refused, as is a file
with no line end that near its start, so the header costs memory in proportion to this, not to the file."""


@dataclass
class Column:
    """One column of every data row: ``numbers``, or ``codes`` into its sorted distinct ``levels``."""

    numbers: np.ndarray | None = None
    levels: list[str] | None = None
    codes: np.ndarray | None = None


class _Growing:
    """A numpy array filled block by block, sized ahead from the first block's rows per byte.

    One allocation for the whole column (grown by half when the estimate falls short), so the
    numbers never sit in pyarrow's buffers, which its allocator keeps after they are freed.
    """

    def __init__(self, dtype: type[np.floating], expected_rows: int) -> None:
        self.values, self.size = np.empty(max(expected_rows, 1), dtype=dtype), 0

    def append(self, block: np.ndarray) -> None:
        end = self.size + len(block)
        if end > len(self.values):
            grown = np.empty(max(end, len(self.values) * 3 // 2), dtype=self.values.dtype)
            grown[: self.size] = self.values[: self.size]
            self.values = grown
        self.values[self.size : end] = block
        self.size = end

    def array(self) -> np.ndarray:
        return self.values[: self.size]


@dataclass
class NotANumber(Exception):
    """A value that is not a number in a column read as numbers (``row`` counts data rows from 0)."""

    column: str
    row: int
    value: str


def read_header(path: Path, delimiter: str) -> list[str]:
    """The column names of a CSV file, stripped of spaces.

    Args:
        path: The file.
        delimiter: The field separator (one character).

    Returns:
        The names on the first line.

    Raises:
        DataError: If the file is missing, not text, has no header line, a header line longer than
            :data:`MAX_HEADER_BYTES`, or a column name given twice.
    """
    if len(delimiter) != 1:
        raise DataError(f"delimiter must be one character, got {delimiter!r}")
    if not path.is_file():
        raise DataError(f"CSV file {str(path)!r} does not exist; check the data path")
    try:
        header = _raw_header(path, delimiter)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path} is not a readable CSV text file: {exc}") from exc
    if not header:
        raise DataError(f"{path} needs a header line and at least one data row")
    names = [name.strip() for name in header]
    _check_unique(path, names)
    return names


def _check_unique(path: Path, names: Sequence[str]) -> None:
    """Refuse a header that names a column twice (only one of the two could be used)."""
    places: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        places.setdefault(name, []).append(i + 1)
    twice = {name: at for name, at in places.items() if len(at) > 1}
    if twice:
        which = "; ".join(
            f"{name!r} (columns {', '.join(map(str, at[:-1]))} and {at[-1]})" for name, at in list(twice.items())[:10]
        )
        raise DataError(
            f"{path}: the header names {len(twice)} column(s) more than once: {which}; only one of each could be "
            "used, so rename them to be unique"
        )


def read_columns(
    path: Path,
    header: Sequence[str],
    kinds: Mapping[str, Kind],
    delimiter: str = ",",
    wide: Sequence[str] = (),
    block_bytes: int = BLOCK_BYTES,
) -> tuple[int, dict[str, Column]]:
    """Read the named columns of every data row; rows whose fields are all blank are skipped.

    Args:
        path: The file.
        header: Its column names (:func:`read_header`).
        kinds: Column name to how it is read.
        delimiter: The field separator.
        wide: Number columns kept as float64 (the others become float32).
        block_bytes: Bytes of the file parsed at a time.

    Returns:
        The number of data rows and each named column.

    Raises:
        DataError: On a row with the wrong number of fields, a missing value (empty, ``NA``,
            ``NaN``, ``null``, ``?``, ...) in a named column, undecodable text, or no data rows.
        NotANumber: On a value that is not a number in a ``"number"`` column.
    """
    blocks = _Blocks(path, header, delimiter, block_bytes)
    numbers: dict[str, _Growing | None] = dict.fromkeys((name for name, kind in kinds.items() if kind != "text"))
    texts: dict[str, list[pa.DictionaryArray]] = {name: [] for name, kind in kinds.items() if kind == "text"}
    again: list[str] = []
    file_bytes = path.stat().st_size
    for offset, block in blocks.read():
        problems: list[tuple[bool, int, str, str]] = []  # (not missing, row, column, value): missing ones first
        for name in list(numbers):
            values = _numbers(block[name], np.float64 if name in wide else np.float32, locate=kinds[name] == "number")
            if isinstance(values, np.ndarray):
                if numbers[name] is None:  # sized from the first block's rows per byte, and 5 % more
                    expected = int(len(values) * file_bytes / block_bytes * 1.05) + len(values)
                    numbers[name] = _Growing(values.dtype.type, expected)
                cast(_Growing, numbers[name]).append(values)
            elif values is not None:
                problems.append((values[1].lower() not in MISSING, values[0], name, values[1]))
            else:
                del numbers[name]  # text after all: its earlier blocks are read again below
                texts[name] = []
                if offset:
                    again.append(name)
        for name, parts in texts.items():
            coded = pc.dictionary_encode(block[name])
            row = _first_missing(coded)
            if row is not None:
                problems.append((False, row, name, ""))
            if name not in again:
                parts.append(coded)
        if problems:
            raise _problem(path, offset, min(problems, key=lambda p: (p[0], list(kinds).index(p[2]))))
    if again:
        for _, block in blocks.read():
            for name in again:
                texts[name].append(pc.dictionary_encode(block[name]))
    if not blocks.rows:
        raise DataError(f"{path} needs a header line and at least one data row")
    columns = {name: Column(numbers=grown.array() if grown else np.zeros(0)) for name, grown in numbers.items()}
    columns.update({name: _coded(parts) for name, parts in texts.items()})
    return blocks.rows, columns


def _problem(path: Path, offset: int, problem: tuple[bool, int, str, str]) -> Exception:
    not_missing, row, name, value = problem
    if not_missing:
        return NotANumber(name, offset + row, value)
    row += offset + 1
    return DataError(
        f"{path}: column {name!r} has a missing value at data row {row} (line {row + 1}); fill it in or drop the row"
    )


class _Blocks:
    """The data rows of a file, block by block, each field as text."""

    def __init__(self, path: Path, header: Sequence[str], delimiter: str, block_bytes: int) -> None:
        self.path, self.header, self.delimiter, self.block_bytes = path, list(header), delimiter, block_bytes
        self.rows, self.raw = 0, _raw_header(path, delimiter)

    def read(self) -> Iterator[tuple[int, dict[str, pa.Array]]]:
        """Yield ``(rows before this block, column name to its values)`` for each block."""
        invalid: list[tuple[int | None, int, int]] = []

        def on_invalid(row: pa_csv.InvalidRow) -> str:
            invalid.append((row.number, row.actual_columns, row.expected_columns))
            return "error"

        self.rows = 0
        # A Python file, not the path: given a path, pyarrow reads the whole file ahead of the
        # parser (measured: as many bytes as the file before the first block came back).
        with self.path.open("rb") as handle:
            try:
                reader = pa_csv.open_csv(
                    handle,
                    read_options=pa_csv.ReadOptions(use_threads=False, block_size=self.block_bytes),
                    parse_options=pa_csv.ParseOptions(delimiter=self.delimiter, invalid_row_handler=on_invalid),
                    convert_options=pa_csv.ConvertOptions(
                        column_types=dict.fromkeys(self.raw, pa.string()),
                        strings_can_be_null=False,
                        quoted_strings_can_be_null=False,
                        null_values=[],
                    ),
                )
                for batch in reader:
                    fields = batch.columns
                    blank = _all_blank(fields)
                    if blank is not None:
                        fields = [field.filter(pc.invert(blank)) for field in fields]
                    block = {name: fields[i] for i, name in reversed(list(enumerate(self.header)))}
                    yield self.rows, block
                    self.rows += len(fields[0]) if fields else 0
            except pa.ArrowInvalid as exc:
                if invalid:
                    line, actual, expected = invalid[0]
                    where = f"data row {line - 1}" if line is not None else "a data row"
                    raise DataError(f"{self.path}: {where} has {actual} fields, the header has {expected}") from None
                raise DataError(f"{self.path} is not a readable CSV text file: {exc}") from None


class _HeaderTooLong(Exception):
    """The header record goes on past :data:`MAX_HEADER_BYTES`."""


def _raw_header(path: Path, delimiter: str) -> list[str]:
    """The first line's names as pyarrow sees them (unstripped), to type every column as text.

    Reads at most :data:`MAX_HEADER_BYTES` (and a byte) of the file, whatever its first line's length.

    Raises:
        DataError: If the header record does not end within :data:`MAX_HEADER_BYTES`.
    """
    with path.open("rb") as handle:
        prefix = handle.read(MAX_HEADER_BYTES + 1)
    cut = len(prefix) > MAX_HEADER_BYTES
    if cut:  # up to the last whole line; a line end is one byte that no other UTF-8 character contains
        prefix = prefix[: prefix.rfind(b"\n") + 1]
    lines = io.StringIO(prefix.decode("utf-8-sig"), newline="")

    def each_line() -> Iterator[str]:
        yield from lines
        if cut:  # the csv module asks for more only while the header record is still open (a quoted field)
            raise _HeaderTooLong

    try:
        return next(csv.reader(each_line(), delimiter=delimiter), [])
    except _HeaderTooLong:
        raise DataError(
            f"{path}: the header line is longer than {MAX_HEADER_BYTES >> 20} MiB (no end of line in the first "
            f"{MAX_HEADER_BYTES} bytes); a CSV file needs a header line of column names and one row per line"
        ) from None


def _all_blank(fields: Sequence[pa.Array]) -> pa.Array | None:
    """Mask of the rows whose every field is blank (spaces at most), or ``None`` when there are none."""
    if not fields:
        return None
    blank = pc.equal(pc.utf8_trim_whitespace(fields[0]), "")
    if not pc.any(blank).as_py():
        return None
    for field in fields[1:]:
        blank = pc.and_(blank, pc.equal(pc.utf8_trim_whitespace(field), ""))
    return blank if pc.any(blank).as_py() else None


def _first_missing(coded: pa.DictionaryArray) -> int | None:
    """The first row of a text block whose value marks a missing one, or ``None``."""
    levels = coded.dictionary.to_pylist()
    missing = [i for i, level in enumerate(levels) if level.strip().lower() in MISSING]
    if not missing:
        return None
    return int(np.flatnonzero(np.isin(coded.indices.to_numpy(zero_copy_only=False), missing))[0])


def _numbers(values: pa.Array, dtype: type[np.floating], locate: bool) -> np.ndarray | tuple[int, str] | None:
    """The values as numbers, or where they are not.

    Returns the numbers; else, with ``locate``, the first row that is not a number (or is NaN) and
    its value, stripped; without, ``None`` (a NaN is located either way).
    """
    target = pa.float64() if dtype is np.float64 else pa.float32()
    trimmed = None
    if not locate and len(values) and not _casts(pc.utf8_trim_whitespace(values.slice(0, 1)), target):
        return None  # text from the first row: no need to convert the rest
    for attempt in range(2):
        try:
            numbers = pc.cast(values if attempt == 0 else trimmed, target)
        except pa.ArrowInvalid:
            trimmed = pc.utf8_trim_whitespace(values)
            continue
        array = numbers.to_numpy(zero_copy_only=False)
        nan = np.flatnonzero(np.isnan(array))
        return array if not len(nan) else (int(nan[0]), values[int(nan[0])].as_py().strip())
    if not locate:
        return None
    assert trimmed is not None  # both casts failed: the second was of the trimmed values
    row = _first_failure(len(values), lambda lo, hi: _casts(trimmed.slice(lo, hi - lo), target))
    return row, trimmed[row].as_py()


def is_number(text: str) -> bool:
    """Whether the reader takes ``text`` for a number.

    Args:
        text: A field, stripped of spaces.

    Returns:
        ``True`` if it converts to a float.
    """
    return _casts(pa.array([text]), pa.float64())


def _casts(values: pa.Array, target: pa.DataType) -> bool:
    try:
        pc.cast(values, target)
    except pa.ArrowInvalid:
        return False
    return True


def _first_failure(size: int, passes: Callable[[int, int], bool]) -> int:
    """The first index at which ``passes(lo, hi)`` (over ``[lo, hi)``) fails, by bisection.

    ``passes(0, size)`` is known to be false.
    """
    lo, hi = 0, size
    while hi - lo > 1:
        middle = (lo + hi) // 2
        if passes(lo, middle):
            lo = middle
        else:
            hi = middle
    return lo


def _coded(parts: Sequence[pa.DictionaryArray]) -> Column:
    """One text column: its sorted distinct values and each row's index into them."""
    levels = sorted({level.strip() for part in parts for level in part.dictionary.to_pylist()})
    index = {level: i for i, level in enumerate(levels)}
    codes = [
        np.array([index[level.strip()] for level in part.dictionary.to_pylist()], dtype=np.int32)[
            part.indices.to_numpy(zero_copy_only=False)
        ]
        for part in parts
    ]
    return Column(levels=levels, codes=np.concatenate(codes) if codes else np.zeros(0, dtype=np.int32))
