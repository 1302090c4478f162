"""Behaviour only SnapshotEnsembleRegressor has: targets, spread, members,
integration.

What the two estimators share (parameters, errors, schedules, directories, round
trips) is tested over both in test_estimators.py and the files by concern; the
regressor's display in test_plotting.py. This file holds what only a regressor
does.
"""

import json
import pickle
import warnings

import keras
import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skl_snapshot import SnapshotEnsembleRegressor

from .conftest import fast_regressor


def _members(regressor, X):
    """Each voting snapshot's own prediction, in ``member_order``, recovered from
    the running means of ``staged_predict`` under uniform voting."""
    params = regressor.get_params()
    regressor.set_params(member_weights="uniform")
    staged = np.stack(list(regressor.staged_predict(X)))
    regressor.set_params(member_weights=params["member_weights"])
    sizes = np.arange(1, len(staged) + 1).reshape(-1, *[1] * (staged.ndim - 1))
    sums = staged * sizes
    return np.concatenate([sums[:1], np.diff(sums, axis=0)])


def _own_prediction(regressor, index, X):
    """One snapshot's forward pass, mapped back to the units of y."""
    vote = next(regressor._snapshot_votes(regressor._validate_features(X), [index]))
    return regressor._target_encoder.inverse_transform(vote)


# -- targets and their shapes ---------------------------------------------------


@pytest.mark.parametrize(
    "columns, expected_shape, n_outputs",
    [(None, (60,), 1), (2, (60, 2), 2)],
    ids=["1-D", "two-columns"],
)
def test_predict_has_the_shape_of_y(linear, columns, expected_shape, n_outputs):
    X, y, X_test, _ = linear
    if columns is not None:
        y = np.column_stack([y, -0.5 * y + 10])
    regressor = fast_regressor().fit(X, y)
    assert regressor.n_outputs_ == n_outputs
    assert regressor.y_mean_.shape == regressor.y_scale_.shape == (n_outputs,)
    mean, std = regressor.predict(X_test, return_std=True)
    assert regressor.predict(X_test).shape == mean.shape == std.shape == expected_shape
    assert len(regressor.snapshot_weights_[0][-1]) == n_outputs  # output bias


def test_column_vector_y_is_handled_as_mlp_regressor_does(linear):
    X, y, X_test, _ = linear
    column = y.reshape(-1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(DataConversionWarning, match="column-vector y"):
            mlp = MLPRegressor(max_iter=5, random_state=0).fit(X, column)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        regressor = fast_regressor().fit(X, column)
    assert mlp.predict(X_test).shape == (60,)
    assert regressor.predict(X_test).shape == mlp.predict(X_test).shape
    assert regressor.n_outputs_ == 1
    # the same network as a fit on the 1-D target
    np.testing.assert_allclose(
        regressor.predict(X_test), fast_regressor().fit(X, y).predict(X_test)
    )


def test_normalize_y_makes_the_fit_independent_of_the_target_scale(linear):
    X, y, X_test, y_test = linear
    default_rate = SnapshotEnsembleRegressor().lr_max
    plain = fast_regressor(lr_max=default_rate).fit(X, y)
    huge = fast_regressor(lr_max=default_rate).fit(X, 1000 * y + 5000)
    assert huge.normalize_y
    np.testing.assert_allclose(plain.y_mean_, [y.mean()])
    np.testing.assert_allclose(plain.y_scale_, [y.std()])
    np.testing.assert_allclose(huge.y_mean_, [1000 * y.mean() + 5000])
    np.testing.assert_allclose(huge.y_scale_, [1000 * y.std()])
    # both train the same network on the same standardised target
    np.testing.assert_allclose(
        (huge.predict(X_test) - 5000) / 1000,
        plain.predict(X_test),
        rtol=1e-4,
        atol=1e-4 * y.std(),
    )
    np.testing.assert_allclose(
        huge.predict(X_test), 1000 * plain.predict(X_test) + 5000, rtol=1e-4
    )
    _, plain_std = plain.predict(X_test, return_std=True)
    _, huge_std = huge.predict(X_test, return_std=True)
    np.testing.assert_allclose(huge_std / 1000, plain_std, rtol=1e-4, atol=1e-4)
    assert huge.score(X_test, 1000 * y_test + 5000) > 0.9


def test_without_normalize_y_the_target_is_used_as_given(linear):
    X, y, X_test, _ = linear
    standardised = (y - y.mean()) / y.std()
    as_given = fast_regressor(normalize_y=False).fit(X, standardised)
    np.testing.assert_array_equal(as_given.y_mean_, [0.0])
    np.testing.assert_array_equal(as_given.y_scale_, [1.0])
    # training on the standardised target by hand is what normalize_y does
    normalized = fast_regressor().fit(X, y)
    np.testing.assert_allclose(
        as_given.predict(X_test) * y.std() + y.mean(),
        normalized.predict(X_test),
        rtol=1e-4,
        atol=1e-4 * y.std(),
    )
    # a target in the thousands, untransformed, blows the squared error up
    with pytest.raises(ValueError, match=r"diverged.*lr_max=0\.1"):
        fast_regressor(normalize_y=False, clipnorm=None).fit(X, 1000 * y + 5000)


# -- the spread of the members ---------------------------------------------------


def test_return_std_is_the_spread_of_the_voting_members(fitted_regressor, linear):
    _, _, X_test, _ = linear
    mean, std = fitted_regressor.predict(X_test, return_std=True)
    np.testing.assert_array_equal(mean, fitted_regressor.predict(X_test))
    assert std.shape == mean.shape
    members = _members(fitted_regressor, X_test)
    assert members.shape == (3, 60)
    np.testing.assert_allclose(mean, members.mean(axis=0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(std, members.std(axis=0), rtol=1e-5, atol=1e-6)
    # each member's own forward pass, not recovered from staged_predict
    alone = [_own_prediction(fitted_regressor, index, X_test) for index in range(3)]
    np.testing.assert_allclose(std, np.std(alone, axis=0), rtol=1e-6, atol=1e-9)
    # distinct snapshots disagree somewhere on every row
    assert (std > 0).all()
    # only the voting members count
    fitted_regressor.set_params(n_members=2)
    _, newest_two = fitted_regressor.predict(X_test, return_std=True)
    np.testing.assert_allclose(
        newest_two, members[:2].std(axis=0), rtol=1e-5, atol=1e-6
    )


def test_return_std_of_two_target_columns(linear):
    X, y, X_test, _ = linear
    regressor = fast_regressor().fit(X, np.column_stack([y, y**2 / 100]))
    mean, std = regressor.predict(X_test, return_std=True)
    members = _members(regressor, X_test)
    assert members.shape == (3, 60, 2)
    np.testing.assert_allclose(mean, members.mean(axis=0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(std, members.std(axis=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_members": 1}, r"at least two of them\. Got n_members=1"),
        ({"method": "swa"}, "fitted with method='swa'"),
    ],
    ids=["one-member", "swa"],
)
def test_return_std_needs_several_voting_networks(linear, params, match):
    X, y, X_test, _ = linear
    regressor = fast_regressor(**params).fit(X, y)
    predicted = regressor.predict(X_test)
    assert predicted.shape == (60,)
    with pytest.raises(ValueError, match=match):
        regressor.predict(X_test, return_std=True)


# -- held-out rows: ranking and weighting the members ----------------------------


def test_fitted_member_weights_minimise_the_held_out_error(linear):
    X, y, X_test, _ = linear
    # the snapshots' weights alone: on this linear target the linear member
    # (tests/test_linear_member.py) would take them all
    regressor = fast_regressor(
        validation_fraction=0.25,
        member_weights="fitted",
        member_order="oldest",
        linear_member=False,
    ).fit(X, y)
    weights = regressor.voting_weights_
    assert weights.shape == (3,)
    assert weights.min() >= 0
    assert weights.sum() == pytest.approx(1.0)
    members = _members(regressor, X_test)
    mean, std = regressor.predict(X_test, return_std=True)
    np.testing.assert_allclose(mean, weights @ members, rtol=1e-6, atol=1e-6)
    spread = np.sqrt(weights @ (members - mean) ** 2)
    np.testing.assert_allclose(std, spread, rtol=1e-5, atol=1e-6)


def test_member_order_best_follows_the_held_out_mse(linear):
    X, y, X_test, y_test = linear
    regressor = fast_regressor(
        validation_fraction=0.25, member_order="best", linear_member=False
    )
    regressor.fit(X, y)
    losses = regressor.snapshot_validation_loss_
    assert losses.shape == (3,) and (losses > 0).all()
    scores = regressor.snapshot_scores(X_test, y_test)
    np.testing.assert_array_equal(scores.snapshot, np.argsort(losses, kind="stable"))
    best = regressor.set_params(n_members=1).predict(X_test)
    regressor.set_params(n_members=None, member_order="oldest")
    alone = _members(regressor, X_test)[int(np.argmin(losses))]
    np.testing.assert_allclose(best, alone, rtol=1e-6, atol=1e-6)


def test_staged_and_scored_ensembles_use_the_fitted_weights(linear):
    X, y, X_test, y_test = linear
    regressor = fast_regressor(
        validation_fraction=0.25, member_weights="fitted", member_order="best"
    ).fit(X, y)
    staged = list(regressor.staged_predict(X_test))
    np.testing.assert_array_equal(staged[-1], regressor.predict(X_test))
    scores = regressor.snapshot_scores(X_test, y_test)
    assert scores.ensemble_r2[-1] == pytest.approx(regressor.score(X_test, y_test))
    uniform = regressor.set_params(member_weights="uniform").predict(X_test)
    assert not np.allclose(staged[-1], uniform)


def test_snapshot_losses_are_in_units_of_y(linear):
    X, y, _, _ = linear
    regressor = fast_regressor().fit(X, 1000 * y)
    members = _members(regressor.set_params(member_order="oldest"), X)
    expected = [mean_squared_error(1000 * y, member) for member in members]
    np.testing.assert_allclose(regressor.snapshot_train_loss_, expected, rtol=1e-4)
    assert regressor.snapshot_validation_loss_ is None
    disagreement = regressor.snapshot_disagreement_
    assert disagreement.shape == (3, 3)
    np.testing.assert_array_equal(np.diag(disagreement), 0)
    # root-mean-square difference in units of the target's standard deviation
    rms = np.sqrt(np.mean((members[0] - members[2]) ** 2)) / (1000 * y.std())
    assert disagreement[0, 2] == pytest.approx(rms, rel=1e-4)


# -- staged evaluation -----------------------------------------------------------


def test_snapshot_scores_report_r2_and_mse(fitted_regressor, linear):
    _, _, X_test, y_test = linear
    scores = fitted_regressor.snapshot_scores(X_test, y_test)
    for name in ("single_r2", "single_mse", "ensemble_r2", "ensemble_mse"):
        assert len(scores[name]) == fitted_regressor.n_snapshots_ == 3
    assert "single_accuracy" not in scores
    predicted = fitted_regressor.predict(X_test)
    assert scores.ensemble_r2[-1] == pytest.approx(
        fitted_regressor.score(X_test, y_test)
    )
    assert scores.ensemble_mse[-1] == pytest.approx(
        mean_squared_error(y_test, predicted)
    )
    members = _members(fitted_regressor, X_test)
    np.testing.assert_allclose(
        scores.single_r2, [r2_score(y_test, member) for member in members], rtol=1e-6
    )
    np.testing.assert_allclose(
        scores.single_mse,
        [mean_squared_error(y_test, member) for member in members],
        rtol=1e-6,
    )


# -- bad targets and networks ----------------------------------------------------


def _with_one_value(value):
    def change(y):
        y = y.astype(float)
        y[5] = value
        return y

    return change


@pytest.mark.parametrize(
    "y_change, match",
    [
        (_with_one_value(np.nan), "Input y contains NaN"),
        (_with_one_value(np.inf), "Input y contains infinity"),
        (lambda y: np.array([f"{value:.1f}" for value in y]), r"y must be numeric"),
        (lambda y: np.array(["a"] * len(y)), r"y must be numeric"),
        (lambda y: y.reshape(-1, 1, 1), r"y must be 1-D.*3 dimensions"),
    ],
    ids=["nan", "inf", "numeric-strings", "letters", "3d"],
)
def test_bad_targets_are_rejected(linear, y_change, match):
    X, y, _, _ = linear
    regressor = fast_regressor()
    with pytest.raises(ValueError, match=match):
        regressor.fit(X, y_change(y))
    assert not hasattr(regressor, "snapshot_weights_")


def _recording_builder(seen, units=None):
    def build(meta):
        seen.append(dict(meta))
        return keras.Sequential(
            [
                keras.Input((meta["n_features_in_"],)),
                keras.layers.Dense(8, activation="tanh"),
                keras.layers.Dense(units or meta["n_outputs_"]),
            ]
        )

    return build


def test_builder_receives_the_number_of_outputs(linear):
    X, y, X_test, _ = linear
    seen = []
    regressor = fast_regressor(model=_recording_builder(seen))
    regressor.fit(X, np.column_stack([y, 2 * y]))
    assert seen and seen[0]["n_outputs_"] == 2
    assert seen[0]["n_features_in_"] == 4
    assert "n_classes_" not in seen[0]
    assert regressor.predict(X_test).shape == (60, 2)


@pytest.mark.parametrize("n_columns", [1, 2])
def test_network_with_wrong_output_width_is_rejected(linear, n_columns):
    X, y, _, _ = linear
    regressor = fast_regressor(model=_recording_builder([], units=3))
    target = y if n_columns == 1 else np.column_stack([y, 2 * y])
    with pytest.raises(
        ValueError,
        match=rf"one unit per column of y \({n_columns} here\)\. Got a network"
        r" with 3 output units",
    ):
        regressor.fit(X, target)


# -- scikit-learn integration ----------------------------------------------------


def test_transformed_target_regressor(linear):
    X, y, X_test, y_test = linear
    positive = np.expm1(y / y.std() + 3)
    wrapped = TransformedTargetRegressor(
        regressor=fast_regressor(), func=np.log1p, inverse_func=np.expm1
    ).fit(X, positive)
    predicted = wrapped.predict(X_test)
    assert predicted.shape == (60,)
    assert (predicted > 0).all()
    log_predicted = np.log1p(predicted)
    assert r2_score(y_test / y.std() + 3, log_predicted) > 0.8


def test_cross_validation_and_grid_search_in_a_pipeline(linear):
    X, y, X_test, y_test = linear
    scores = cross_val_score(fast_regressor(), X, y, cv=KFold(3))
    assert scores.shape == (3,)
    assert np.isfinite(scores).all() and scores.min() > 0.5

    pipeline = make_pipeline(StandardScaler(), fast_regressor())
    search = GridSearchCV(
        pipeline, {"snapshotensembleregressor__n_members": [1, 3]}, cv=2
    ).fit(X, y)
    assert search.cv_results_["mean_test_score"].shape == (2,)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.score(X_test, y_test) > 0.7


def test_pickle_round_trip_keeps_the_spread_and_the_target_scaling(
    fitted_regressor, linear
):
    _, _, X_test, _ = linear
    mean, std = fitted_regressor.predict(X_test, return_std=True)
    loaded = pickle.loads(pickle.dumps(fitted_regressor))
    loaded_mean, loaded_std = loaded.predict(X_test, return_std=True)
    np.testing.assert_array_equal(loaded_mean, mean)
    np.testing.assert_array_equal(loaded_std, std)
    np.testing.assert_array_equal(loaded.y_mean_, fitted_regressor.y_mean_)
    np.testing.assert_array_equal(loaded.y_scale_, fitted_regressor.y_scale_)
    assert loaded.n_outputs_ == 1


# -- snapshot directories --------------------------------------------------------


@pytest.mark.parametrize("in_memory", [True, False])
def test_from_snapshot_dir_keeps_the_spread_and_the_target_scaling(
    linear, tmp_path, in_memory
):
    X, y, X_test, _ = linear
    regressor = fast_regressor(snapshot_dir=tmp_path).fit(X, 1000 * y + 5000)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["task"] == "regression"
    assert manifest["classes"] is None
    np.testing.assert_array_equal(manifest["target"]["mean"], regressor.y_mean_)
    np.testing.assert_array_equal(manifest["target"]["scale"], regressor.y_scale_)
    loaded = SnapshotEnsembleRegressor.from_snapshot_dir(tmp_path, in_memory=in_memory)
    for got, expected in zip(
        loaded.predict(X_test, return_std=True),
        regressor.predict(X_test, return_std=True),
        strict=True,
    ):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(loaded.y_mean_, regressor.y_mean_)
    np.testing.assert_array_equal(loaded.y_scale_, regressor.y_scale_)
    assert loaded.n_outputs_ == 1
    assert not hasattr(loaded, "classes_")


def test_from_snapshot_dir_keeps_two_target_columns(linear, tmp_path):
    X, y, X_test, _ = linear
    regressor = fast_regressor(snapshot_dir=tmp_path)
    regressor.fit(X, np.column_stack([y, -y]))
    loaded = SnapshotEnsembleRegressor.from_snapshot_dir(tmp_path)
    assert loaded.predict(X_test).shape == (60, 2)
    np.testing.assert_array_equal(loaded.predict(X_test), regressor.predict(X_test))
