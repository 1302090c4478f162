"""Behaviour only SnapshotEnsembleClassifier has: labels, probabilities, soft
voting, classification networks and losses.

What both estimators share is tested over both in test_estimators.py and the
files by concern (test_snapshot_dir.py, test_staged.py, test_methods.py, ...).
"""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ._builders import small_network
from .conftest import fast_classifier


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


# -- errors -------------------------------------------------------------------------


def test_single_class_is_rejected(blobs):
    X, y, _, _ = blobs
    with pytest.raises(ValueError, match="at least 2 classes.*only one class: 'a'"):
        fast_classifier().fit(X, np.full(len(X), "a"))


def test_continuous_target_is_rejected(blobs):
    X, _, _, _ = blobs
    with pytest.raises(ValueError, match="Unknown label type"):
        fast_classifier().fit(X, np.linspace(0, 1, len(X)))


# -- custom networks and routing ------------------------------------------------------


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


# -- staged evaluation, methods and snapshot directories ------------------------------


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


@pytest.mark.parametrize("method", ["fge", "swa"])
def test_fge_and_swa_predict_probabilities_and_their_argmax(blobs, method):
    X, y, X_test, _ = blobs
    clf = fast_classifier(method=method, lr_min=0.001).fit(X, y)
    proba = clf.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(
        clf.predict(X_test), clf.classes_[proba.argmax(axis=1)]
    )


def test_manifest_records_the_classes(blobs, tmp_path):
    X, y, _, _ = blobs
    labels = np.array(["ant", "bee", "cat"])[y]
    clf = fast_classifier(snapshot_dir=tmp_path).fit(X, labels)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["classes"]["values"] == clf.classes_.tolist()
    assert manifest["classes"]["values"] == ["ant", "bee", "cat"]
    assert "target" not in manifest


def test_warm_start_rejects_new_classes(blobs):
    X, y, _, _ = blobs
    clf = fast_classifier(warm_start=True).fit(X[y < 2], y[y < 2])
    with pytest.raises(ValueError, match=r"new classes in y: \[2\]"):
        clf.fit(X, y)


def _imbalanced():
    X, y = make_blobs_imbalanced()
    return X, np.where(y == 0, "major", np.where(y == 1, "minor", "rare"))


def make_blobs_imbalanced():
    from sklearn.datasets import make_blobs

    X, y = make_blobs(
        n_samples=[60, 25, 10], n_features=2, cluster_std=2.5, random_state=0
    )
    return X.astype(np.float32), y


def test_class_weight_balanced_is_sample_weight_from_scikit_learn():
    from sklearn.utils.class_weight import compute_sample_weight

    X, y = _imbalanced()
    balanced = fast_classifier(class_weight="balanced").fit(X, y)
    by_hand = fast_classifier().fit(
        X, y, sample_weight=compute_sample_weight("balanced", y)
    )
    np.testing.assert_allclose(balanced.predict_proba(X), by_hand.predict_proba(X))
    plain = fast_classifier().fit(X, y)
    assert not np.allclose(balanced.predict_proba(X), plain.predict_proba(X))
    assert balanced.get_params()["class_weight"] == "balanced"


def test_class_weight_dict_multiplies_sample_weight():
    X, y = _imbalanced()
    weights = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y))
    class_weight = {"major": 1.0, "minor": 2.0, "rare": 4.0}
    combined = fast_classifier(class_weight=class_weight).fit(
        X, y, sample_weight=weights
    )
    by_hand = fast_classifier().fit(
        X, y, sample_weight=weights * np.vectorize(class_weight.get)(y)
    )
    np.testing.assert_allclose(combined.predict_proba(X), by_hand.predict_proba(X))


@pytest.mark.parametrize(
    ("class_weight", "error", "match"),
    [
        ("uniform", ValueError, "class_weight"),
        (3.0, ValueError, "class_weight"),
        # scikit-learn refuses a label y does not have
        ({"major": 1.0, "unknown": 2.0}, ValueError, "are not in class_weight"),
    ],
)
def test_class_weight_errors(class_weight, error, match):
    X, y = _imbalanced()
    with pytest.raises(error, match=match):
        fast_classifier(class_weight=class_weight).fit(X, y)
