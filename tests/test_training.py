"""The training paths: the built-in network's shared compiled function against
the general Keras path it stands in for."""

import unittest.mock

import keras
import numpy as np
import pytest

from skl_snapshot import SnapshotEnsembleClassifier, _base, _training, build_mlp

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
    kept = [key[3][0] for key in _training._SHARED_FUNCTIONS]
    assert kept == [(4, 4), (4, 5)]


def _record_shared_runs(monkeypatch):
    """A list that gets True each time a fit trains through the shared function."""
    used = []
    original = _training._shared_mlp_run
    monkeypatch.setattr(
        _training,
        "_shared_mlp_run",
        lambda *args: used.append(True) or original(*args),
    )
    return used


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
    used = _record_shared_runs(monkeypatch)
    estimator = fast_classifier(**params).fit(X, y)
    assert not used
    assert estimator.predict_proba(X_test).shape == (len(X_test), 3)


def test_default_network_uses_the_shared_function(monkeypatch, blobs):
    X, y, _, _ = blobs
    used = _record_shared_runs(monkeypatch)
    fast_classifier().fit(X, y)
    assert used == [True]


# -- shrink-and-perturb restarts ----------------------------------------------------


def test_restart_weights_shrinks_and_perturbs():
    network = build_mlp((4,), "relu", {"n_features_in_": 3, "n_classes_": 2})
    before = [variable.numpy().copy() for variable in network.trainable_variables]
    scales = [float(np.std(value)) for value in before]
    _training.restart_weights(network, scales, 0.5, 0.0, seed=[0, 1])
    for variable, value in zip(network.trainable_variables, before, strict=True):
        np.testing.assert_allclose(variable.numpy(), 0.5 * value, rtol=1e-6)
    _training.restart_weights(network, scales, 1.0, 2.0, seed=[0, 1])
    after = [variable.numpy() for variable in network.trainable_variables]
    kernel_noise = (after[0] - 0.5 * before[0]) / (2.0 * scales[0])
    assert 0.5 < np.std(kernel_noise) < 1.5
    # biases start at zero: no scale, no noise
    np.testing.assert_array_equal(after[1], 0.5 * before[1])


def _spy_on_restarts(monkeypatch):
    """A list that records the arguments of every shrink-and-perturb restart."""
    calls = []
    original = _training.restart_weights

    def spy(*args):
        calls.append(args)
        original(*args)

    monkeypatch.setattr(_base, "restart_weights", spy)
    return calls


def test_restarts_perturb_only_after_a_cycle_below_the_loss_threshold(
    monkeypatch, blobs
):
    X, y, _, _ = blobs
    calls = _spy_on_restarts(monkeypatch)
    params = {"epochs": 30, "n_cycles": 5, "restart_loss_threshold": 0.01}
    estimator = fast_classifier(**params).fit(X, y)
    expected = [False, *(estimator.loss_history_[:-1] < 0.01)]
    # the data exercise both branches: some restarts perturb, some do not
    assert 0 < sum(expected) < estimator.n_cycles - 1
    assert estimator.snapshot_perturbed_.tolist() == expected
    assert len(calls) == sum(expected)
    # ... and each perturbing restart draws its noise at the default amounts
    assert {(shrink, noise) for _, _, shrink, noise, _ in calls} == {(0.5, 1.0)}


def test_restart_loss_threshold_none_perturbs_at_every_restart(monkeypatch, blobs):
    X, y, _, _ = blobs
    calls = _spy_on_restarts(monkeypatch)
    estimator = fast_classifier(restart_loss_threshold=None).fit(X, y)
    assert estimator.snapshot_perturbed_.tolist() == [False, True, True]
    assert len(calls) == 2  # before cycles 2 and 3


def test_learning_rate_only_restarts_never_perturb(monkeypatch, blobs):
    X, y, _, _ = blobs
    calls = _spy_on_restarts(monkeypatch)
    estimator = fast_classifier(
        restart_shrink=1.0, restart_noise=0.0, restart_loss_threshold=None
    ).fit(X, y)
    assert calls == []
    assert not estimator.snapshot_perturbed_.any()


@pytest.mark.parametrize("method", ["fge", "swa"])
def test_fge_and_swa_ignore_restart_perturbation(blobs, method):
    X, y, X_test, _ = blobs
    plain = fast_classifier(method=method).fit(X, y)
    perturbed = fast_classifier(
        method=method, restart_shrink=0.5, restart_noise=1.0
    ).fit(X, y)
    np.testing.assert_array_equal(
        plain.predict_proba(X_test), perturbed.predict_proba(X_test)
    )


def test_shrink_and_perturb_restarts_change_the_snapshots(blobs):
    X, y, X_test, _ = blobs
    plain = fast_classifier(restart_shrink=1.0, restart_noise=0.0).fit(X, y)
    restarted = fast_classifier(restart_shrink=0.5, restart_noise=0.5).fit(X, y)
    # the first cycle starts from the same initialisation either way
    for a, b in zip(
        plain.snapshot_weights_[0], restarted.snapshot_weights_[0], strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert _max_difference_of_last(plain, restarted) > 1e-3
    # reproducible
    again = fast_classifier(restart_shrink=0.5, restart_noise=0.5).fit(X, y)
    np.testing.assert_array_equal(
        again.predict_proba(X_test), restarted.predict_proba(X_test)
    )


def _max_difference_of_last(first, second):
    return max(
        np.max(np.abs(a - b))
        for a, b in zip(
            first.snapshot_weights_[-1], second.snapshot_weights_[-1], strict=True
        )
    )


@pytest.mark.parametrize(
    "params, name",
    [
        ({"restart_shrink": 0.0}, "restart_shrink"),
        ({"restart_shrink": 1.5}, "restart_shrink"),
        ({"restart_noise": -0.1}, "restart_noise"),
        ({"restart_loss_threshold": 0.0}, "restart_loss_threshold"),
        ({"restart_loss_threshold": -1}, "restart_loss_threshold"),
        ({"restart_loss_threshold": "auto"}, "restart_loss_threshold"),
    ],
)
def test_restart_parameters_are_validated(blobs, params, name):
    X, y, _, _ = blobs
    with pytest.raises(ValueError, match=name):
        fast_classifier(**params).fit(X, y)


def test_resume_with_restarts_equals_an_uninterrupted_run(blobs, tmp_path):
    X, y, X_test, _ = blobs
    # a threshold no loss reaches: every restart perturbs, but only if the
    # resumed fit knows the loss of the cycle before the interruption
    params = {
        "restart_shrink": 0.5,
        "restart_noise": 0.5,
        "restart_loss_threshold": 1e6,
    }

    class Crash(Exception):
        pass

    class CrashAfterFirstCycle(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                raise Crash

    whole = fast_classifier(snapshot_dir=tmp_path / "whole", **params).fit(X, y)
    with pytest.raises(Crash):
        fast_classifier(
            snapshot_dir=tmp_path / "cut",
            fit__callbacks=[CrashAfterFirstCycle()],
            **params,
        ).fit(X, y)
    resumed = fast_classifier(snapshot_dir=tmp_path / "cut", resume=True, **params).fit(
        X, y
    )
    np.testing.assert_array_equal(
        resumed.predict_proba(X_test), whole.predict_proba(X_test)
    )
    # and a directory with other restarts is not this run
    assert resumed.snapshot_perturbed_.tolist() == [False, True, True]
    for name, value in [("restart_noise", 1.0), ("restart_loss_threshold", None)]:
        with pytest.raises(ValueError, match=f"{name} differs"):
            fast_classifier(
                snapshot_dir=tmp_path / "cut", resume=True, **{**params, name: value}
            ).fit(X, y)


def test_warm_start_restarts_the_network_too(blobs):
    X, y, _, _ = blobs
    params = {
        "restart_shrink": 0.5,
        "restart_noise": 0.0,
        # above any loss: perturbs whenever the loss of the cycle before is known
        "restart_loss_threshold": 1e6,
        "warm_start": True,
    }
    estimator = fast_classifier(**params).fit(X, y)
    last = [array.copy() for array in estimator.snapshot_weights_[-1]]
    calls = []
    original = _training.restart_weights

    def spy(network, scales, shrink, noise, seed):
        calls.append([v.numpy().copy() for v in network.trainable_variables])
        original(network, scales, shrink, noise, seed)

    with unittest.mock.patch.object(_base, "restart_weights", spy):
        estimator.fit(X, y)
    # the continued fit restarts before its first cycle, from the last snapshot
    assert len(calls) == estimator.n_cycles
    assert estimator.snapshot_perturbed_.tolist() == [False] + [True] * 5
    for a, b in zip(calls[0], last, strict=True):
        np.testing.assert_array_equal(a, b)
