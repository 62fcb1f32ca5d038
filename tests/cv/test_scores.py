"""Prediction tables scored as the tasks score them, checked against scikit-learn's metrics."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from lit_nn.cv.scores import ensemble, read_table, scores, write_table


def test_a_binary_table_scores_as_scikit_learn_does():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 2, 200)
    p = np.clip(target * 0.6 + rng.uniform(0, 0.5, 200), 0, 1)
    label = (p >= 0.5).astype(int)
    names = np.array(["cat", "dog"])
    table = {"id": list(range(200)), "target": names[target].tolist(), "label": names[label].tolist(),
             "p_cat": (1 - p).tolist(), "p_dog": p.tolist()}  # fmt: skip
    got = scores(table)
    assert got["acc"] == pytest.approx(metrics.accuracy_score(target, label))
    assert got["f1"] == pytest.approx(metrics.f1_score(target, label))
    assert got["precision"] == pytest.approx(metrics.precision_score(target, label))
    assert got["recall"] == pytest.approx(metrics.recall_score(target, label))
    assert got["auroc"] == pytest.approx(metrics.roc_auc_score(target, p))


def test_multiclass_and_regression_tables_score_as_scikit_learn_does(tmp_path):
    rng = np.random.default_rng(1)
    target, label = rng.integers(0, 3, 90), rng.integers(0, 3, 90)
    probabilities = rng.dirichlet(np.ones(3), 90)
    table = {"id": list(range(90)), "target": target.tolist(), "label": label.tolist(),
             **{f"p_{c}": probabilities[:, c].tolist() for c in range(3)}}  # fmt: skip
    read_back = read_table(write_table(tmp_path / "m.csv", table))  # class names "0".."2" read back as numbers
    got = scores(read_back)
    assert got["acc"] == pytest.approx(metrics.accuracy_score(target, label))
    assert got["f1_macro"] == pytest.approx(metrics.f1_score(target, label, average="macro"))
    y, yhat = rng.normal(size=50), rng.normal(size=50)
    got = scores({"id": list(range(50)), "target": y.tolist(), "prediction": yhat.tolist()})
    assert got["mse"] == pytest.approx(metrics.mean_squared_error(y, yhat))
    assert got["rmse"] == pytest.approx(metrics.mean_squared_error(y, yhat) ** 0.5)
    assert got["mae"] == pytest.approx(metrics.mean_absolute_error(y, yhat))
    assert got["r2"] == pytest.approx(metrics.r2_score(y, yhat))


def test_an_ensemble_averages_probabilities_and_takes_their_most_probable_class():
    first = {"id": [0, 1], "target": ["a", "b"], "label": ["a", "a"], "p_a": [0.9, 0.6], "p_b": [0.1, 0.4]}
    second = {"id": [0, 1], "target": ["a", "b"], "label": ["b", "b"], "p_a": [0.3, 0.1], "p_b": [0.7, 0.9]}
    combined = ensemble([first, second])
    assert combined["p_a"] == pytest.approx([0.6, 0.35]) and combined["label"] == ["a", "b"]
    one, other = ({"id": [0], "target": [1.0], "prediction": [value]} for value in (2.0, 4.0))
    values = ensemble([one, other])
    assert values["prediction"] == [3.0]
