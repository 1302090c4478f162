"""Held-out rows, member ranking and weighting, and the snapshots' diversity."""

import json

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.metrics import log_loss

from skl_snapshot import SnapshotEnsembleClassifier
from skl_snapshot._members import (
    MemberEvaluation,
    disagreement_matrix,
    fit_voting_weights,
    split_validation,
)

from .conftest import fast_classifier


def _held_out_classifier(**params):
    return fast_classifier(validation_fraction=0.25, n_cycles=4, **params)


@pytest.fixture
def held_out_fitted(blobs):
    X, y, _, _ = blobs
    return _held_out_classifier().fit(X, y)


# -- the pieces ------------------------------------------------------------------


def test_voting_weights_minimise_the_log_loss_of_the_mixture(rng):
    true_class = rng.uniform(0.05, 1.0, size=(4, 300))
    true_class[1] *= 0.2  # a poor member
    weights = fit_voting_weights(true_class)
    assert weights.min() >= 0
    assert weights.sum() == pytest.approx(1.0)

    def loss(logits):
        mixture = np.exp(logits) / np.exp(logits).sum()
        return -np.mean(np.log(mixture @ true_class))

    reference = minimize(loss, np.zeros(4), method="BFGS").fun
    ours = -np.mean(np.log(weights @ true_class))
    assert ours <= reference + 1e-6
    assert ours <= -np.mean(np.log(np.full(4, 0.25) @ true_class))
    assert weights[1] < 0.05


def test_voting_weights_follow_sample_weights():
    true_class = np.array([[0.9, 0.1], [0.1, 0.9]])
    assert fit_voting_weights(true_class, sample_weight=[1.0, 0.0])[0] > 0.99
    assert fit_voting_weights(true_class, sample_weight=[0.0, 1.0])[1] > 0.99


def test_disagreement_matrix():
    predictions = [np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2]), np.array([0] * 4)]
    np.testing.assert_allclose(
        disagreement_matrix(predictions),
        [[0, 0.25, 0.75], [0.25, 0, 0.75], [0.75, 0.75, 0]],
    )


def test_member_evaluation_losses_match_sklearn(rng):
    probas = rng.dirichlet(np.ones(3), size=(2, 50))
    y = rng.integers(0, 3, size=50)
    weight = rng.uniform(0.5, 2, size=50)
    evaluation = MemberEvaluation(y, weight)
    for proba in probas:
        evaluation.add(proba)
    expected = [log_loss(y, p, labels=[0, 1, 2], sample_weight=weight) for p in probas]
    np.testing.assert_allclose(evaluation.losses(), expected)


def test_split_validation_is_stratified_and_disjoint(rng):
    X = np.arange(200, dtype=float).reshape(100, 2)
    y = np.repeat([0, 1, 2, 3], 25)
    weight = rng.uniform(size=100)
    (X_train, y_train, w_train), (X_val, y_val, w_val) = split_validation(
        X, y, weight, 0.2, seed=0
    )
    assert len(y_val) == 20
    assert np.bincount(y_val).tolist() == [5, 5, 5, 5]
    assert not set(X_train[:, 0]) & set(X_val[:, 0])
    # weights travel with their rows
    np.testing.assert_array_equal(w_val, weight[(X_val[:, 0] / 2).astype(int)])


def test_split_validation_error_names_the_parameter():
    X = np.zeros((5, 2))
    y = np.array([0, 0, 0, 0, 1])
    with pytest.raises(ValueError, match="validation_fraction=0.2"):
        split_validation(X, y, None, 0.2, seed=0)


# -- the estimator ---------------------------------------------------------------


def test_diversity_attributes_without_held_out_rows(fitted, blobs):
    X, y, _, _ = blobs
    n = fitted.n_snapshots_
    assert fitted.snapshot_validation_loss_ is None
    assert fitted.voting_weights_ is None
    assert fitted.snapshot_train_loss_.shape == (n,)
    # the oldest snapshot alone, on the training rows
    oldest = fitted.set_params(n_members=1, member_order="oldest").predict_proba(X)
    fitted.set_params(n_members=None, member_order="newest")
    assert fitted.snapshot_train_loss_[0] == pytest.approx(log_loss(y, oldest))
    disagreement = fitted.snapshot_disagreement_
    assert disagreement.shape == (n, n)
    np.testing.assert_array_equal(disagreement, disagreement.T)
    np.testing.assert_array_equal(np.diag(disagreement), 0)
    assert ((disagreement >= 0) & (disagreement <= 1)).all()


def test_held_out_rows_are_never_trained_on(blobs):
    X, y, _, _ = blobs
    estimator = _held_out_classifier().fit(X, y)
    # 25% of 120 rows held out: 90 training rows in mini-batches of 16
    assert estimator.t_ == estimator.n_iter_ * 6
    assert estimator.snapshot_validation_loss_.shape == (estimator.n_snapshots_,)
    weights = estimator.voting_weights_
    assert weights.min() >= 0
    assert weights.sum() == pytest.approx(1.0)


def test_member_order_best_ranks_by_held_out_loss(held_out_fitted, blobs):
    _, _, X_test, _ = blobs
    estimator = held_out_fitted.set_params(member_order="best", n_members=1)
    best = int(np.argmin(estimator.snapshot_validation_loss_))
    scores = estimator.snapshot_scores(X_test, np.zeros(len(X_test), int))
    assert scores.snapshot[0] == best
    assert (np.diff(estimator.snapshot_validation_loss_[scores.snapshot]) >= 0).all()
    staged = list(estimator.staged_predict_proba(X_test))
    np.testing.assert_array_equal(estimator.predict_proba(X_test), staged[0])


def test_fitted_weights_predict_the_weighted_mean(held_out_fitted, blobs):
    _, _, X_test, _ = blobs
    estimator = held_out_fitted
    probas = np.stack(
        list(estimator._snapshot_votes(estimator._validate_features(X_test), range(4)))
    )
    weights = estimator.voting_weights_
    estimator.set_params(member_order="oldest", member_weights="fitted")
    expected = np.tensordot(weights, probas, axes=1) / weights.sum()
    np.testing.assert_allclose(estimator.predict_proba(X_test), expected, rtol=1e-12)
    staged = list(estimator.staged_predict_proba(X_test))
    # the k-th staged result is exactly predict_proba with n_members=k
    for k in (1, 2, 4):
        estimator.set_params(n_members=k)
        np.testing.assert_array_equal(estimator.predict_proba(X_test), staged[k - 1])


def test_fitted_weights_through_keras_members(blobs):
    # a callable activation has no NumPy forward pass: members go through Keras
    import keras

    X, y, X_test, _ = blobs
    estimator = _held_out_classifier(
        activation=keras.activations.tanh, member_weights="fitted"
    ).fit(X, y)
    staged = list(estimator.staged_predict_proba(X_test))
    np.testing.assert_allclose(estimator.predict_proba(X_test), staged[-1])
    np.testing.assert_allclose(estimator.predict_proba(X_test).sum(axis=1), 1)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"member_order": "best"}, "member_order='best'"),
        ({"member_weights": "fitted"}, "member_weights='fitted'"),
    ],
)
def test_held_out_choices_need_validation_fraction(blobs, params, message):
    X, y, X_test, _ = blobs
    with pytest.raises(ValueError, match=f"{message}.*validation_fraction=None"):
        fast_classifier(**params).fit(X, y)
    fitted = fast_classifier().fit(X, y).set_params(**params)
    with pytest.raises(ValueError, match=f"{message}.*validation_fraction=None"):
        fitted.predict_proba(X_test)


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1, "0.1"])
def test_validation_fraction_must_be_a_share(blobs, fraction):
    X, y, _, _ = blobs
    with pytest.raises(ValueError, match="validation_fraction"):
        fast_classifier(validation_fraction=fraction).fit(X, y)


def test_unknown_member_weights_is_refused(fitted, blobs):
    _, _, X_test, _ = blobs
    with pytest.raises(ValueError, match="member_weights"):
        fitted.set_params(member_weights="learned").predict(X_test)


def test_verbose_reports_the_diversity(blobs, capsys):
    X, y, _, _ = blobs
    _held_out_classifier(verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "held-out loss" in out
    assert "disagreement" in out
    assert "mean pairwise disagreement" in out


def test_evaluation_survives_the_snapshot_directory(tmp_path, blobs):
    X, y, X_test, _ = blobs
    estimator = _held_out_classifier(
        snapshot_dir=tmp_path / "run", member_weights="fitted", member_order="best"
    ).fit(X, y)
    loaded = SnapshotEnsembleClassifier.from_snapshot_dir(tmp_path / "run")
    for name in (
        "snapshot_train_loss_",
        "snapshot_validation_loss_",
        "snapshot_disagreement_",
        "voting_weights_",
    ):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(estimator, name))
    assert loaded.validation_fraction == 0.25
    np.testing.assert_array_equal(
        loaded.predict_proba(X_test), estimator.predict_proba(X_test)
    )


@pytest.mark.parametrize(
    "evaluation",
    [
        {"train_loss": [0.1, 0.2]},
        {"disagreement": [[0.0]]},
        {"voting_weights": ["a", "b", "c", "d"]},
    ],
)
def test_a_malformed_evaluation_in_a_directory_is_refused(tmp_path, blobs, evaluation):
    X, y, _, _ = blobs
    _held_out_classifier(snapshot_dir=tmp_path / "run").fit(X, y)
    manifest_path = tmp_path / "run" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["evaluation"].update(evaluation)
    manifest_path.write_text(json.dumps(manifest))
    (key,) = evaluation
    with pytest.raises(
        ValueError, match=f"manifest.json records an evaluation '{key}'"
    ):
        SnapshotEnsembleClassifier.from_snapshot_dir(tmp_path / "run")
