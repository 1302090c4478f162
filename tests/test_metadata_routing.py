"""sample_weight routed by scikit-learn's metadata routing, for fit and score."""

import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .conftest import output


def _weights(n_rows):
    return np.random.default_rng(0).uniform(0.2, 3.0, size=n_rows)


def test_pipeline_routes_sample_weight_to_fit_and_score(task):
    weights = _weights(len(task.y))
    with sklearn.config_context(enable_metadata_routing=True):
        estimator = (
            task.make()
            .set_fit_request(sample_weight=True)
            # the routed score must use the weights
            .set_score_request(sample_weight=True)
        )
        pipeline = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=False), estimator
        ).fit(task.X, task.y, sample_weight=weights)
        routed_score = pipeline.score(
            task.X_test, task.y_test, sample_weight=weights[: len(task.y_test)]
        )
    scaler = StandardScaler().fit(task.X)
    direct = task.make().fit(scaler.transform(task.X), task.y, sample_weight=weights)
    np.testing.assert_allclose(
        output(pipeline[-1], scaler.transform(task.X_test)),
        output(direct, scaler.transform(task.X_test)),
    )
    X_test = scaler.transform(task.X_test)
    assert routed_score == direct.score(
        X_test, task.y_test, sample_weight=weights[: len(task.y_test)]
    )
    if task.name == "regressor":  # the classifier is right on every test row
        assert routed_score != direct.score(X_test, task.y_test)


def test_grid_search_routes_sample_weight_to_fit_and_score(task):
    weights = _weights(len(task.y))
    cv = KFold(3, shuffle=True, random_state=0)
    grid = {"n_members": [1, 3]}
    with sklearn.config_context(enable_metadata_routing=True):
        estimator = (
            task.make()
            .set_fit_request(sample_weight=True)
            .set_score_request(sample_weight=True)
        )
        search = GridSearchCV(estimator, grid, cv=cv).fit(
            task.X, task.y, sample_weight=weights
        )
    for index, params in enumerate(search.cv_results_["params"]):
        for split, (train, test) in enumerate(cv.split(task.X, task.y)):
            fitted = clone(task.make(**params)).fit(
                task.X[train], task.y[train], sample_weight=weights[train]
            )
            expected = fitted.score(
                task.X[test], task.y[test], sample_weight=weights[test]
            )
            got = search.cv_results_[f"split{split}_test_score"][index]
            np.testing.assert_allclose(got, expected, rtol=1e-12)
