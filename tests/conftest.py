import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from typing import Any, NamedTuple  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.base import is_classifier  # noqa: E402
from sklearn.datasets import (  # noqa: E402
    make_blobs,
    make_classification,
    make_regression,
)

from skl_snapshot import (  # noqa: E402
    SnapshotEnsembleClassifier,
    SnapshotEnsembleRegressor,
)

# One network and equal cycles: most tests are about what one network's run
# does; tests of several (cross-fitted) networks, the default, set n_networks.
_FAST = {
    "hidden_layer_sizes": (16,),
    "epochs": 12,
    "n_cycles": 3,
    "n_networks": 1,
    "t_mult": 1.0,
    "lr_max": 0.1,
    "batch_size": 16,
    "random_state": 0,
}


def old_plan_record():
    """The fields of a FitPlan that every plan on disk has: one written before
    the optional fields existed."""
    return {
        "epochs": 4,
        "n_cycles": 2,
        "cycle_epochs": [2, 2],
        "batch_size": 8,
        "lr_max": 0.1,
        "lr_min": 0.0,
        "n_samples": 40,
        "seed": 0,
    }


def fast_regressor(**params):
    """A small, quick regressor: a few epochs of a narrow network."""
    return SnapshotEnsembleRegressor(**{**_FAST, **params})


def fast_classifier(**params):
    """A small, quick classifier: a few epochs of a narrow network."""
    return SnapshotEnsembleClassifier(**{**_FAST, **params})


def output(estimator, X):
    """What a round trip or a refit must reproduce: ``predict_proba`` of a
    classifier, ``predict`` of a regressor."""
    if is_classifier(estimator):
        return estimator.predict_proba(X)
    return estimator.predict(X)


def staged_output(estimator, X):
    """The staged counterpart of :func:`output`."""
    if is_classifier(estimator):
        return estimator.staged_predict_proba(X)
    return estimator.staged_predict(X)


def noisy_linear_classes(n_classes):
    """A noisy, linear classification problem on which the networks do not
    beat a linear model, so the held-out rows give the linear member a share:
    120 training and 40 test rows."""
    X, y = make_classification(
        n_samples=160,
        n_features=5,
        n_informative=3,
        n_redundant=0,
        n_classes=n_classes,
        flip_y=0.15,
        class_sep=0.7,
        random_state=0,
    )
    return X[:120], y[:120], X[120:], y[120:]


def _blobs():
    X, y = make_blobs(n_samples=180, centers=3, n_features=4, random_state=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X[:120], y[:120], X[120:], y[120:]


def _linear():
    X, y = make_regression(
        n_samples=180, n_features=4, n_informative=3, noise=5.0, random_state=0
    )
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X[:120], y[:120], X[120:], y[120:]


@pytest.fixture
def blobs():
    """Three well-separated, standardised blobs: 120 training and 60 test rows."""
    return _blobs()


@pytest.fixture
def linear():
    """An easy, nearly linear problem on standardised features, with a target of
    standard deviation about 30: 120 training and 60 test rows."""
    return _linear()


@pytest.fixture
def fitted(blobs):
    X, y, _, _ = blobs
    return fast_classifier().fit(X, y)


@pytest.fixture
def fitted_regressor(linear):
    X, y, _, _ = linear
    return fast_regressor().fit(X, y)


class Task(NamedTuple):
    """One estimator, its fast factory and its data, for tests of shared
    behaviour: the classifier on ``blobs``, the regressor on ``linear``."""

    name: str
    Estimator: type
    make: Any
    output_method: str
    meta: dict
    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def _task_regressor(**params):
    """fast_regressor at the estimator's default rate, 0.05, at which its twelve
    epochs fit ``linear`` (test R² 0.95; 0.1 gives snapshots that wander)."""
    return fast_regressor(**{"lr_max": 0.05, **params})


TASKS = {
    "classifier": (
        SnapshotEnsembleClassifier,
        fast_classifier,
        "predict_proba",
        {"n_features_in_": 4, "n_classes_": 3},
        _blobs,
    ),
    "regressor": (
        SnapshotEnsembleRegressor,
        _task_regressor,
        "predict",
        {"n_features_in_": 4, "n_outputs_": 1},
        _linear,
    ),
}


def make_task(name):
    """The :class:`Task` of ``"classifier"`` or ``"regressor"``."""
    *spec, data = TASKS[name]
    return Task(name, *spec, *data())


@pytest.fixture(params=list(TASKS))
def task(request):
    """Each estimator in turn, with its factory and data: a test that takes this
    fixture runs once for the classifier and once for the regressor."""
    return make_task(request.param)


@pytest.fixture
def task_fitted(task):
    """The task's estimator, fitted: three cycles of 4 epochs."""
    return task.make().fit(task.X, task.y)


@pytest.fixture
def fitted4(blobs):
    """The classifier over four cycles."""
    X, y, _, _ = blobs
    return fast_classifier(epochs=16, n_cycles=4).fit(X, y)


@pytest.fixture
def task_fitted4(task):
    """The task's estimator over four cycles of 4 epochs (32 steps each)."""
    return task.make(epochs=16, n_cycles=4).fit(task.X, task.y)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
