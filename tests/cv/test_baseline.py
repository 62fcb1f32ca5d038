"""The baselines are scikit-learn's models scored on the very folds the network uses."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from lit_nn.cv.baseline import baseline_scores
from lit_nn.data.bundled import BreastCancer, Diabetes, Digits
from lit_nn.data.folds import make_folds, training_part


def folds(samples, k=5):
    held = make_folds(samples, k, seed=0)
    return held, [(training_part(len(samples), h), h) for h in held]


def test_the_classifier_baselines_equal_cross_val_score_on_the_same_fold_indices():
    samples = BreastCancer().fold_samples()
    held, cv = folds(samples)
    got = baseline_scores(samples, held, "binary")
    logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    expected = cross_val_score(logistic, samples.features, samples.targets, cv=cv, scoring="accuracy")
    assert [f["acc"] for f in got["logistic regression"]] == pytest.approx(expected.tolist())
    auroc = cross_val_score(logistic, samples.features, samples.targets, cv=cv, scoring="roc_auc")
    assert [f["auroc"] for f in got["logistic regression"]] == pytest.approx(auroc.tolist())
    floor = cross_val_score(DummyClassifier(strategy="prior"), samples.features, samples.targets, cv=cv)
    assert [f["acc"] for f in got["majority class"]] == pytest.approx(floor.tolist())


def test_the_regression_baselines_equal_cross_val_score_on_the_same_fold_indices():
    samples = Diabetes().fold_samples()
    held, cv = folds(samples)
    got = baseline_scores(samples, held, "regression")
    ols = make_pipeline(StandardScaler(), LinearRegression())
    mse = -cross_val_score(ols, samples.features, samples.targets, cv=cv, scoring="neg_mean_squared_error")
    assert [f["mse"] for f in got["least squares"]] == pytest.approx(mse.tolist())
    r2 = cross_val_score(ols, samples.features, samples.targets, cv=cv, scoring="r2")
    assert [f["r2"] for f in got["least squares"]] == pytest.approx(r2.tolist())
    assert np.mean([f["r2"] for f in got["training mean"]]) < 0.01  # the floor explains nothing


def test_images_get_the_floor_only_and_a_multiclass_task_its_macro_f1():
    samples = Digits().fold_samples()
    held, _ = folds(samples, 3)
    assert list(baseline_scores(samples, held, "multiclass")) == ["logistic regression", "majority class"]
    assert set(baseline_scores(samples, held, "multiclass")["majority class"][0]) == {"acc", "f1_macro"}
    no_features = type(samples)(samples.ids, samples.labels, None, None)
    assert list(baseline_scores(no_features, held, "multiclass")) == ["majority class"]
    assert baseline_scores(samples, held, "multilabel") == {}
