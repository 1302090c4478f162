"""Defects found by running scikeras' and Keras' wrapper tests (issue 17)."""

import keras
import numpy as np
import pytest

from .conftest import fast_classifier


def _network(meta):
    return keras.Sequential(
        [
            keras.Input((meta["n_features_in_"],)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(meta["n_classes_"], activation="softmax"),
        ]
    )


@pytest.fixture
def float64():
    previous = keras.config.floatx()
    keras.config.set_floatx("float64")
    yield
    keras.config.set_floatx(previous)


def test_custom_network_under_float64(blobs, float64):
    X, y, X_test, _ = blobs
    classifier = fast_classifier(model=_network).fit(X, y)
    proba = classifier.predict_proba(X_test)
    assert proba.shape == (len(X_test), 3) and np.isfinite(proba).all()
    assert np.isfinite(classifier.loss_history_).all()


@pytest.mark.parametrize("weighted", [False, True])
def test_a_loss_without_reduction_trains_as_its_mean(blobs, weighted):
    X, y, X_test, _ = blobs
    weights = np.random.default_rng(0).uniform(0.5, 2.0, len(y)) if weighted else None
    per_row = fast_classifier(
        model=_network, loss=keras.losses.SparseCategoricalCrossentropy(reduction=None)
    ).fit(X, y, sample_weight=weights)
    reduced = fast_classifier(
        model=_network, loss=keras.losses.SparseCategoricalCrossentropy()
    ).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(
        per_row.predict_proba(X_test), reduced.predict_proba(X_test), atol=1e-5
    )
    np.testing.assert_allclose(per_row.loss_history_, reduced.loss_history_, rtol=1e-5)
