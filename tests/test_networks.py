"""n_networks: several networks trained side by side, each giving snapshots."""

import json
import pickle

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.base import clone, is_classifier
from sklearn.metrics import log_loss

from skl_snapshot import SnapshotEnsembleClassifier, SnapshotEnsembleRegressor
from skl_snapshot._plan import FitPlan, cross_fit_folds

from .conftest import (
    _blobs,
    _linear,
    fast_classifier,
    fast_regressor,
    old_plan_record,
    output,
    staged_output,
)

TASKS = {
    "classifier": (fast_classifier, _blobs, {}),
    "regressor": (fast_regressor, _linear, {"lr_max": 0.05}),
}


@pytest.fixture(params=list(TASKS))
def task(request):
    make, data, params = TASKS[request.param]
    return (lambda **extra: make(**{**params, **extra})), data()


class _Crash(Exception):
    pass


class _CrashAfterFirstCycle(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise _Crash


def test_stacked_training_equals_the_keras_training_of_the_same_networks(task):
    """The built-in network's batched path trains each network exactly as the
    general Keras path does (same initialisation, data order and steps)."""
    make, (X, y, X_test, _) = task
    stacked = make(n_networks=3).fit(X, y)
    # any routed optimizer argument sends the built-in network down the Keras path
    general = make(n_networks=3, optimizer__nesterov=False).fit(X, y)
    np.testing.assert_allclose(stacked.loss_history_, general.loss_history_, rtol=1e-4)
    np.testing.assert_allclose(
        output(stacked, X_test), output(general, X_test), rtol=1e-4, atol=1e-5
    )


class _FirstNetworkWeights(keras.callbacks.Callback):
    """Records the first network's weights as the user's callbacks see them."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append([w.copy() for w in self.model.get_weights()])


def test_networks_held_as_weights_train_as_keras_networks_do(task, tmp_path):
    """In memory, the networks after the first are weights only (no Keras
    network is built for them), and without user callbacks the first trains as
    its weights too; a snapshot directory gets Keras networks. All start from
    the same weights and train to the same snapshots, exactly, restarts (every
    cycle here) included, and a user's callback sees the first network's
    weights of each cycle."""
    make, (X, y, X_test, _) = task
    params = {
        "n_networks": 3,
        "epochs": 8,
        "n_cycles": 4,
        "restart_loss_threshold": None,
    }
    in_memory = make(**params).fit(X, y)
    on_disk = make(**params, snapshot_dir=tmp_path / "r").fit(X, y)
    watcher = _FirstNetworkWeights()
    watched = make(**params, fit__callbacks=[watcher]).fit(X, y)
    assert in_memory.snapshot_perturbed_[3:].all()
    for fitted in (on_disk, watched):
        assert fitted.n_snapshots_ == in_memory.n_snapshots_ == 12
        for ours, theirs in zip(
            in_memory.snapshot_weights_, fitted.snapshot_weights_, strict=True
        ):
            for a, b in zip(ours, theirs, strict=True):
                np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(output(in_memory, X_test), output(fitted, X_test))
    # the callback saw network 0's snapshot of every cycle
    for cycle, seen in enumerate(watcher.seen):
        for a, b in zip(seen, in_memory.snapshot_weights_[3 * cycle], strict=True):
            np.testing.assert_array_equal(a, b)
    # after the fit, the first Keras network holds its final weights
    final = in_memory._get_predictor().network.get_weights()
    for a, b in zip(final, in_memory.snapshot_weights_[9], strict=True):
        np.testing.assert_array_equal(a, b)


def test_fresh_initial_weights_are_those_of_a_newly_built_network():
    import random

    from skl_snapshot import build_mlp
    from skl_snapshot._network import fresh_initial_weights

    meta = {"n_features_in_": 5, "n_classes_": 3}
    random.seed(7)
    first = build_mlp((8, 4), "relu", meta)
    built = build_mlp((8, 4), "relu", meta)
    random.seed(7)
    again = build_mlp((8, 4), "relu", meta)
    drawn = fresh_initial_weights(again)
    assert [a.shape for a in drawn] == [a.shape for a in built.get_weights()]
    for a, b in zip(drawn, built.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(again.get_weights(), first.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # a second draw is a new network, not the same one again
    assert not np.array_equal(fresh_initial_weights(again)[0], drawn[0])


def test_a_weights_only_network_refuses_weights_of_another_shape():
    from skl_snapshot._network import WeightsOnlyNetwork

    network = WeightsOnlyNetwork([np.zeros((2, 3)), np.zeros(3)])
    with pytest.raises(ValueError, match="Expected 2 weight arrays. Got 1"):
        network.set_weights([np.ones((2, 3))])
    with pytest.raises(ValueError, match=r"shape \(3,\). Got \(4,\)"):
        network.set_weights([np.ones((2, 3)), np.ones(4)])
    network.set_weights([np.ones((2, 3)), np.ones(3)])
    copy = network.get_weights()
    copy[0][0, 0] = 5.0
    np.testing.assert_array_equal(network.get_weights()[0], np.ones((2, 3)))


def test_every_network_gives_a_snapshot_per_cycle(task):
    make, (X, y, X_test, _) = task
    estimator = make(n_networks=3, cross_fit=False).fit(X, y)
    assert estimator.n_snapshots_ == 9
    np.testing.assert_array_equal(estimator.snapshot_epochs_, np.repeat([4, 8, 12], 3))
    assert len(estimator.loss_history_) == 9
    np.testing.assert_array_equal(
        estimator.snapshot_iterations_, np.repeat([32, 64, 96], 3)
    )
    # the networks differ: own initialisation and own data order
    last = estimator.snapshot_weights_[-3:]
    for a, b in [(0, 1), (1, 2), (0, 2)]:
        assert not np.allclose(last[a][0], last[b][0])
    # a network's snapshots follow each other as its training goes on
    first_network = [estimator.snapshot_weights_[i][0] for i in (0, 3, 6)]
    assert not np.allclose(first_network[0], first_network[1])


def test_the_networks_of_a_cycle_are_ordered_after_it(task):
    """newest: the last cycle's networks first, in order; n_members=1 is the
    first network's final snapshot."""
    make, (X, y, X_test, _) = task
    estimator = make(n_networks=3, n_members=1, member_weights="uniform").fit(X, y)
    assert estimator._ordered_snapshots() == [6, 7, 8, 3, 4, 5, 0, 1, 2]
    (alone,) = estimator._snapshot_votes(estimator._validate_features(X_test), [6])
    np.testing.assert_array_equal(estimator._mean_vote(X_test), alone)
    estimator.set_params(member_order="oldest")
    assert estimator._ordered_snapshots() == list(range(9))


def test_k_networks_beat_one_on_held_out_rows(task):
    """Not a quality claim, a wiring check: with more voting networks the
    ensemble's test error is lower than the final network's alone."""
    make, (X, y, X_test, y_test) = task
    estimator = make(n_networks=4, epochs=24, n_cycles=3).fit(X, y)
    scores = estimator.snapshot_scores(X_test, y_test)
    assert len(scores.n_members) == 12


@pytest.mark.parametrize("in_memory", [True, False])
def test_a_directory_of_k_networks_loads_and_predicts_alike(task, tmp_path, in_memory):
    make, (X, y, X_test, _) = task
    fitted = make(n_networks=2, snapshot_dir=tmp_path / "run").fit(X, y)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert len(manifest["snapshots"]) == 6
    assert manifest["fits"][0]["n_networks"] == 2
    assert manifest["optimizer_state"]["file"] == "optimizer-005.npz"
    loaded = type(fitted).from_snapshot_dir(tmp_path / "run", in_memory=in_memory)
    assert loaded.n_networks == 2 and loaded.n_snapshots_ == 6
    np.testing.assert_array_equal(output(loaded, X_test), output(fitted, X_test))


def test_a_resumed_run_of_k_networks_equals_an_uninterrupted_one(task, tmp_path):
    make, (X, y, X_test, _) = task
    whole = make(n_networks=2, snapshot_dir=tmp_path / "whole").fit(X, y)
    with pytest.raises(_Crash):
        make(
            n_networks=2,
            snapshot_dir=tmp_path / "cut",
            fit__callbacks=[_CrashAfterFirstCycle()],
        ).fit(X, y)
    resumed = make(n_networks=2, snapshot_dir=tmp_path / "cut", resume=True).fit(X, y)
    np.testing.assert_array_equal(resumed.loss_history_, whole.loss_history_)
    np.testing.assert_array_equal(output(resumed, X_test), output(whole, X_test))


def test_warm_start_continues_every_network(task):
    make, (X, y, X_test, _) = task
    estimator = make(n_networks=2, warm_start=True).fit(X, y)
    estimator.set_params(epochs=4, n_cycles=2).fit(X, y)
    assert estimator.n_snapshots_ == 10
    np.testing.assert_array_equal(
        estimator.snapshot_epochs_, [4, 4, 8, 8, 12, 12, 14, 14, 16, 16]
    )
    with pytest.raises(ValueError, match="n_networks must stay 2. Got n_networks=3"):
        estimator.set_params(n_networks=3).fit(X, y)


def test_custom_networks_train_side_by_side(blobs):
    X, y, X_test, _ = blobs

    def build(meta):
        return keras.Sequential(
            [
                keras.Input((meta["n_features_in_"],)),
                keras.layers.Dense(8, activation="elu"),
                keras.layers.Dense(meta["n_classes_"], activation="softmax"),
            ]
        )

    estimator = fast_classifier(model=build, n_networks=3).fit(X, y)
    assert estimator.n_snapshots_ == 9
    proba = estimator.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


def test_regressor_spread_covers_the_networks(linear):
    X, y, X_test, _ = linear
    # the networks' own spread: the linear member would vote in it (and take
    # most of the weight on this linear target; tests/test_linear_member.py)
    regressor = fast_regressor(
        n_networks=3, n_members=3, lr_max=0.05, linear_member=False
    ).fit(X, y)
    mean, std = regressor.predict(X_test, return_std=True)
    members = np.stack(
        [
            regressor._target_encoder.inverse_transform(vote)
            for vote in regressor._snapshot_votes(
                regressor._validate_features(X_test), [6, 7, 8]
            )
        ]
    )
    np.testing.assert_allclose(mean, members.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(std, members.std(axis=0), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("in_memory", [True, False])
def test_swa_averages_each_network_and_they_vote(task, tmp_path, in_memory):
    make, (X, y, X_test, _) = task
    swa = make(method="swa", n_networks=2, snapshot_dir=tmp_path / "run")
    swa.set_params(in_memory=in_memory).fit(X, y)
    first, second = swa.averaged_weights_
    for k, averaged in enumerate((first, second)):
        own = [swa.snapshot_weights_[i] for i in range(k, swa.n_snapshots_, 2)]
        np.testing.assert_allclose(
            averaged[0], np.mean([w[0] for w in own], axis=0), rtol=1e-5
        )
    assert not np.allclose(first[0], second[0])
    forward = swa._numpy_forward()
    np.testing.assert_allclose(
        swa._mean_vote(X_test),
        forward.mean_output([first, second], swa._validate_features(X_test)),
    )
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert [r["file"] for r in manifest["averaged"]] == [
        "averaged-000.weights.h5",
        "averaged-001.weights.h5",
    ]
    loaded = type(swa).from_snapshot_dir(tmp_path / "run", in_memory=in_memory)
    np.testing.assert_array_equal(output(loaded, X_test), output(swa, X_test))
    again = pickle.loads(pickle.dumps(swa))
    np.testing.assert_array_equal(output(again, X_test), output(swa, X_test))


def test_bad_values_are_refused(blobs):
    X, y, _, _ = blobs
    with pytest.raises(ValueError, match="n_networks"):
        fast_classifier(n_networks=0).fit(X, y)
    with pytest.raises(ValueError, match=r"n_cycles \* n_networks"):
        fast_classifier(n_networks=2, n_members=7).fit(X, y)
    assert fast_classifier(n_networks=2, n_members=6).fit(X, y).n_snapshots_ == 6


@pytest.mark.parametrize(
    "Estimator", [SnapshotEnsembleClassifier, SnapshotEnsembleRegressor]
)
def test_the_defaults_cross_fit_four_networks_on_growing_cycles(Estimator):
    """The defaults chosen on bench/probe_defaults.py; plans written before
    n_networks and cross_fit existed mean one network, no folds."""
    params = Estimator().get_params()
    assert (params["n_networks"], params["cross_fit"]) == (4, "auto")
    assert (params["epochs"], params["n_cycles"], params["t_mult"]) == (128, 7, 2.0)
    assert params["member_weights"] == "auto"
    plan = FitPlan.from_json(old_plan_record())
    assert (plan.n_networks, plan.cross_fit, plan.epoch_rows) == (1, False, 40)
    record = {**plan.to_json(), "n_networks": 41, "cross_fit": True}
    with pytest.raises(ValueError, match="a row in every network's fold"):
        FitPlan.from_json(record)


# -- cross-fitting --------------------------------------------------------------


def test_cross_fit_folds_are_stratified_and_balanced():
    groups = np.array([0] * 10 + [1] * 7 + [2] * 3)
    folds = cross_fit_folds(4, seed=3, groups=groups)
    assert np.bincount(folds).tolist() == [5, 5, 5, 5]
    for group in range(3):
        counts = np.bincount(folds[groups == group], minlength=4)
        assert counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(folds, cross_fit_folds(4, seed=3, groups=groups))
    assert not np.array_equal(folds, cross_fit_folds(4, seed=4, groups=groups))


def test_an_epoch_never_visits_a_network_s_own_fold():
    """The compiled loop's data order: network k's batches hold no row of fold
    k, and every epoch visits as many rows as the largest fold leaves."""
    from skl_snapshot._training import _epoch_loop

    n_samples, n_networks, batch_size = 23, 3, 4
    folds = cross_fit_folds(n_networks, seed=0, n_samples=n_samples)
    excluded = tf.constant(
        np.equal.outer(np.arange(n_networks), folds).astype(np.float32)
    )

    def run(batch_loss):
        return _epoch_loop(
            (n_samples, batch_size, excluded),
            tf.constant(0, tf.int64),
            tf.constant(5, tf.int64),
            tf.constant(7, tf.int64),
            batch_loss,
            n_networks=n_networks,
        ).numpy()

    def own_fold_rows(indices, _):
        return tf.stack(
            [tf.reduce_sum(tf.gather(excluded[k], indices[k])) for k in range(3)]
        )

    def rows(indices, _):
        return tf.cast(tf.fill([n_networks], tf.shape(indices)[1]), tf.float32)

    np.testing.assert_array_equal(run(own_fold_rows), 0.0)
    epoch_rows = n_samples - int(np.ceil(n_samples / n_networks))
    np.testing.assert_array_equal(run(rows), 5 * epoch_rows)


def test_cross_fitted_snapshots_are_evaluated_out_of_fold(task):
    """Each snapshot's held-out loss is on its network's fold; the voting
    weights are one per cycle, shared by its networks, and sum to one."""
    make, (X, y, X_test, _) = task
    estimator = make(n_networks=3).fit(X, y)
    plan = estimator._fits[-1]
    assert plan.cross_fit and plan.epoch_rows == len(X) - 40
    np.testing.assert_array_equal(
        estimator.snapshot_iterations_,
        np.repeat([1, 2, 3], 3) * 4 * int(np.ceil(80 / 16)),
    )
    groups = estimator._fold_groups(y)
    folds = cross_fit_folds(3, plan.seed, groups=groups, n_samples=len(X))
    rows = estimator._validate_features(X)
    for index in (0, 4, 8):
        (vote,) = estimator._snapshot_votes(rows, [index])
        fold = folds == index % 3
        if is_classifier(estimator):
            expected = log_loss(y[fold], vote[fold], labels=estimator.classes_)
        else:
            scale = estimator.y_scale_
            target = (y[fold] - estimator.y_mean_) / scale
            expected = np.mean(((vote[fold, 0] - target) * scale) ** 2)
        np.testing.assert_allclose(
            estimator.snapshot_validation_loss_[index], expected, rtol=1e-5
        )
    weights = estimator.voting_weights_.reshape(3, 3)
    np.testing.assert_allclose(weights, weights[:, :1].repeat(3, axis=1))
    # with the linear member's share (tests/test_linear_member.py)
    np.testing.assert_allclose(weights.sum() + (estimator.linear_weight_ or 0), 1.0)
    # member_weights="auto" votes with them
    uniform = clone(estimator).set_params(member_weights="uniform").fit(X, y)
    assert not np.allclose(output(estimator, X_test), output(uniform, X_test))


def test_cross_fitting_needs_several_networks(task):
    make, (X, y, _, _) = task
    with pytest.raises(ValueError, match="cross_fit=True .* n_networks >= 2"):
        make(n_networks=1, cross_fit=True).fit(X, y)
    with pytest.raises(ValueError, match="no validation_fraction"):
        make(n_networks=2, cross_fit=True, validation_fraction=0.2).fit(X, y)
    # every network's fold must hold a row, or it has no out-of-fold predictions
    with pytest.raises(ValueError, match="one training row per network.*3 rows"):
        make(n_networks=4, cross_fit=True).fit(X[:3], y[:3])
    # auto: no folds for one network, or with a validation split
    for params in ({"n_networks": 1}, {"n_networks": 2, "validation_fraction": 0.2}):
        estimator = make(**params).fit(X, y)
        assert not estimator._fits[-1].cross_fit
    # one network and no held-out rows: nothing to fit voting weights on
    assert make(n_networks=1).fit(X, y).voting_weights_ is None
    with pytest.raises(ValueError, match="held-out rows.*n_networks=4"):
        make(n_networks=1, member_weights="fitted").fit(X, y)


def test_warm_start_keeps_cross_fitting_as_it_was(task):
    make, (X, y, _, _) = task
    estimator = make(n_networks=2, warm_start=True).fit(X, y)
    estimator.set_params(cross_fit=False)
    with pytest.raises(ValueError, match="cross-fitting must stay"):
        estimator.fit(X, y)
    estimator.set_params(cross_fit="auto").fit(X, y)
    assert estimator.n_snapshots_ == 12


def test_t_mult_grows_the_cycles(task):
    make, (X, y, _, _) = task
    estimator = make(epochs=15, n_cycles=4, t_mult=2.0).fit(X, y)
    assert list(estimator._fits[-1].cycle_epochs) == [1, 2, 3, 9]
    np.testing.assert_array_equal(estimator.snapshot_epochs_, [1, 3, 6, 15])
    # fast geometric ensembling keeps its own cycles: one long, then short ones
    fge = make(method="fge", epochs=15, n_cycles=4, t_mult=2.0).fit(X, y)
    assert list(fge._fits[-1].cycle_epochs) == [9, 2, 2, 2]


def test_snapshots_without_weight_vote_equally_in_staged_predictions(task):
    """Fitted weights often give the newest cycle nothing: the staged means of
    the newest snapshots alone must then be their plain mean, as the prediction
    with that many members is, never 0 / 0."""
    make, (X, y, X_test, _) = task
    estimator = make(n_networks=2).fit(X, y)
    weights = np.array([0.5, 0.5, 0.0, 0.0, 0.0, 0.0])  # cycles 1, 2, 3
    estimator.voting_weights_ = weights
    staged = list(staged_output(estimator, X_test))
    assert all(np.isfinite(stage).all() for stage in staged)
    for k in (1, 2, 5, 6):
        estimator.set_params(n_members=k)
        np.testing.assert_array_equal(staged[k - 1], output(estimator, X_test))
    estimator.set_params(n_members=None)
    scores = estimator.snapshot_scores(X_test, _)
    assert np.isfinite(scores[next(iter(k for k in scores if "ensemble" in k))]).all()
