"""Behaviour of SnapshotEnsembleClassifier: labels, voting, errors, integration."""

import subprocess
import sys

import keras
import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags
from sklearn.utils._param_validation import InvalidParameterError

from skl_snapshot import SnapshotEnsembleClassifier

from .conftest import fast_classifier


def small_network(meta, units=8, compile_kwargs=None):
    """A scikeras-style builder: reads the data's shape from ``meta``."""
    return keras.Sequential(
        [
            keras.Input((meta["n_features_in_"],)),
            keras.layers.Dense(units, activation="tanh"),
            keras.layers.Dense(meta["n_classes_"], activation="softmax"),
        ]
    )


def test_is_a_classifier_under_current_tags():
    clf = SnapshotEnsembleClassifier()
    assert is_classifier(clf)
    assert get_tags(clf).estimator_type == "classifier"


def test_fit_takes_one_snapshot_per_cycle(fitted, blobs):
    _, _, X_test, y_test = blobs
    assert fitted.n_snapshots_ == 3
    assert len(fitted.snapshot_weights_) == 3
    np.testing.assert_array_equal(fitted.snapshot_epochs_, [4, 8, 12])
    assert fitted.loss_history_.shape == (3,)
    assert fitted.n_iter_ == 12
    # distinct snapshots: training moved the weights between cycles
    first, last = fitted.snapshot_weights_[0], fitted.snapshot_weights_[-1]
    assert not all(np.array_equal(a, b) for a, b in zip(first, last, strict=True))
    assert fitted.score(X_test, y_test) > 0.9


def test_snapshots_are_copies_not_views(fitted, blobs):
    X, y, X_test, _ = blobs
    before = [w.copy() for w in fitted.snapshot_weights_[0]]
    fitted.predict_proba(X_test)  # loads other members into the live network
    for kept, original in zip(fitted.snapshot_weights_[0], before, strict=True):
        np.testing.assert_array_equal(kept, original)


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["setosa", "versicolor", "virginica"]),
        np.array([-1, 1]),
        np.array([3, 7]),
        np.array([10.0, 20.0, 30.0, 40.0]),
    ],
    ids=["strings", "minus-plus-one", "binary-ints", "four-float-classes"],
)
def test_predict_returns_original_labels(labels, rng):
    X = rng.normal(size=(90, 3))
    codes = np.arange(90) % len(labels)
    X[:, 0] += 5 * codes
    X = StandardScaler().fit_transform(X)
    y = labels[codes]
    clf = fast_classifier().fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    predicted = clf.predict(X)
    assert predicted.dtype == y.dtype
    assert set(predicted) <= set(labels)
    proba = clf.predict_proba(X)
    assert proba.shape == (90, len(labels))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(predicted, clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, y) > 0.8


def _member_proba(clf, index, X):
    X = clf._validate_features(X)
    return next(clf._snapshot_votes(X, [index]))


def test_soft_voting_averages_the_chosen_members(fitted, blobs):
    _, _, X_test, _ = blobs
    members = [_member_proba(fitted, i, X_test) for i in range(3)]
    np.testing.assert_allclose(fitted.predict_proba(X_test), np.mean(members, axis=0))
    fitted.set_params(n_members=1)
    np.testing.assert_allclose(fitted.predict_proba(X_test), members[2])
    fitted.set_params(n_members=2, member_order="oldest")
    np.testing.assert_allclose(
        fitted.predict_proba(X_test), np.mean(members[:2], axis=0)
    )
    fitted.set_params(n_members=2, member_order="newest")
    np.testing.assert_allclose(
        fitted.predict_proba(X_test), np.mean(members[1:], axis=0)
    )
    assert fitted._member_indices() == [2, 1]


def test_set_params_changes_predictions_without_refitting(fitted, blobs):
    _, _, X_test, _ = blobs
    weights_before = fitted.snapshot_weights_
    all_members = fitted.predict_proba(X_test)
    oldest = fitted.set_params(n_members=1, member_order="oldest").predict_proba(X_test)
    assert fitted.snapshot_weights_ is weights_before
    assert not np.allclose(all_members, oldest)


# -- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"n_cycles": 0}, InvalidParameterError, "n_cycles.*Got 0"),
        ({"epochs": 0}, InvalidParameterError, "epochs.*Got 0"),
        ({"lr_max": 0.0}, InvalidParameterError, "lr_max.*Got 0.0"),
        ({"lr_max": -1.0}, InvalidParameterError, "lr_max.*Got -1.0"),
        ({"lr_max": float("inf")}, InvalidParameterError, "lr_max.*Got inf"),
        ({"lr_min": 0.5, "lr_max": 0.1}, ValueError, "lr_min=0.5 with lr_max=0.1"),
        ({"momentum": 1.0}, InvalidParameterError, "momentum.*Got 1.0"),
        ({"batch_size": 0}, InvalidParameterError, "batch_size.*Got 0"),
        ({"member_order": "random"}, InvalidParameterError, "member_order.*random"),
        ({"n_members": 0}, InvalidParameterError, "n_members.*Got 0"),
        (
            {"n_members": 12, "n_cycles": 10, "epochs": 20},
            ValueError,
            r"n_members must be <= n_cycles\. Got n_members=12 with n_cycles=10",
        ),
        (
            {"epochs": 4, "n_cycles": 5},
            ValueError,
            r"epochs must be >= n_cycles.*epochs=4 with n_cycles=5",
        ),
        ({"hidden_layer_sizes": (8, 0)}, ValueError, r"hidden_layer_sizes.*\(8, 0\)"),
        ({"model": "mlp"}, InvalidParameterError, "model.*mlp"),
        (
            {"optimizer__learning_rate": 0.1},
            ValueError,
            "optimizer__learning_rate.*lr_max",
        ),
        ({"optimizer__momentum": 0.5}, ValueError, "optimizer__momentum.*momentum"),
        ({"fit__epochs": 3}, TypeError, "fit__epochs is not supported"),
        (
            {"fit__class_weight": {0: 2.0}},
            TypeError,
            "fit__class_weight is not supported.*Supported: fit__callbacks",
        ),
        (
            {"optimizer__nestrov": True},
            TypeError,
            "optimizer__nestrov is not an argument of keras.optimizers.SGD.*nesterov",
        ),
        ({"compile__foo": 3}, ValueError, "routing prefix 'compile'"),
        ({"units": 3}, TypeError, "does not accept the parameter units=3"),
    ],
)
def test_bad_parameters_are_named_in_the_error(params, error, match, blobs):
    X, y, _, _ = blobs
    with pytest.raises(error, match=match):
        fast_classifier(**params).fit(X, y)


@pytest.mark.parametrize(
    "X_change, match",
    [
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X), "NaN"),
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 5, np.inf, X), "inf"),
        (lambda X: X[:0], "0 sample"),
        (lambda X: X[:, :, None], "dim 3"),
    ],
    ids=["nan", "inf", "empty", "3d"],
)
def test_bad_training_data_is_rejected(X_change, match, blobs):
    X, y, _, _ = blobs
    with pytest.raises(ValueError, match=match):
        fast_classifier().fit(X_change(X), y[: len(X_change(X))])


def test_single_class_is_rejected(blobs):
    X, y, _, _ = blobs
    with pytest.raises(ValueError, match="at least 2 classes.*only one class: 'a'"):
        fast_classifier().fit(X, np.full(len(X), "a"))


def test_continuous_target_is_rejected(blobs):
    X, _, _, _ = blobs
    with pytest.raises(ValueError, match="Unknown label type"):
        fast_classifier().fit(X, np.linspace(0, 1, len(X)))


def test_predict_before_fit_raises_not_fitted(blobs):
    X, _, _, _ = blobs
    for method in ("predict", "predict_proba"):
        with pytest.raises(NotFittedError):
            getattr(SnapshotEnsembleClassifier(), method)(X)


def test_prediction_input_is_validated(fitted, blobs):
    _, _, X_test, _ = blobs
    with pytest.raises(ValueError, match="X has 3 features.*expecting 4"):
        fitted.predict(X_test[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        fitted.predict(np.full_like(X_test, np.nan))
    with pytest.raises(ValueError, match="0 sample"):
        fitted.predict(X_test[:0])


def test_prediction_parameters_are_validated_at_prediction(fitted, blobs):
    _, _, X_test, _ = blobs
    fitted.set_params(n_members=4)
    with pytest.raises(ValueError, match="n_members=4 with n_snapshots_=3"):
        fitted.predict(X_test)
    fitted.set_params(n_members=None, member_order="middle")
    with pytest.raises(InvalidParameterError, match="member_order.*middle"):
        fitted.predict_proba(X_test)


def test_divergence_is_reported_with_the_rate(rng):
    X = rng.normal(scale=1e4, size=(60, 3))
    y = np.arange(60) % 2
    clf = fast_classifier(lr_max=1e6)
    with pytest.raises(ValueError, match=r"diverged.*lr_max=1000000\.0"):
        clf.fit(X, y)


# -- sample weights -----------------------------------------------------------------


def test_zero_weight_rows_are_dropped(blobs):
    X, y, X_test, _ = blobs
    noise = np.random.default_rng(1).normal(size=(40, X.shape[1]))
    X_noisy = np.vstack([X, noise])
    y_noisy = np.concatenate([y, np.zeros(40, dtype=y.dtype)])
    weight = np.r_[np.ones(len(X)), np.zeros(40)]
    weighted = fast_classifier().fit(X_noisy, y_noisy, sample_weight=weight)
    plain = fast_classifier().fit(X, y)
    np.testing.assert_allclose(
        weighted.predict_proba(X_test), plain.predict_proba(X_test), rtol=1e-5
    )


def test_bad_sample_weights_are_rejected(blobs):
    X, y, _, _ = blobs
    with pytest.raises(ValueError, match="at least one non-zero"):
        fast_classifier().fit(X, y, sample_weight=np.zeros(len(X)))
    with pytest.raises(ValueError, match="[Nn]egative"):
        fast_classifier().fit(X, y, sample_weight=-np.ones(len(X)))


def test_sample_weights_change_the_fit(blobs):
    X, y, X_test, _ = blobs
    weight = np.where(y == 0, 10.0, 1.0)
    weighted = fast_classifier().fit(X, y, sample_weight=weight)
    plain = fast_classifier().fit(X, y)
    assert not np.allclose(weighted.predict_proba(X_test), plain.predict_proba(X_test))


# -- custom networks and routing ------------------------------------------------------


def test_builder_receives_meta_and_routed_parameters(blobs):
    X, y, X_test, y_test = blobs
    clf = fast_classifier(model=small_network, model__units=5).fit(X, y)
    kernel = clf.snapshot_weights_[0][0]
    assert kernel.shape == (X.shape[1], 5)
    assert clf.score(X_test, y_test) > 0.8
    assert clf.get_params()["model__units"] == 5


def test_unprefixed_extra_arguments_go_to_the_builder(blobs):
    X, y, _, _ = blobs
    clf = fast_classifier(model=small_network, units=6).fit(X, y)
    assert clf.snapshot_weights_[0][0].shape == (X.shape[1], 6)


def test_routed_parameters_can_be_set_later_and_cloned(blobs):
    X, y, _, _ = blobs
    clf = fast_classifier(model=small_network).set_params(model__units=3)
    cloned = clone(clf)
    assert cloned.get_params()["model__units"] == 3
    assert "model__units=3" in repr(cloned)
    cloned.fit(X, y)
    assert cloned.snapshot_weights_[0][0].shape == (X.shape[1], 3)


def test_optimizer_parameters_reach_sgd(blobs):
    X, y, X_test, _ = blobs
    plain = fast_classifier().fit(X, y)
    nesterov = fast_classifier(optimizer__nesterov=True).fit(X, y)
    assert nesterov._predictor.network.optimizer.nesterov
    assert not np.allclose(plain.predict_proba(X_test), nesterov.predict_proba(X_test))


def test_fit_callbacks_see_one_epoch_per_cycle(blobs):
    X, y, _, _ = blobs
    seen = []
    callback = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(epoch)
    )
    fast_classifier(fit__callbacks=[callback]).fit(X, y)
    assert seen == [0, 1, 2]


def test_prebuilt_model_is_cloned_not_trained_in_place(blobs):
    X, y, X_test, y_test = blobs
    template = small_network({"n_features_in_": X.shape[1], "n_classes_": 3})
    before = [w.copy() for w in template.get_weights()]
    clf = fast_classifier(model=template).fit(X, y)
    for weight, original in zip(template.get_weights(), before, strict=True):
        np.testing.assert_array_equal(weight, original)
    assert clf.score(X_test, y_test) > 0.8


def sigmoid_network(meta):
    return keras.Sequential(
        [
            keras.Input((meta["n_features_in_"],)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )


def test_single_sigmoid_unit_for_binary_targets(rng):
    X = rng.normal(size=(80, 2))
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    clf = fast_classifier(model=sigmoid_network).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (80, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.score(X, y) > 0.85


def test_categorical_crossentropy_gets_one_hot_targets(blobs):
    X, y, X_test, y_test = blobs
    clf = fast_classifier(model=small_network, loss="categorical_crossentropy")
    clf.fit(X, y)
    assert clf.score(X_test, y_test) > 0.8


def test_compiled_builder_keeps_its_loss(blobs):
    X, y, X_test, y_test = blobs

    def compiled_network(meta, compile_kwargs):
        network = small_network(meta)
        network.compile(optimizer="adam", loss="categorical_crossentropy")
        return network

    clf = fast_classifier(model=compiled_network).fit(X, y)
    network = clf._predictor.network
    assert isinstance(network.optimizer, keras.optimizers.SGD)
    assert clf.score(X_test, y_test) > 0.8


def test_network_with_wrong_output_width_is_rejected(blobs):
    X, y, _, _ = blobs

    def two_outputs(meta):
        return keras.Sequential(
            [
                keras.Input((meta["n_features_in_"],)),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )

    with pytest.raises(ValueError, match="one unit per class \\(3 here\\).*2 output"):
        fast_classifier(model=two_outputs).fit(X, y)


class TwoLayerNetwork(keras.Model):
    """A subclassed network: no symbolic inputs or outputs until it is called."""

    def __init__(self, n_classes):
        super().__init__()
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(n_classes, activation="softmax")

    def call(self, inputs):
        return self.out(self.hidden(inputs))


def test_subclassed_network(blobs):
    X, y, X_test, y_test = blobs
    clf = fast_classifier(model=lambda meta: TwoLayerNetwork(meta["n_classes_"]))
    clf.fit(X, y)
    assert clf.score(X_test, y_test) > 0.8
    assert clf.predict_proba(X_test[:5]).shape == (5, 3)


def test_repeated_fits_do_not_warn_about_retracing(blobs, caplog):
    X, y, X_test, _ = blobs
    for seed in range(7):
        fast_classifier(random_state=seed).fit(X, y).predict_proba(X_test)
    assert "retracing" not in caplog.text


def test_builder_must_return_a_keras_model(blobs):
    X, y, _, _ = blobs
    with pytest.raises(TypeError, match="must return a keras.Model. Got str"):
        fast_classifier(model=lambda meta: "network").fit(X, y)


# -- scikit-learn integration ---------------------------------------------------------


def test_pipeline_grid_search_and_cross_validation(blobs):
    X, y, X_test, y_test = blobs
    pipeline = make_pipeline(StandardScaler(), fast_classifier(epochs=8, n_cycles=2))
    search = GridSearchCV(
        pipeline,
        param_grid={
            "snapshotensembleclassifier__n_cycles": [2, 4],
            "snapshotensembleclassifier__n_members": [1, 2],
        },
        cv=2,
    ).fit(X, y)
    assert search.cv_results_["mean_test_score"].shape == (4,)
    assert (
        search.best_estimator_[-1].n_snapshots_
        == search.best_params_["snapshotensembleclassifier__n_cycles"]
    )
    assert search.score(X_test, y_test) > 0.8

    scores = cross_val_score(pipeline, X, y, cv=StratifiedKFold(3))
    assert scores.shape == (3,) and scores.min() > 0.8


def test_clone_is_unfitted_and_equal(fitted):
    cloned = clone(fitted)
    assert cloned.get_params() == fitted.get_params()
    assert not hasattr(cloned, "snapshot_weights_")


def test_dataframe_feature_names(blobs):
    pd = pytest.importorskip("pandas")
    X, y, X_test, _ = blobs
    columns = [f"feature {i}" for i in range(X.shape[1])]
    clf = fast_classifier().fit(pd.DataFrame(X, columns=columns), y)
    np.testing.assert_array_equal(clf.feature_names_in_, columns)
    clf.predict(pd.DataFrame(X_test, columns=columns))
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X_test)


def test_verbose_prints_one_line_per_cycle_then_the_snapshots(blobs, capsys):
    X, y, _, _ = blobs
    fast_classifier(verbose=1).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    # three cycles, a heading, three snapshots and the mean disagreement
    assert len(lines) == 8
    assert lines[0].startswith("cycle 1/3: epoch 4/12, loss ")
    assert lines[4].startswith("  snapshot 1: train loss ")
    assert lines[-1].startswith("  mean pairwise disagreement ")
    # the snapshots whose restart shrank and perturbed the weights say so
    marked = [
        line.endswith(", after a shrink-and-perturb restart") for line in lines[4:7]
    ]
    assert marked == [False, False, True]
    fast_classifier(verbose=0).fit(X, y)
    assert capsys.readouterr().out == ""


def test_import_leaves_keras_unpatched():
    script = (
        "import keras\n"
        "before = keras.Model.__reduce__\n"
        "import skl_snapshot\n"
        "skl_snapshot.SnapshotEnsembleClassifier\n"
        "assert keras.Model.__reduce__ is before, keras.Model.__reduce__\n"
        "assert '__deepcopy__' not in vars(keras.Model)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": ""},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear", "elu"])
def test_numpy_ensemble_forward_matches_the_keras_network(activation, blobs):
    X, y, X_test, _ = blobs
    clf = fast_classifier(hidden_layer_sizes=(12, 7), activation=activation).fit(X, y)
    predictor = clf._get_predictor()
    X32 = X_test.astype(np.float32)
    by_keras = []
    for index in range(clf.n_snapshots_):
        clf._load_member(predictor.network, index)
        by_keras.append(clf._vote(predictor.predict(X32)))
    np.testing.assert_allclose(
        clf.predict_proba(X_test), np.mean(by_keras, axis=0), rtol=1e-5, atol=1e-7
    )
    assert (clf._numpy_forward() is None) == (activation == "elu")


@pytest.mark.parametrize("member_order", ["newest", "oldest"])
def test_staged_predict_is_the_argmax_of_staged_predict_proba(
    fitted4, blobs, member_order
):
    _, _, X_test, _ = blobs
    fitted4.set_params(member_order=member_order)
    staged = list(fitted4.staged_predict_proba(X_test))
    labels = list(fitted4.staged_predict(X_test))
    assert len(labels) == len(staged) == 4
    for proba, predicted in zip(staged, labels, strict=True):
        np.testing.assert_array_equal(predicted, fitted4.classes_[proba.argmax(1)])
