"""SnapshotEnsembleRegressor: targets, spread, snapshot directories, refusals."""

import pickle

import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection import cross_val_score

from skl_snapshot import SnapshotEnsembleClassifier, SnapshotEnsembleRegressor
from skl_snapshot._persistence import SnapshotDirectoryError

from .conftest import fast_classifier, fast_regressor


@pytest.fixture
def linear():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 4)).astype(np.float32)
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1 * rng.standard_normal(120)
    return X, y


def test_predictions_follow_the_shape_of_y(linear):
    X, y = linear
    assert fast_regressor().fit(X, y).predict(X).shape == (120,)
    two = fast_regressor().fit(X, np.column_stack([y, -y]))
    assert two.n_outputs_ == 2
    assert two.predict(X).shape == (120, 2)


def test_unscaled_targets_train_like_scaled_ones(linear):
    X, y = linear
    scaled = fast_regressor().fit(X, y)
    unscaled = fast_regressor().fit(X, 1000 * y + 5000)
    np.testing.assert_allclose(unscaled.y_mean_, 1000 * scaled.y_mean_ + 5000)
    np.testing.assert_allclose(
        unscaled.predict(X), 1000 * scaled.predict(X) + 5000, rtol=1e-4
    )
    assert unscaled.score(X, 1000 * y + 5000) > 0.9
    raw = fast_regressor(normalize_y=False).fit(X, y)
    assert raw.y_mean_.tolist() == [0.0] and raw.y_scale_.tolist() == [1.0]


def test_return_std_is_the_spread_of_the_voting_members(linear):
    X, y = linear
    reg = fast_regressor().fit(X, y)
    mean, std = reg.predict(X, return_std=True)
    np.testing.assert_array_equal(mean, reg.predict(X))
    members = []
    for index in range(reg.n_snapshots_):
        vote = next(reg._snapshot_votes(reg._validate_features(X), [index]))
        members.append(reg._target_encoder.inverse_transform(vote))
    np.testing.assert_allclose(std, np.std(members, axis=0), rtol=1e-6, atol=1e-9)
    assert (std > 0).all()


@pytest.mark.parametrize(
    "params, match",
    [({"n_members": 1}, "at least two"), ({"method": "swa"}, "method='swa'")],
)
def test_return_std_refuses_a_single_voting_network(params, match, linear):
    X, y = linear
    reg = fast_regressor(**params).fit(X, y)
    reg.predict(X)
    with pytest.raises(ValueError, match=match):
        reg.predict(X, return_std=True)


@pytest.mark.parametrize(
    "y_change, match",
    [
        (lambda y: np.where(np.arange(len(y)) == 3, np.nan, y), "y contains NaN"),
        (lambda y: np.where(np.arange(len(y)) == 3, np.inf, y), "y contains inf"),
        (lambda y: np.array(["a"] * len(y)), "y must be numeric"),
        (lambda y: y.reshape(-1, 1, 1), "y must be 1-D .* 3 dimensions"),
    ],
)
def test_bad_targets_are_named(y_change, match, linear):
    X, y = linear
    with pytest.raises(ValueError, match=match):
        fast_regressor().fit(X, y_change(y))


def test_network_width_must_match_the_target_columns(linear):
    import keras

    X, y = linear

    def three_outputs(meta):
        assert meta["n_outputs_"] == 1
        return keras.Sequential(
            [keras.Input(shape=(meta["n_features_in_"],)), keras.layers.Dense(3)]
        )

    with pytest.raises(ValueError, match="one unit per column of y"):
        fast_regressor(model=three_outputs).fit(X, y)


def test_held_out_weights_and_order(linear):
    X, y = linear
    reg = fast_regressor(
        validation_fraction=0.25, member_weights="fitted", member_order="best"
    ).fit(X, y)
    assert reg.voting_weights_.min() >= 0
    assert reg.voting_weights_.sum() == pytest.approx(1.0)
    assert reg._ordered_snapshots() == list(
        np.argsort(reg.snapshot_validation_loss_, kind="stable")
    )
    scores = reg.snapshot_scores(X, y)
    assert scores.ensemble_r2[-1] == pytest.approx(reg.score(X, y))
    assert set(scores) >= {"single_r2", "single_mse", "ensemble_r2", "ensemble_mse"}
    np.testing.assert_array_equal(list(reg.staged_predict(X))[-1], reg.predict(X))


def test_pickle_and_snapshot_dir_round_trips(linear, tmp_path):
    X, y = linear
    reg = fast_regressor(snapshot_dir=tmp_path / "reg").fit(X, y)
    again = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))
    loaded = SnapshotEnsembleRegressor.from_snapshot_dir(tmp_path / "reg")
    for a, b in zip(
        loaded.predict(X, return_std=True), reg.predict(X, return_std=True), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(SnapshotDirectoryError, match="manifest.json.*regression"):
        SnapshotEnsembleClassifier.from_snapshot_dir(tmp_path / "reg")
    fast_classifier(snapshot_dir=tmp_path / "clf").fit(X, y > 0)
    with pytest.raises(SnapshotDirectoryError, match="manifest.json.*classification"):
        SnapshotEnsembleRegressor.from_snapshot_dir(tmp_path / "clf")


def test_scikit_learn_composition(linear):
    X, y = linear
    wrapped = TransformedTargetRegressor(
        regressor=fast_regressor(), func=np.log1p, inverse_func=np.expm1
    ).fit(X, np.abs(y))
    assert wrapped.predict(X).shape == (120,)
    assert np.isfinite(cross_val_score(fast_regressor(), X, y, cv=2)).all()


@pytest.mark.parametrize("metric", ["r2", "rmse", None])
def test_ensemble_size_display_draws_regression_scores(metric, linear):
    import matplotlib

    matplotlib.use("Agg")
    from skl_snapshot import EnsembleSizeDisplay

    X, y = linear
    reg = fast_regressor().fit(X, y)
    display = EnsembleSizeDisplay.from_estimator(reg, X, y, metric=metric)
    scores = reg.snapshot_scores(X, y)
    expected = scores.ensemble_r2 if metric != "rmse" else np.sqrt(scores.ensemble_mse)
    np.testing.assert_allclose(display.ensemble_scores, expected)
    with pytest.raises(ValueError, match="for SnapshotEnsembleRegressor"):
        EnsembleSizeDisplay.from_estimator(reg, X, y, metric="accuracy")
