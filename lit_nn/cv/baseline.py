"""The models a statistician tries first, fitted with scikit-learn on the same folds as the network.

Classification: logistic regression on the standardised features, and the floor (the majority
class, with the class shares as probabilities). Regression: ordinary least squares, and the floor
(the training mean). Each is scored on the held-out fold by :func:`lit_nn.cv.scores.scores`, the
same function that scores the network, so the rows compare like with like. Images: the floor only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from lit_nn.cv.scores import Columns, scores
from lit_nn.data.folds import FoldSamples, training_part

CLASSIFIER_NAMES = ("logistic regression", "majority class")
REGRESSOR_NAMES = ("least squares", "training mean")
FLOORS = (CLASSIFIER_NAMES[1], REGRESSOR_NAMES[1])
"""The baselines that use no feature: what any model must beat."""


def models(kind: str, has_features: bool) -> dict[str, Any]:
    """The baseline models of a task kind, unfitted, by name.

    Args:
        kind: ``regression``, ``binary`` or ``multiclass`` (others have none).
        has_features: Whether the samples have feature rows (not images).

    Returns:
        Name to scikit-learn estimator; the classical model first (when there are features), then the floor.
    """
    if kind == "regression":
        pair = {REGRESSOR_NAMES[0]: make_pipeline(StandardScaler(), LinearRegression()),
                REGRESSOR_NAMES[1]: DummyRegressor(strategy="mean")}  # fmt: skip
    elif kind in ("binary", "multiclass"):
        pair = {CLASSIFIER_NAMES[0]: make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
                CLASSIFIER_NAMES[1]: DummyClassifier(strategy="prior")}  # fmt: skip
    else:
        return {}
    if not has_features:
        pair.pop(next(iter(pair)))
    return pair


def predictions(model: Any, samples: FoldSamples, held_out: np.ndarray) -> Columns:  # noqa: ANN401 (an estimator)
    """Fit a model on a fold's training part and predict its held-out part, as a prediction table.

    Args:
        model: An unfitted scikit-learn estimator (a fresh clone is fitted).
        samples: The pool.
        held_out: The fold's held-out positions.

    Returns:
        ``id``, ``target`` and ``label`` with ``p_<class>`` (class indices as names), or ``prediction``.
    """
    targets = samples.targets if samples.targets is not None else samples.labels
    assert targets is not None  # labelled data only is folded
    features = samples.features if samples.features is not None else np.zeros((len(samples), 1))
    train = training_part(len(samples), held_out)
    fitted = clone(model).fit(features[train], targets[train])
    table: Columns = {"id": [samples.ids[i] for i in held_out]}
    if not hasattr(fitted, "predict_proba"):
        table["target"] = targets[held_out].tolist()
        table["prediction"] = fitted.predict(features[held_out]).tolist()
        return table
    table["target"] = [str(int(t)) for t in targets[held_out]]
    table["label"] = [str(int(t)) for t in fitted.predict(features[held_out])]
    for name, column in zip(fitted.classes_, fitted.predict_proba(features[held_out]).T, strict=True):
        table[f"p_{int(name)}"] = column.tolist()
    return table


def baseline_scores(samples: FoldSamples, held: list[np.ndarray], kind: str) -> dict[str, list[dict[str, float]]]:
    """Every baseline's metrics on every fold.

    Args:
        samples: The pool.
        held: The folds' held-out positions (:func:`lit_nn.data.folds.make_folds`).
        kind: The task's kind.

    Returns:
        Baseline name to one metrics mapping per fold.
    """
    return {
        name: [scores(predictions(model, samples, fold)) for fold in held]
        for name, model in models(kind, samples.features is not None).items()
    }
