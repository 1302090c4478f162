"""The training paths: the built-in network's shared compiled function against
the general Keras path it stands in for."""

import keras
import numpy as np
import pytest

from skl_snapshot import SnapshotEnsembleClassifier, _training, build_mlp

from .conftest import fast_classifier


def _fit_through_keras(monkeypatch, estimator, X, y, **fit_params):
    """Fit ``estimator`` with the shared function turned off."""
    with monkeypatch.context() as patch:
        patch.setattr(
            SnapshotEnsembleClassifier,
            "_shared_training_activation",
            lambda self, params, loss: None,
        )
        return estimator.fit(X, y, **fit_params)


def _max_difference(first, second):
    return max(
        np.max(np.abs(a - b))
        for weights_a, weights_b in zip(
            first.snapshot_weights_, second.snapshot_weights_, strict=True
        )
        for a, b in zip(weights_a, weights_b, strict=True)
    )


@pytest.mark.parametrize(
    "params, weighted",
    [
        ({"activation": "tanh", "hidden_layer_sizes": (8, 6)}, False),
        ({"activation": "sigmoid"}, True),
        ({"activation": "tanh", "momentum": 0.0}, True),
    ],
    ids=["tanh-two-layers", "sigmoid-sample-weight", "no-momentum"],
)
def test_shared_function_trains_like_keras(monkeypatch, blobs, params, weighted):
    # Same operations as Keras' Dense layers, loss and SGD: the runs agree up to
    # float32 rounding. (A relu network is left out: a rounding difference that
    # moves a unit across zero changes its gradient, so relu runs drift apart.)
    X, y, _, _ = blobs
    sample_weight = np.linspace(0.5, 1.5, len(y)) if weighted else None
    shared = fast_classifier(**params).fit(X, y, sample_weight=sample_weight)
    through_keras = _fit_through_keras(
        monkeypatch, fast_classifier(**params), X, y, sample_weight=sample_weight
    )
    assert shared._shared_training_activation(shared.get_params(), shared._loss)
    assert _max_difference(shared, through_keras) < 1e-4
    np.testing.assert_allclose(
        shared.loss_history_, through_keras.loss_history_, rtol=1e-4
    )
    np.testing.assert_array_equal(
        shared.snapshot_learning_rates_, through_keras.snapshot_learning_rates_
    )
    assert shared.n_iter_ == through_keras.n_iter_
    assert shared.t_ == through_keras.t_


def test_shared_function_is_compiled_once_per_architecture(blobs):
    X, y, _, _ = blobs
    _training._SHARED_FUNCTIONS.clear()
    fast_classifier(hidden_layer_sizes=(7,)).fit(X, y)
    assert len(_training._SHARED_FUNCTIONS) == 1
    (function,) = _training._SHARED_FUNCTIONS.values()
    # other rows, cycles, epochs, rates, momentum, batch size, seed: same graph
    fast_classifier(
        hidden_layer_sizes=(7,),
        n_cycles=2,
        epochs=5,
        lr_max=0.3,
        momentum=0.5,
        batch_size=7,
        random_state=3,
    ).fit(X[:50], y[:50])
    assert list(_training._SHARED_FUNCTIONS.values()) == [function]
    fast_classifier(hidden_layer_sizes=(9,)).fit(X, y)
    assert len(_training._SHARED_FUNCTIONS) == 2


def test_shared_function_cache_is_bounded(monkeypatch, blobs):
    X, y, _, _ = blobs
    monkeypatch.setattr(_training, "_SHARED_FUNCTIONS_MAX", 2)
    for units in (3, 4, 5):
        fast_classifier(hidden_layer_sizes=(units,), epochs=3).fit(X, y)
    assert len(_training._SHARED_FUNCTIONS) == 2
    kept = [key[2][0] for key in _training._SHARED_FUNCTIONS]
    assert kept == [(4, 4), (4, 5)]


def _custom_network(meta):
    return build_mlp((8,), "relu", meta)


@pytest.mark.parametrize(
    "params",
    [
        {"model": _custom_network},
        {"activation": keras.activations.relu},
        {"activation": "elu"},
        {"optimizer__nesterov": True},
        {"loss": "categorical_crossentropy"},
        {
            "loss": keras.losses.SparseCategoricalCrossentropy,
            "loss__ignore_class": 7,
        },
    ],
    ids=[
        "custom-model",
        "callable-activation",
        "unsupported-activation",
        "optimizer-argument",
        "other-loss",
        "loss-class-with-arguments",
    ],
)
def test_networks_the_shared_function_does_not_cover_train_through_keras(
    monkeypatch, blobs, params
):
    X, y, X_test, _ = blobs
    used = []
    original = _training._shared_mlp_run
    monkeypatch.setattr(
        _training,
        "_shared_mlp_run",
        lambda *args: used.append(True) or original(*args),
    )
    estimator = fast_classifier(**params).fit(X, y)
    assert not used
    assert estimator.predict_proba(X_test).shape == (len(X_test), 3)


def test_default_network_uses_the_shared_function(monkeypatch, blobs):
    X, y, _, _ = blobs
    used = []
    original = _training._shared_mlp_run
    monkeypatch.setattr(
        _training,
        "_shared_mlp_run",
        lambda *args: used.append(True) or original(*args),
    )
    fast_classifier().fit(X, y)
    assert used == [True]
