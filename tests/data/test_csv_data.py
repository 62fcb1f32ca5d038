"""The csv datamodule: encoding, task detection, and a clear error for every bad file."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from lit_nn.data.base import DataError
from lit_nn.data.csv_data import CSVDataModule
from tests.helpers.data import house_prices_csv, write_csv


def test_numeric_features_are_standardised_and_categories_one_hot(tmp_path):
    data = CSVDataModule(str(house_prices_csv(tmp_path / "h.csv")), target="price")
    assert data.task == "regression" and data.num_targets == 1
    assert data.feature_names == ["area", "rooms", "town=east", "town=north", "town=south"]
    assert data.input_shape == (5,)
    data.setup()
    train = data.datasets["train"].features
    np.testing.assert_allclose(train[:, :2].mean(dim=0), 0, atol=1e-5)
    assert set(train[:, 2:].unique().tolist()) == {0.0, 1.0}
    assert (train[:, 2:].sum(dim=1) == 1).all()


def test_chosen_features_and_forced_categorical(tmp_path):
    path = house_prices_csv(tmp_path / "h.csv")
    data = CSVDataModule(str(path), target="price", features=["rooms"], categorical=["rooms"])
    assert data.feature_names == [f"rooms={n}" for n in range(1, 6)]


@pytest.mark.parametrize(
    ("labels", "task", "classes"),
    [
        (["yes", "no"] * 10, "binary", ["no", "yes"]),
        (["0", "1", "2"] * 10, "multiclass", ["0", "1", "2"]),
        (["cat", "dog", "bird"] * 10, "multiclass", ["bird", "cat", "dog"]),
    ],
)
def test_task_is_detected_from_the_target(tmp_path, labels, task, classes):
    path = write_csv(tmp_path / "t.csv", [[i, label] for i, label in enumerate(labels)], ["x", "y"])
    data = CSVDataModule(str(path), target="y")
    assert data.task == task and data.class_names == classes and data.num_classes == len(classes)


def test_many_integer_values_are_regressed(tmp_path):
    path = write_csv(tmp_path / "t.csv", [[i, i * 3] for i in range(60)], ["x", "y"])
    assert CSVDataModule(str(path), target="y").task == "regression"


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="CSV file .*nope.csv' does not exist; check the data path"):
        CSVDataModule(str(tmp_path / "nope.csv"), target="y")


def test_missing_column_suggests(tmp_path):
    path = house_prices_csv(tmp_path / "h.csv")
    with pytest.raises(
        DataError, match="has no column 'prise'. Did you mean 'price'\\? Columns: area, rooms, town, price"
    ):
        CSVDataModule(str(path), target="prise")


def test_missing_value_names_column_and_row(tmp_path):
    path = write_csv(tmp_path / "m.csv", [[1, 2, 3], [4, "", 6], [7, 8, 9]], ["a", "b", "y"])
    with pytest.raises(
        DataError, match="column 'b' has a missing value at data row 2 \\(line 3\\); fill it in or drop the row"
    ):
        CSVDataModule(str(path), target="y")


def test_non_numeric_regression_target(tmp_path):
    path = write_csv(tmp_path / "n.csv", [[1, "2.5"], [2, "abc"], [3, "4"]], ["x", "y"])
    with pytest.raises(DataError, match="target column 'y' holds 'abc' at data row 2 \\(line 3\\), not a number"):
        CSVDataModule(str(path), target="y", task="regression")


def test_binary_needs_two_values(tmp_path):
    path = write_csv(tmp_path / "b.csv", [[i, i % 3] for i in range(30)], ["x", "y"])
    with pytest.raises(DataError, match=r"has 3 distinct values, binary needs 2; set --data\.task multiclass"):
        CSVDataModule(str(path), target="y", task="binary")


def test_ragged_rows_and_empty_files(tmp_path):
    ragged = tmp_path / "r.csv"
    ragged.write_text("a,b,y\n1,2,3\n4,5\n")
    with pytest.raises(DataError, match="data row 2 has 2 fields, the header has 3"):
        CSVDataModule(str(ragged), target="y")
    empty = tmp_path / "e.csv"
    empty.write_text("a,b,y\n")
    with pytest.raises(DataError, match="needs a header line and at least one data row"):
        CSVDataModule(str(empty), target="y")


def test_binary_file_is_not_csv(tmp_path):
    path = tmp_path / "image.csv"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataError, match="is not a readable CSV text file"):
        CSVDataModule(str(path), target="y")


def trained_state(path, **kwargs):
    """The datamodule state a checkpoint would hold after training on ``path``."""
    data = CSVDataModule(str(path), target="price", **kwargs)
    data.setup()
    return data, data.state_dict()


def test_new_data_is_encoded_and_scaled_as_the_training_data(tmp_path):
    from lit_nn.data.fitted import applying

    trained, state = trained_state(house_prices_csv(tmp_path / "h.csv"))
    new = write_csv(tmp_path / "new.csv", [["100.0", "3", "south"], ["50.0", "1", "south"]], ["area", "rooms", "town"])
    with applying(state):
        data = CSVDataModule(str(new), target="price")
    assert not data.labelled and data.whole and data.num_targets == 1
    assert data.feature_names == trained.feature_names  # all three towns, though the file has one
    data.setup()
    features = data.datasets["test"].features
    mean, std = trained.feature_stats
    assert torch.allclose(features[0, :2], (torch.tensor([100.0, 3.0]) - mean[:2]) / std[:2])
    assert features[:, 2:].tolist() == [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]
    assert len(data.predict_dataloader().dataset) == 2 and data.predict_ids == [0, 1]
    with pytest.raises(DataError, match="new.csv has no targets, so there is nothing to test against"):
        data.test_dataloader()


def test_new_data_with_an_unseen_category_or_class_is_named(tmp_path):
    from lit_nn.data.fitted import applying

    _, state = trained_state(house_prices_csv(tmp_path / "h.csv"))
    new = write_csv(tmp_path / "new.csv", [["100.0", "3", "west", "10"]], ["area", "rooms", "town", "price"])
    with applying(state), pytest.raises(DataError, match=r"column 'town' holds 'west' at data row 1 .* a category the"):
        CSVDataModule(str(new), target="price")
    labels = write_csv(tmp_path / "l.csv", [[1, "cat"], [2, "dog"]] * 10, ["x", "y"])
    trained = CSVDataModule(str(labels), target="y")
    trained.setup()
    bird = write_csv(tmp_path / "b.csv", [[1, "bird"]], ["x", "y"])
    with applying(trained.state_dict()), pytest.raises(DataError, match="'bird' .* a class the model was not trained"):
        CSVDataModule(str(bird), target="y")


def test_the_training_file_given_again_keeps_its_split(tmp_path):
    from lit_nn.data.fitted import applying

    path = house_prices_csv(tmp_path / "h.csv")
    trained, state = trained_state(path)
    with applying(state):
        again = CSVDataModule(str(path), target="price")
    again.setup()
    assert not again.whole
    assert torch.equal(again.datasets["test"].features, trained.datasets["test"].features)


PRE_CHANGE_STATE = {  # a classifier's state exactly as lit_nn wrote it before the training file could go
    "task": "multiclass",
    "num_classes": 3,
    "feature_mean": [120.0, 3.0, 0.0, 0.0, 0.0],
    "feature_std": [45.0, 1.5, 1.0, 1.0, 1.0],
    "encoding": {
        "features": ["area", "rooms", "town"],
        "columns": {"area": {}, "rooms": {}, "town": {"levels": ["east", "north", "south"]}},
        "target": "size",
        "task": "multiclass",
        "numeric_target": False,
        "class_keys": ["large", "medium", "small"],
        "class_names": ["large", "medium", "small"],
    },
}


def test_with_the_training_file_gone_the_state_alone_builds_what_inference_needs(tmp_path):
    from lit_nn.data.fitted import applying

    path = house_prices_csv(tmp_path / "h.csv")
    trained, state = trained_state(path, categorical=["rooms"])
    path.unlink()
    with applying(state):
        data = CSVDataModule(str(path), target="price")
    assert data.absent is not None and data.input_shape == trained.input_shape == (9,)
    assert data.task == "regression" and data.num_targets == 1
    assert data.feature_names == trained.feature_names and data.encoding == {
        k: v for k, v in state["encoding"].items() if k != "source"
    }
    assert data.scaled_features.tolist() == trained.scaled_features.tolist()
    data.setup("predict")
    fitted = (*trained.feature_stats, *trained.target_stats)
    for got, want in zip((*data.feature_stats, *data.target_stats), fitted, strict=True):
        assert torch.equal(got, want)
    assert data.state_dict() == state  # a checkpoint written from it holds the same, the training file's path too
    for loader, purpose in (("predict", "predict for"), ("test", "test on"), ("val", "validate on")):
        with pytest.raises(DataError) as raised:
            getattr(data, f"{loader}_dataloader")()
        assert str(raised.value) == (
            f"the training file {path} is gone (export and serve need only the checkpoint); give --data.path FILE "
            f"with the data to {purpose}"
        )


def test_a_missing_file_that_is_not_the_training_file_is_still_refused_at_once(tmp_path):
    from lit_nn.data.fitted import applying

    path = house_prices_csv(tmp_path / "h.csv")
    _, state = trained_state(path)
    path.unlink()
    with applying(state), pytest.raises(DataError, match=r"CSV file '.*typo.csv' does not exist; check the data path"):
        CSVDataModule(str(tmp_path / "typo.csv"), target="price")
    with pytest.raises(DataError, match="does not exist"):  # training, with no checkpoint's state: the file is needed
        CSVDataModule(str(path), target="price")


def test_a_state_written_before_the_training_file_could_go_works_with_its_file_and_without(tmp_path):
    from lit_nn.data.fitted import applying

    rows = [[f"{40 + i}.5", 1 + i % 5, ["east", "north", "south"][i % 3], ["small", "medium", "large"][i % 3]]
            for i in range(30)]  # fmt: skip
    path = write_csv(tmp_path / "sizes.csv", rows, ["area", "rooms", "town", "size"])
    state = {**PRE_CHANGE_STATE, "encoding": {**PRE_CHANGE_STATE["encoding"], "source": str(path.resolve())}}
    with applying(state):
        here = CSVDataModule(str(path), target="size")
    here.setup()
    assert here.absent is None and not here.whole and here.class_names == ["large", "medium", "small"]
    assert here.targets[:3].tolist() == [2, 1, 0]  # small, medium, large: coded by the state's classes
    assert torch.equal(here.feature_stats[0], torch.tensor(PRE_CHANGE_STATE["feature_mean"]))
    assert here.state_dict() == state
    path.unlink()
    with applying(state):
        gone = CSVDataModule(str(path), target="size")
    gone.setup()
    assert gone.absent is not None and gone.num_classes == 3 and gone.class_names == here.class_names
    assert gone.feature_names == here.feature_names and gone.input_shape == here.input_shape == (5,)
    assert all(torch.equal(a, b) for a, b in zip(gone.feature_stats, here.feature_stats, strict=True))


def integer_target_csv(path, classes, n=120):
    rng = np.random.default_rng(0)
    rows = [[f"{rng.normal():.3f}", f"{rng.normal():.3f}", int(i % classes)] for i in range(n)]
    return write_csv(path, rows, ["a", "b", "y"])


@pytest.mark.parametrize(
    ("model", "classes", "expected"),
    [
        # 30 integer values are read as regression: a classifier says so and names --data.task
        ("MulticlassClassificationTask", 30, r"is a classifier, but .* set --data\.task multiclass"),
        ("BinaryClassificationTask", 30, r"is a classifier, but the datamodule holds regression targets.*--data\.task"),
        # a single class: neither binary nor multiclass is suggested, the single class is named
        ("BinaryClassificationTask", 1, r"target column 'y' holds a single class \('0' in every row\); a classifier"),
        ("MulticlassClassificationTask", 1, r"holds a single class .* needs at least two: check the target column"),
        ("RegressionTask", 3, r"RegressionTask needs num_targets, but .* multiclass targets .* --data\.task regress"),
    ],
)
def test_a_target_read_as_another_kind_says_which_data_task_to_set(tmp_path, capsys, model, classes, expected):
    from lit_nn.cli import main

    path = integer_target_csv(tmp_path / "t.csv", classes)
    with pytest.raises(SystemExit) as info:
        main(["fit", "--model", model, "--data", "csv", "--data.path", str(path), "--data.target", "y",
              "--trainer.max_epochs", "1", "--trainer.logger", "false",
              "--run.root", str(tmp_path / "runs")])  # fmt: skip
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("lit-nn: error")]
    assert info.value.code == 2 and len(lines) == 1, lines
    assert re.search(expected, lines[0]), lines[0]
