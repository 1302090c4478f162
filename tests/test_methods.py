"""Training methods: snapshot ensembles, fast geometric ensembling and SWA.

The cycle lengths and the schedule are checked against reference formulas written
here; the fitted estimators against NumPy forward passes of their weights.
"""

import json
import math
import pickle

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.base import is_classifier
from sklearn.model_selection import GridSearchCV

from skl_snapshot import (
    CyclicCosineAnnealing,
    build_mlp,
    cycle_epochs,
    cyclic_cosine_annealing,
)
from skl_snapshot._network import recompute_batch_norm
from skl_snapshot._schedules import METHODS, CycleSchedule, method_cycle_epochs

from ._builders import output_layer
from .conftest import fast_classifier, output

# fast_classifier on the blobs, fast_regressor on linear: 120 rows in batches of 16
BATCHES_PER_EPOCH = math.ceil(120 / 16)


def bn_network(meta):
    """A builder with BatchNormalization between a hidden Dense and its relu."""
    return keras.Sequential(
        [
            keras.Input((meta["n_features_in_"],)),
            keras.layers.Dense(8),
            keras.layers.BatchNormalization(),
            keras.layers.Activation("relu"),
            output_layer(meta),
        ]
    )


class SubclassedBatchNormNetwork(keras.Model):
    """No symbolic inputs, so BatchNormalization inputs cannot be probed."""

    def __init__(self, n_classes):
        super().__init__()
        self.hidden = keras.layers.Dense(8)
        self.norm = keras.layers.BatchNormalization()
        self.out = keras.layers.Dense(n_classes, activation="softmax")

    def call(self, inputs, training=False):
        hidden = self.norm(self.hidden(inputs), training=training)
        return self.out(keras.activations.relu(hidden))


def _softmax(logits):
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def _head(estimator, logits):
    """What the estimator makes of its network's output layer: probabilities of a
    classifier, the 1-D target of a regressor (mapped back by ``normalize_y``)."""
    if is_classifier(estimator):
        return _softmax(logits)
    return (logits * estimator.y_scale_ + estimator.y_mean_)[:, 0]


def _unit(estimator):
    """The scale of the estimator's output: 1 for probabilities, the target's
    standard deviation for a regressor."""
    return 1.0 if is_classifier(estimator) else float(estimator.y_scale_[0])


def _mlp_output(estimator, weights, X):
    """The built-in relu MLP in float64 NumPy: [kernel, bias] per Dense layer."""
    hidden = np.asarray(X, dtype=np.float64)
    for layer in range(0, len(weights) - 2, 2):
        hidden = np.maximum(hidden @ weights[layer] + weights[layer + 1], 0)
    return _head(estimator, hidden @ weights[-2] + weights[-1])


def _bn_network_output(estimator, weights, X, epsilon):
    """``bn_network`` at inference, in float64 NumPy."""
    kernel, bias, gamma, beta, mean, variance, out_kernel, out_bias = weights
    hidden = np.asarray(X, dtype=np.float64) @ kernel + bias
    hidden = (hidden - mean) / np.sqrt(variance + epsilon) * gamma + beta
    return _head(estimator, np.maximum(hidden, 0) @ out_kernel + out_bias)


def _reference_rates(steps, method, cycle_lengths, lr_max, lr_min):
    """One step at a time: cosine cycles, or for fge/swa cosine then triangles."""
    rates = []
    for step in steps:
        rate, start = lr_min, 0
        for cycle, length in enumerate(cycle_lengths):
            if step < start + length:
                position = (step - start) / length
                if method == "snapshot" or cycle == 0:
                    cosine = 1 + math.cos(math.pi * position)
                    rate = lr_min + (lr_max - lr_min) / 2 * cosine
                else:
                    rise = 1 - abs(2 * position - 1)
                    rate = lr_min + (lr_max / 2 - lr_min) * rise
                break
            start += length
        rates.append(rate)
    return np.array(rates)


def _float32_tolerance(lr_max):
    return {"rtol": 1e-5, "atol": 1e-7 * lr_max}


# -- method_cycle_epochs ------------------------------------------------------------


@pytest.mark.parametrize(
    "epochs, n_cycles, expected",
    [
        (12, 3, [6, 3, 3]),
        (10, 3, [6, 2, 2]),
        (9, 4, [6, 1, 1, 1]),
        (100, 5, [52, 12, 12, 12, 12]),
        (7, 7, [1] * 7),  # too few epochs for half: one epoch a cycle
        (5, 2, [3, 2]),
        (5, 1, [5]),
    ],
)
@pytest.mark.parametrize("method", ["fge", "swa"])
def test_fge_and_swa_cycles_halve_the_budget(method, epochs, n_cycles, expected):
    lengths = method_cycle_epochs(method, epochs, n_cycles)
    assert lengths == expected
    assert sum(lengths) == epochs
    assert len(lengths) == n_cycles
    # the first cycle takes at least half, the short cycles split the rest evenly
    assert lengths[0] >= min(math.ceil(epochs / 2), epochs - (n_cycles - 1))
    assert len(set(lengths[1:])) <= 1


@pytest.mark.parametrize("epochs, n_cycles", [(12, 3), (10, 3), (9, 4), (5, 1)])
def test_snapshot_cycles_are_cycle_epochs(epochs, n_cycles):
    assert method_cycle_epochs("snapshot", epochs, n_cycles) == cycle_epochs(
        epochs, n_cycles
    )


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "epochs, n_cycles, match",
    [(2, 3, "epochs must be >= n_cycles"), (5, 0, "n_cycles must be >= 1")],
)
def test_method_cycle_epochs_rejects_like_cycle_epochs(method, epochs, n_cycles, match):
    with pytest.raises(ValueError, match=match):
        cycle_epochs(epochs, n_cycles)
    with pytest.raises(ValueError, match=match):
        method_cycle_epochs(method, epochs, n_cycles)


# -- CycleSchedule ------------------------------------------------------------------

CYCLES = [([48, 24, 24], 0.1, 0.001), ([7, 2, 11, 1], 0.3, 0.0), ([40], 0.2, 0.01)]


@pytest.mark.parametrize("cycle_lengths, lr_max, lr_min", CYCLES)
def test_snapshot_rates_are_cyclic_cosine_annealing(cycle_lengths, lr_max, lr_min):
    steps = np.arange(sum(cycle_lengths) + 3)
    schedule = CycleSchedule("snapshot", cycle_lengths, lr_max, lr_min)
    np.testing.assert_array_equal(
        schedule.rates(steps),
        cyclic_cosine_annealing(steps, cycle_lengths, lr_max, lr_min),
    )


@pytest.mark.parametrize("cycle_lengths, lr_max, lr_min", CYCLES)
def test_snapshot_call_is_cyclic_cosine_annealing_bit_for_bit(
    cycle_lengths, lr_max, lr_min
):
    schedule = CycleSchedule("snapshot", cycle_lengths, lr_max, lr_min)
    reference = CyclicCosineAnnealing(cycle_lengths, lr_max, lr_min)
    for step in range(sum(cycle_lengths) + 3):
        step = tf.constant(step, dtype=tf.int64)
        assert schedule(step).numpy() == reference(step).numpy()


@pytest.mark.parametrize("method", ["fge", "swa"])
@pytest.mark.parametrize("cycle_lengths, lr_max, lr_min", CYCLES)
def test_fge_rates_are_cosine_then_triangles(method, cycle_lengths, lr_max, lr_min):
    steps = np.arange(sum(cycle_lengths) + 3)
    rates = CycleSchedule(method, cycle_lengths, lr_max, lr_min).rates(steps)
    expected = _reference_rates(steps, method, cycle_lengths, lr_max, lr_min)
    np.testing.assert_allclose(rates, expected, rtol=1e-12, atol=1e-15)
    assert rates[0] == pytest.approx(lr_max)
    # every short cycle starts at lr_min, peaks at lr_max / 2 at its middle
    for start, length in zip(
        np.cumsum(cycle_lengths)[:-1], cycle_lengths[1:], strict=True
    ):
        assert rates[start] == pytest.approx(lr_min)
        if length % 2 == 0:
            assert rates[start + length // 2] == pytest.approx(lr_max / 2)
        assert rates[start : start + length].max() <= lr_max / 2 + 1e-12


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("cycle_lengths, lr_max, lr_min", CYCLES)
def test_keras_call_agrees_with_rates(method, cycle_lengths, lr_max, lr_min):
    schedule = CycleSchedule(method, cycle_lengths, lr_max, lr_min)
    steps = np.arange(sum(cycle_lengths) + 3)
    expected = schedule.rates(steps)
    tolerance = _float32_tolerance(lr_max)
    scalar = [float(schedule(tf.constant(step, dtype=tf.int64))) for step in steps]
    np.testing.assert_allclose(scalar, expected, **tolerance)
    vector = schedule(tf.constant(steps, dtype=tf.int64))
    assert vector.dtype == tf.float32
    np.testing.assert_allclose(vector.numpy(), expected, **tolerance)
    traced = tf.function(schedule)
    in_graph = [float(traced(tf.constant(step, dtype=tf.int64))) for step in steps]
    np.testing.assert_array_equal(in_graph, scalar)


@pytest.mark.parametrize("method", METHODS)
def test_cycle_schedule_get_config_round_trip(method):
    schedule = CycleSchedule(method, np.array([5, 3, 3]), np.float32(0.5), 0.01)
    config = schedule.get_config()
    assert config == {
        "method": method,
        "cycle_lengths": [5, 3, 3],
        "lr_max": 0.5,
        "lr_min": 0.01,
    }
    assert all(type(length) is int for length in config["cycle_lengths"])
    restored = CycleSchedule.from_config(config)
    assert restored.get_config() == config
    steps = np.arange(12)
    np.testing.assert_array_equal(restored.rates(steps), schedule.rates(steps))


def test_cycle_schedule_keras_serialization_round_trip():
    schedule = CycleSchedule("fge", [6, 3, 3], 0.1, 0.001)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(schedule)
    )
    assert isinstance(restored, CycleSchedule)
    assert restored.get_config() == schedule.get_config()


def test_snapshot_rates_equal_cyclic_cosine_annealing_on_long_runs():
    lengths = [2**24 + 1, 2**24 + 1]
    steps = np.array([2**24, 2**24 + 1, 2**24 + 2])
    np.testing.assert_array_equal(
        CycleSchedule("snapshot", lengths, 0.1).rates(steps),
        cyclic_cosine_annealing(steps, lengths, 0.1),
    )


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match=r"method must be one of .* Got 'sgdr'"):
        CycleSchedule("sgdr", [3, 3], 0.1)


# -- fitting with method="fge" ------------------------------------------------------


def test_fge_fit_follows_its_schedule_and_votes(task):
    X, y, X_test = task.X, task.y, task.X_test
    lr_max, lr_min = task.make().lr_max, 0.001
    clf = task.make(method="fge", lr_max=lr_max, lr_min=lr_min).fit(X, y)

    epochs_of_cycles = method_cycle_epochs("fge", 12, 3)
    assert epochs_of_cycles == [6, 3, 3]
    cycle_steps = [epochs * BATCHES_PER_EPOCH for epochs in epochs_of_cycles]
    np.testing.assert_array_equal(clf.snapshot_epochs_, np.cumsum(epochs_of_cycles))
    np.testing.assert_array_equal(clf.snapshot_iterations_, np.cumsum(cycle_steps))
    assert clf.n_iter_ == 12 and clf.t_ == sum(cycle_steps) == 96

    schedule = CycleSchedule("fge", cycle_steps, lr_max, lr_min)
    np.testing.assert_array_equal(
        clf.learning_rate_history_, schedule.rates(np.arange(clf.t_))
    )
    np.testing.assert_allclose(
        clf.learning_rate_history_,
        _reference_rates(np.arange(clf.t_), "fge", cycle_steps, lr_max, lr_min),
        rtol=1e-12,
    )
    # members are taken at the low point of each cycle
    last_steps = np.cumsum(cycle_steps) - 1
    np.testing.assert_allclose(
        clf.snapshot_learning_rates_,
        schedule.rates(last_steps),
        **_float32_tolerance(lr_max),
    )
    assert np.all(clf.snapshot_learning_rates_ >= lr_min)
    assert np.all(clf.snapshot_learning_rates_ - lr_min < 0.1 * (lr_max - lr_min))

    assert clf.averaged_weights_ is None
    predicted = output(clf, X_test)
    members = [_mlp_output(clf, weights, X_test) for weights in clf.snapshot_weights_]
    np.testing.assert_allclose(
        predicted, np.mean(members, axis=0), rtol=1e-5, atol=1e-7 * _unit(clf)
    )
    assert clf.score(X_test, task.y_test) > 0.9


def test_snapshot_fit_has_no_averaged_weights(task_fitted):
    assert task_fitted.averaged_weights_ is None


# -- fitting with method="swa" ------------------------------------------------------


def test_swa_predicts_with_the_mean_of_the_snapshots(task):
    X, y, X_test = task.X, task.y, task.X_test
    clf = task.make(method="swa").fit(X, y)
    assert clf.n_snapshots_ == 3
    np.testing.assert_array_equal(clf.snapshot_epochs_, [6, 9, 12])
    averaged = clf.averaged_weights_
    assert len(averaged) == len(clf.snapshot_weights_[0])
    for index, array in enumerate(averaged):
        stacked = np.stack([weights[index] for weights in clf.snapshot_weights_])
        assert array.dtype == stacked.dtype == np.float32
        np.testing.assert_allclose(array, stacked.mean(axis=0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(
        output(clf, X_test), _mlp_output(clf, averaged, X_test), rtol=1e-5
    )
    # one network: not the mean of the snapshots' predictions
    members = [_mlp_output(clf, weights, X_test) for weights in clf.snapshot_weights_]
    assert not np.allclose(output(clf, X_test), np.mean(members, axis=0), rtol=1e-5)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"n_members": 2}, "n_members"),
        ({"member_weights": "fitted", "validation_fraction": 0.2}, "member_weights"),
    ],
)
def test_swa_rejects_member_parameters_at_fit(task, params, name):
    X, y = task.X, task.y
    clf = task.make(method="swa", **params)
    with pytest.raises(ValueError, match=rf"method='swa'.* Got {name}="):
        clf.fit(X, y)
    assert not hasattr(clf, "snapshot_weights_")


@pytest.mark.parametrize(
    "params, name",
    [({"n_members": 2}, "n_members"), ({"member_weights": "fitted"}, "member_weights")],
)
def test_swa_rejects_member_parameters_at_prediction(task, params, name):
    X, y, X_test = task.X, task.y, task.X_test
    clf = task.make(method="swa").fit(X, y)
    expected = output(clf, X_test)
    clf.set_params(**params)
    with pytest.raises(ValueError, match=rf"method='swa'.* Got {name}="):
        output(clf, X_test)
    with pytest.raises(ValueError, match=name):
        clf.predict(X_test)
    clf.set_params(n_members=None, member_weights="uniform")
    np.testing.assert_array_equal(output(clf, X_test), expected)


def test_swa_recomputes_batch_norm_statistics_on_the_training_rows(task):
    X, y, X_test = task.X, task.y, task.X_test
    clf = task.make(method="swa", model=bn_network).fit(X, y)
    averaged = clf.averaged_weights_
    kernel, bias, gamma, beta, moving_mean, moving_variance = averaged[:6]
    # every weight but the moving statistics is the mean of the snapshots
    for index in (0, 1, 2, 3, 6, 7):
        stacked = np.stack([weights[index] for weights in clf.snapshot_weights_])
        np.testing.assert_allclose(
            averaged[index], stacked.mean(axis=0), rtol=1e-6, atol=1e-7
        )
    dense = X.astype(np.float32).astype(np.float64) @ kernel + bias
    np.testing.assert_allclose(moving_mean, dense.mean(axis=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(moving_variance, dense.var(axis=0), rtol=1e-4, atol=1e-6)
    # training's moving averages were replaced, not kept
    snapshot_means = np.mean([weights[4] for weights in clf.snapshot_weights_], axis=0)
    assert not np.allclose(moving_mean, snapshot_means, rtol=1e-3)

    epsilon = clf._predictor.network.layers[1].epsilon
    np.testing.assert_allclose(
        output(clf, X_test),
        _bn_network_output(clf, averaged, X_test, epsilon),
        rtol=1e-4,
        atol=1e-6 * _unit(clf),
    )


def test_recompute_batch_norm_without_batch_norm_changes_nothing(blobs):
    X = blobs[0].astype(np.float32)
    network = build_mlp((8,), meta={"n_features_in_": 4, "n_classes_": 3})
    before = network.get_weights()
    assert recompute_batch_norm(network, X) == 0
    for kept, original in zip(network.get_weights(), before, strict=True):
        np.testing.assert_array_equal(kept, original)


def test_recompute_batch_norm_refuses_a_subclassed_network(blobs):
    X = blobs[0].astype(np.float32)
    network = SubclassedBatchNormNetwork(3)
    network(X[:2])
    with pytest.raises(ValueError, match="subclassed network"):
        recompute_batch_norm(network, X)


def test_recompute_batch_norm_refuses_a_nested_batch_norm(blobs):
    X = blobs[0].astype(np.float32)
    inner = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8), keras.layers.BatchNormalization()],
        name="inner",
    )
    network = keras.Sequential(
        [keras.Input((4,)), inner, keras.layers.Dense(3, activation="softmax")]
    )
    with pytest.raises(ValueError, match="nested model 'inner'"):
        recompute_batch_norm(network, X)


# -- persistence --------------------------------------------------------------------


@pytest.mark.parametrize("model", [None, bn_network], ids=["built-in", "batch-norm"])
def test_swa_pickle_round_trip_reproduces_predictions(task, model):
    X, y, X_test = task.X, task.y, task.X_test
    clf = task.make(method="swa", model=model).fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    for kept, original in zip(
        loaded.averaged_weights_, clf.averaged_weights_, strict=True
    ):
        np.testing.assert_array_equal(kept, original)
    np.testing.assert_array_equal(output(loaded, X_test), output(clf, X_test))


@pytest.mark.parametrize("model", [None, bn_network], ids=["built-in", "batch-norm"])
def test_swa_from_snapshot_dir_reproduces_predictions(task, tmp_path, model):
    X, y, X_test = task.X, task.y, task.X_test
    clf = task.make(method="swa", model=model, snapshot_dir=tmp_path).fit(X, y)
    expected = output(clf, X_test)
    for in_memory in (True, False):
        loaded = task.Estimator.from_snapshot_dir(tmp_path, in_memory=in_memory)
        assert loaded.method == "swa"
        for kept, original in zip(
            loaded.averaged_weights_, clf.averaged_weights_, strict=True
        ):
            np.testing.assert_array_equal(kept, original)
        np.testing.assert_array_equal(output(loaded, X_test), expected)
        np.testing.assert_array_equal(
            loaded.learning_rate_history_, clf.learning_rate_history_
        )


def test_resume_refuses_a_directory_of_another_method(task, tmp_path):
    X, y, X_test = task.X, task.y, task.X_test
    clf = task.make(method="fge", snapshot_dir=tmp_path).fit(X, y)
    other = task.make(method="snapshot", snapshot_dir=tmp_path, resume=True)
    with pytest.raises(
        ValueError, match=r"resume=True.*method differs \('fge' there, 'snapshot' now\)"
    ):
        other.fit(X, y)
    # the same method resumes the finished run as it is
    again = task.make(method="fge", snapshot_dir=tmp_path, resume=True).fit(X, y)
    np.testing.assert_array_equal(output(again, X_test), output(clf, X_test))


# -- model selection ----------------------------------------------------------------


def test_grid_search_over_methods(blobs):
    X, y, _, _ = blobs
    search = GridSearchCV(
        fast_classifier(epochs=6, n_cycles=3), {"method": list(METHODS)}, cv=2
    ).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == len(METHODS)
    assert np.all(np.isfinite(scores))
    assert search.best_estimator_.method in METHODS


def test_unfinished_swa_directory_is_refused(tmp_path, task):
    task.make(method="swa", snapshot_dir=tmp_path / "run").fit(task.X, task.y)
    manifest_path = tmp_path / "run" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["averaged"]  # as if the fit died before averaging
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="method='swa' run whose fit did not finish"):
        task.Estimator.from_snapshot_dir(tmp_path / "run")


def _triangular_reference(steps, cycle_lengths, lr_max, lr_min):
    """Smith's (2017) triangular cyclical rate, written out on its own."""
    starts = np.concatenate([[0], np.cumsum(cycle_lengths)[:-1]])
    cycle = np.searchsorted(starts, steps, side="right") - 1
    position = (steps - starts[cycle]) / np.asarray(cycle_lengths)[cycle]
    return lr_min + (lr_max - lr_min) * (1 - np.abs(2 * position - 1))


def test_triangular_schedule_in_graph_matches_numpy():
    lengths, lr_max, lr_min = [6, 10, 14], 0.2, 0.01
    schedule = CycleSchedule("snapshot", lengths, lr_max, lr_min, shape="triangular")
    steps = np.arange(sum(lengths))
    reference = _triangular_reference(steps, lengths, lr_max, lr_min)
    np.testing.assert_allclose(schedule.rates(steps), reference, rtol=1e-12)
    in_graph = tf.function(lambda step: schedule(step))
    np.testing.assert_allclose(
        [float(in_graph(tf.constant(step))) for step in steps], reference, rtol=1e-5
    )
    rebuilt = CycleSchedule.from_config(schedule.get_config())
    np.testing.assert_array_equal(rebuilt.rates(steps), schedule.rates(steps))


def test_triangular_schedule_trains_and_loads(task, tmp_path):
    X, y = task.X, task.y
    lr_max, lr_min = task.make().lr_max, 0.001
    est = task.make(schedule="triangular", lr_min=lr_min, snapshot_dir=tmp_path)
    est.fit(X, y)
    cycle_steps = [4 * BATCHES_PER_EPOCH] * 3
    np.testing.assert_allclose(
        est.learning_rate_history_,
        _triangular_reference(np.arange(est.t_), cycle_steps, lr_max, lr_min),
        rtol=1e-12,
    )
    cosine = task.make(lr_min=lr_min).fit(X, y)
    assert not np.allclose(output(est, task.X_test), output(cosine, task.X_test))
    loaded = type(est).from_snapshot_dir(tmp_path)
    assert loaded.schedule == "triangular"
    np.testing.assert_array_equal(
        loaded.learning_rate_history_, est.learning_rate_history_
    )
    np.testing.assert_allclose(output(loaded, task.X_test), output(est, task.X_test))


def test_triangular_schedule_is_for_snapshot_ensembles(task):
    with pytest.raises(ValueError, match="schedule='triangular' shapes the cycles"):
        task.make(schedule="triangular", method="fge").fit(task.X, task.y)
