"""The CSV reader: one pass in blocks, the same result whatever the block size, and exact row numbers."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from lit_nn.data import csv_read
from lit_nn.data.base import DataError
from lit_nn.data.csv_data import MAX_LEVELS, CSVDataModule
from lit_nn.data.csv_read import NotANumber, read_columns, read_header
from tests.helpers.data import write_csv


def reference(path, target):
    """The features and labels of a small CSV file, encoded by hand with the csv module."""
    with path.open(newline="") as handle:
        header, *rows = list(csv.reader(handle))
    header = [h.strip() for h in header]
    rows = [[cell.strip() for cell in row] for row in rows if any(cell.strip() for cell in row)]
    columns = {name: [row[i] for row in rows] for i, name in enumerate(header)}
    blocks = []
    for name in header:
        if name == target:
            continue
        values = columns[name]
        try:
            blocks.append(np.array([float(v) for v in values])[:, None])
        except ValueError:
            levels = sorted(set(values))
            blocks.append(np.array([[float(v == level) for level in levels] for v in values]))
    keys = sorted(set(columns[target]))
    return np.concatenate(blocks, axis=1), np.array([keys.index(v) for v in columns[target]])


def mixed_file(path, n=600, seed=0, late_text_row=None):
    """Numbers with stray spaces, categories, blank rows, and a column that is numeric until ``late_text_row``."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        code = "zz" if i == late_text_row else str(int(rng.integers(0, 4)))
        rows.append([f" {rng.normal():.4f}", rng.choice(["red", " blue", "green "]), code, rng.choice(["a", "b", "c"])])
        if i % 97 == 5:
            rows.append(["", " ", "", ""])  # a blank row, skipped
    return write_csv(path, rows, [" x", "colour ", "code", "y"])


@pytest.mark.parametrize("late", [None, 3, 550])
def test_the_result_does_not_depend_on_the_block_size(tmp_path, monkeypatch, late):
    path = mixed_file(tmp_path / "m.csv", late_text_row=late)
    expected_x, expected_y = reference(path, "y")
    results = []
    for block_bytes in (1 << 20, 700, 3000):
        monkeypatch.setattr(
            "lit_nn.data.csv_data.read_columns",
            lambda *a, size=block_bytes, **k: csv_read.read_columns(*a, **{**k, "block_bytes": size}),
        )
        data = CSVDataModule(str(path), target="y")
        results.append(data)
        np.testing.assert_allclose(data.features, expected_x, rtol=1e-6)
        np.testing.assert_array_equal(data.targets, expected_y)
    names = {tuple(data.feature_names) for data in results}
    assert len(names) == 1
    assert ("code=zz" in next(iter(names))) == (late is not None)


def test_a_late_value_that_is_not_a_number_names_its_row(tmp_path):
    rows = [[i, i % 2] for i in range(400)]
    rows[321][0] = "oops"
    path = write_csv(tmp_path / "n.csv", rows, ["x", "y"])
    header = read_header(path, ",")
    with pytest.raises(NotANumber) as caught:
        read_columns(path, header, {"x": "number", "y": "auto"}, block_bytes=500)
    assert (caught.value.column, caught.value.row, caught.value.value) == ("x", 321, "oops")


@pytest.mark.parametrize("marker", ["NaN", " NA ", "null", "?"])
def test_missing_markers_in_a_number_column(tmp_path, marker):
    rows = [[i, i % 2] for i in range(50)]
    rows[40][0] = marker
    path = write_csv(tmp_path / "m.csv", rows, ["x", "y"])
    with pytest.raises(DataError, match="column 'x' has a missing value at data row 41 \\(line 42\\)"):
        CSVDataModule(str(path), target="y")


def test_a_row_with_too_many_fields(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("a,b,y\n" + "1,2,0\n" * 30 + "1,2,3,4\n")
    with pytest.raises(DataError, match="data row 31 has 4 fields, the header has 3"):
        CSVDataModule(str(path), target="y")


def test_undecodable_bytes_after_the_start(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"a,b,y\n" + b"1,x,0\n" * 40 + b"2,\xff\xfe,1\n")
    with pytest.raises(DataError, match="is not a readable CSV text file"):
        CSVDataModule(str(path), target="y")


def test_a_text_column_with_too_many_values_to_one_hot(tmp_path):
    path = write_csv(tmp_path / "ids.csv", [[f"id{i}", i % 2] for i in range(MAX_LEVELS + 1)], ["id", "y"])
    with pytest.raises(DataError, match=f"column 'id' has {MAX_LEVELS + 1} distinct non-numeric values, too many"):
        CSVDataModule(str(path), target="y")


def test_a_trained_number_column_given_text(tmp_path):
    from lit_nn.data.fitted import applying

    trained = CSVDataModule(str(write_csv(tmp_path / "t.csv", [[i, i % 2] for i in range(40)], ["x", "y"])), target="y")
    trained.setup()
    new = write_csv(tmp_path / "new.csv", [[1, 0], ["many", 1]], ["x", "y"])
    with (
        applying(trained.state_dict()),
        pytest.raises(
            DataError, match="column 'x' holds 'many' at data row 2 \\(line 3\\); the model was trained on numbers"
        ),
    ):
        CSVDataModule(str(new), target="y")


def test_a_one_character_delimiter(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("a;y\n" + "".join(f"{i};{i % 2}\n" for i in range(20)))
    assert CSVDataModule(str(path), target="y", delimiter=";").num_classes == 2
    with pytest.raises(DataError, match="delimiter must be one character, got ';;'"):
        CSVDataModule(str(path), target="y", delimiter=";;")


def test_all_finite_looks_at_every_slice():
    from lit_nn.data.arrays import all_finite

    values = np.zeros((1000, 3), np.float32)
    assert all_finite(values, rows_at_once=64)
    values[999, 2] = np.inf
    assert not all_finite(values, rows_at_once=64)


def test_a_column_named_twice_is_refused_naming_it(tmp_path):
    path = write_csv(tmp_path / "d.csv", [[1, 2, 3, 0], [4, 5, 6, 1]], ["a", "b", " a", "y"])
    with pytest.raises(DataError, match=r"names 1 column\(s\) more than once: 'a' \(columns 1 and 3\).*rename"):
        CSVDataModule(str(path), target="y")


@pytest.mark.parametrize("line_end", [False, True])
def test_the_header_costs_memory_in_proportion_to_its_bound_not_the_file(tmp_path, line_end):
    """A 24 MB first line used to be read whole as Python strings (a 1 GB one grew past 4 GB)."""
    import tracemalloc

    path = tmp_path / "one_line.csv"
    path.write_bytes(b"x" * (24 << 20) + (b"\n1\n" if line_end else b""))
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"header line is longer than 1 MiB .*one row per line"):
            read_header(path, ",")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 6 * csv_read.MAX_HEADER_BYTES, peak


def test_a_header_just_under_the_bound_is_read(tmp_path):
    names = [f"c{i}" for i in range(csv_read.MAX_HEADER_BYTES // 9)]
    line = ",".join(names)
    assert len(line) < csv_read.MAX_HEADER_BYTES
    path = tmp_path / "wide.csv"
    path.write_text(line + "\n" + "x" * (2 * csv_read.MAX_HEADER_BYTES) + "\n")
    assert read_header(path, ",") == names


def test_a_quoted_line_end_in_the_header_is_part_of_a_name(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('"a\nb",c\n1,2\n')
    assert read_header(path, ",") == ["a\nb", "c"]
