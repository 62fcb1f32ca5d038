"""Content keys: equal exactly when rows or files are byte-identical, stable across calls; copies counted."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from lit_nn.data.csv_data import CSVDataModule
from lit_nn.data.image_folder import ImageFolderDataModule
from lit_nn.data.redundancy import CHUNK_BYTES, copies, file_keys, row_keys
from lit_nn.data.synthetic import SyntheticRegression
from tests.helpers.data import house_prices_csv
from tests.helpers.shapes import make_shapes_folder


def test_row_keys_are_equal_exactly_when_the_rows_are():
    rng = np.random.default_rng(0)
    distinct = rng.integers(0, 3, size=(40, 2, 3)).astype(np.float32)  # few values: many rows repeat
    rows = np.concatenate([distinct, distinct[[0, 7, 7]]])
    keys = row_keys(rows)
    assert keys.dtype == np.uint64 and keys.shape == (len(rows),)
    same_content = (rows.reshape(len(rows), 1, -1) == rows.reshape(1, len(rows), -1)).all(axis=2)
    assert same_content.sum() > len(rows)  # the test has repeats to find
    np.testing.assert_array_equal(keys[:, None] == keys[None, :], same_content)


def test_row_keys_are_stable_whatever_the_array_holding_the_row():
    rows = np.random.default_rng(1).random((10, 6))
    keys = row_keys(rows)
    np.testing.assert_array_equal(row_keys(rows[3:5]), keys[3:5])  # comparable across calls
    np.testing.assert_array_equal(row_keys(np.asfortranarray(rows)), keys)
    np.testing.assert_array_equal(row_keys(rows[::-1]), keys[::-1])
    expected = np.frombuffer(hashlib.blake2b(rows[4].tobytes(), digest_size=8).digest(), dtype=np.uint64)
    assert keys[4] == expected[0]  # 8-byte BLAKE2b of the row's bytes


def test_row_keys_compare_bits_not_numbers():
    assert row_keys(np.array([[0.0], [-0.0]]))[0] != row_keys(np.array([[0.0], [-0.0]]))[1]
    assert row_keys(np.ones((1, 2), np.float32))[0] != row_keys(np.ones((1, 2), np.float64))[0]
    assert row_keys(np.zeros((0, 3), np.float32)).shape == (0,)
    assert len(set(row_keys(np.zeros((3, 0))).tolist())) == 1  # empty rows are all alike
    with pytest.raises(TypeError, match="Python objects"):
        row_keys(np.array([[1, "a"]], dtype=object))


def test_file_keys_hash_the_bytes_a_chunk_at_a_time(tmp_path):
    data = np.random.default_rng(2).bytes(2 * CHUNK_BYTES + 12345)
    (tmp_path / "a.bin").write_bytes(data)
    shutil.copy(tmp_path / "a.bin", tmp_path / "copy.bin")
    (tmp_path / "b.bin").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit differs
    (tmp_path / "empty.bin").write_bytes(b"")
    keys = file_keys([tmp_path / n for n in ("a.bin", "copy.bin", "b.bin", "empty.bin")])
    assert keys[0] == keys[1] and len(set(keys.tolist())) == 3
    assert keys[0] == row_keys(np.frombuffer(data, dtype=np.uint8)[None])[0]  # the same hash as a row of the bytes
    assert file_keys([]).shape == (0,)


def test_copies_counts_every_entry_found_in_train():
    train = np.array([1, 2, 3], dtype=np.uint64)
    assert copies(train, np.array([3, 3, 4, 1], dtype=np.uint64)) == 3
    assert copies(train, np.array([], dtype=np.uint64)) == 0
    assert copies(np.array([], dtype=np.uint64), np.array([1], dtype=np.uint64)) == 0


def test_array_keys_are_of_the_raw_rows_of_each_split(tmp_path):
    data = CSVDataModule(str(house_prices_csv(tmp_path / "h.csv", n=60)), target="price")
    raw = data.features.copy()
    data.setup()  # standardising leaves the keys alone
    split = data.split()
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(data.content_keys(name), row_keys(raw[getattr(split, name)]))
    assert data.content_basis == "feature values"
    synthetic = SyntheticRegression(num_samples=50)
    assert len(synthetic.content_keys("val")) == len(synthetic.split().val)


def test_image_keys_are_of_the_files_of_each_split(tmp_path):
    root = make_shapes_folder(tmp_path, per_class=2, size=16, splits=("train", "val"), suffix=".png")
    data = ImageFolderDataModule(str(root), image_size=8, num_workers=0)
    np.testing.assert_array_equal(data.content_keys("val"), file_keys([p for p, _ in data.samples["val"]]))
    assert data.content_keys("test").shape == (0,)  # no test/ folder
    assert data.content_basis == "file bytes"
