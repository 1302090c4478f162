import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import make_blobs  # noqa: E402

from skl_snapshot import (  # noqa: E402
    SnapshotEnsembleClassifier,
    SnapshotEnsembleRegressor,
)

_FAST = {
    "hidden_layer_sizes": (16,),
    "epochs": 12,
    "n_cycles": 3,
    "lr_max": 0.1,
    "batch_size": 16,
    "random_state": 0,
}


def fast_regressor(**params):
    """A small, quick regressor: a few epochs of a narrow network."""
    return SnapshotEnsembleRegressor(**{**_FAST, **params})


def fast_classifier(**params):
    """A small, quick instance: a few epochs of a narrow network."""
    defaults = {
        "hidden_layer_sizes": (16,),
        "epochs": 12,
        "n_cycles": 3,
        "lr_max": 0.1,
        "batch_size": 16,
        "random_state": 0,
    }
    defaults.update(params)
    return SnapshotEnsembleClassifier(**defaults)


@pytest.fixture
def blobs():
    """Three well-separated, standardised blobs: 120 training and 60 test rows."""
    X, y = make_blobs(n_samples=180, centers=3, n_features=4, random_state=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X[:120], y[:120], X[120:], y[120:]


@pytest.fixture
def fitted(blobs):
    X, y, _, _ = blobs
    return fast_classifier().fit(X, y)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
