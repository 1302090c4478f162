"""The linear member: LogisticRegression / Ridge, weighted on the held-out rows."""

import json
import pickle

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss

from skl_snapshot import SnapshotEnsembleClassifier, SnapshotEnsembleRegressor
from skl_snapshot._persistence import SnapshotDirectoryError

from .conftest import (
    fast_classifier,
    fast_regressor,
    noisy_linear_classes,
    output,
    staged_output,
)


@pytest.fixture(params=["binary", "multiclass", "regressor"])
def voting(request, linear):
    """A fitted estimator whose linear member votes, and its data."""
    if request.param == "regressor":
        X, y, X_test, y_test = linear
        estimator = fast_regressor(n_networks=2, lr_max=0.05).fit(X, y)
    else:
        X, y, X_test, y_test = noisy_linear_classes(
            2 if request.param == "binary" else 3
        )
        estimator = fast_classifier(n_networks=2).fit(X, y)
    assert 0 < estimator.linear_weight_ <= 1
    return estimator, X, y, X_test, y_test


def test_the_linear_member_is_the_linear_model_fitted_on_every_row(voting):
    estimator, X, y, X_test, _ = voting
    kernel, bias = estimator.linear_member_
    X32 = X.astype(np.float32)
    if isinstance(estimator, SnapshotEnsembleClassifier):
        model = LogisticRegression(max_iter=200).fit(X32, y)
        logits = X_test.astype(np.float32) @ kernel + bias
        proba = np.exp(logits - logits.max(axis=1, keepdims=True))
        proba /= proba.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(proba, model.predict_proba(X_test), atol=1e-5)
    else:
        targets = estimator._target_encoder.transform(y)
        model = Ridge().fit(X32, targets)
        np.testing.assert_allclose(
            X_test.astype(np.float32) @ kernel + bias,
            model.predict(X_test.astype(np.float32)).reshape(len(X_test), -1),
            rtol=1e-4,
            atol=1e-4,
        )


def test_the_voting_weights_with_the_linear_member_sum_to_one(voting):
    estimator = voting[0]
    total = estimator.voting_weights_.sum() + estimator.linear_weight_
    assert total == pytest.approx(1.0, abs=1e-6)


def test_predictions_mix_the_linear_member_as_the_weights_say(voting):
    estimator, _, _, X_test, _ = voting
    mixed = estimator._mean_vote(X_test)
    estimator.set_params(member_weights="uniform")
    uniform = estimator._mean_vote(X_test)
    estimator.set_params(member_weights="fitted")
    X32 = X_test.astype(np.float32)
    votes = np.stack(
        list(estimator._snapshot_votes(X32, range(estimator.n_snapshots_)))
    )
    share = estimator.voting_weights_.sum()
    # all the weight on the linear member (the linear regression target): the
    # snapshots' own mean does not count
    weighted = np.tensordot(estimator.voting_weights_, votes, axes=1)
    snapshots = weighted / share if share > 0 else np.zeros_like(weighted)
    kernel, bias = estimator.linear_member_
    linear = X32 @ kernel + bias
    if isinstance(estimator, SnapshotEnsembleClassifier):
        linear = np.exp(linear - linear.max(axis=1, keepdims=True))
        linear /= linear.sum(axis=1, keepdims=True)
    weight = estimator.linear_weight_
    expected = (share * snapshots + weight * linear) / (share + weight)
    np.testing.assert_allclose(mixed, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(mixed, uniform)


def test_staged_and_scored_predictions_include_the_linear_member(voting):
    estimator, _, y, X_test, y_test = voting
    staged = list(staged_output(estimator, X_test))
    np.testing.assert_array_equal(staged[-1], output(estimator, X_test))
    for k in (1, 2):
        estimator.set_params(n_members=k)
        np.testing.assert_array_equal(staged[k - 1], output(estimator, X_test))
    estimator.set_params(n_members=None)
    scores = estimator.snapshot_scores(X_test, y_test)
    if isinstance(estimator, SnapshotEnsembleClassifier):
        assert scores.ensemble_log_loss[-1] == pytest.approx(
            log_loss(y_test, output(estimator, X_test), labels=estimator.classes_)
        )
    else:
        mse = np.mean((output(estimator, X_test) - y_test) ** 2)
        assert scores.ensemble_mse[-1] == pytest.approx(mse)


def test_the_linear_member_survives_pickling_and_directories(voting, tmp_path):
    estimator, X, y, X_test, _ = voting
    loaded = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(output(loaded, X_test), output(estimator, X_test))
    saved = type(estimator)(
        **{**estimator.get_params(), "snapshot_dir": tmp_path / "r"}
    )
    saved.fit(X, y)
    from_dir = type(estimator).from_snapshot_dir(tmp_path / "r")
    assert from_dir.linear_weight_ == pytest.approx(saved.linear_weight_)
    np.testing.assert_allclose(
        output(from_dir, X_test), output(saved, X_test), rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda member: member.update(weight=2.0), "weight outside"),
        (lambda member: member["bias"].__setitem__(0, float("nan")), "non-finite"),
        (lambda member: member["kernel"].pop(), "shape"),
        (lambda member: member.pop("kernel"), "cannot be read"),
    ],
)
def test_a_tampered_linear_member_is_refused(tmp_path, change, match):
    X, y, _, _ = noisy_linear_classes(3)
    fast_classifier(n_networks=2, snapshot_dir=tmp_path / "r").fit(X, y)
    manifest_path = tmp_path / "r" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    change(manifest["evaluation"]["linear_member"])
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(SnapshotDirectoryError, match=match):
        SnapshotEnsembleClassifier.from_snapshot_dir(tmp_path / "r")


def test_there_is_no_linear_member_without_held_out_rows_or_when_off(task):
    alone = task.make(n_networks=1).fit(task.X, task.y)
    assert alone.linear_member_ is None and alone.linear_weight_ is None
    off = task.make(n_networks=2, linear_member=False).fit(task.X, task.y)
    assert off.linear_member_ is None
    swa = task.make(n_networks=2, method="swa").fit(task.X, task.y)
    assert swa.linear_member_ is None


def test_the_linear_member_does_not_change_the_networks(task):
    on = task.make(n_networks=2).fit(task.X, task.y)
    off = task.make(n_networks=2, linear_member=False).fit(task.X, task.y)
    for first, second in zip(on.snapshot_weights_, off.snapshot_weights_, strict=True):
        for a, b in zip(first, second, strict=True):
            np.testing.assert_array_equal(a, b)
    # without it the snapshots' weights alone sum to one
    assert off.voting_weights_.sum() == pytest.approx(1.0)


def test_a_fold_missing_a_class_leaves_the_linear_member_out():
    # class 2 has one row: some fold's complement... every fold but one holds it,
    # so the fold that holds it is fitted without class 2
    X, y, _, _ = noisy_linear_classes(2)
    y = y.copy()
    y[0] = 2
    classifier = fast_classifier(n_networks=2).fit(X, y)
    assert classifier.linear_member_ is None


def test_the_linear_member_is_a_parameter_of_both_estimators():
    for Estimator in (SnapshotEnsembleClassifier, SnapshotEnsembleRegressor):
        assert Estimator().get_params()["linear_member"] is True
        with pytest.raises(ValueError, match="linear_member"):
            Estimator(linear_member="yes").fit([[0.0], [1.0]] * 4, [0, 1] * 4)


def test_return_std_mixes_and_spreads_with_the_linear_member(linear):
    X, y, X_test, _ = linear
    regressor = fast_regressor(n_networks=2, lr_max=0.05).fit(X, y)
    assert regressor.linear_weight_ > 0
    mean, std = regressor.predict(X_test, return_std=True)
    np.testing.assert_allclose(mean, regressor.predict(X_test), rtol=1e-6, atol=1e-6)
    X32 = X_test.astype(np.float32)
    votes = list(regressor._snapshot_votes(X32, range(regressor.n_snapshots_)))
    kernel, bias = regressor.linear_member_
    votes.append(X32 @ kernel + bias)
    weights = np.append(regressor.voting_weights_, regressor.linear_weight_)
    centre = regressor._target_encoder.transform(mean.reshape(-1, 1))
    spread = np.sqrt(
        sum(w * (v - centre) ** 2 for w, v in zip(weights, votes, strict=True))
        / weights.sum()
    )
    np.testing.assert_allclose(
        std, (spread * regressor.y_scale_).ravel(), rtol=1e-4, atol=1e-6
    )
