"""Pickle, joblib and fresh-process round trips, and reproducible fits.

The tests that take the ``task`` fixture run for both estimators. A round trip
must reproduce ``predict_proba`` (a regressor's ``predict``) exactly; the pickle
holds NumPy weights, not a Keras network, and the network is rebuilt on first use.
"""

import os
import pickle
import random
import subprocess
import sys
from pathlib import Path

import joblib
import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.base import clone

from skl_snapshot._network import MemberPredictor

from ._builders import small_net, small_network
from .conftest import fast_classifier, output

REPO_ROOT = Path(__file__).resolve().parents[1]
LABEL_NAMES = np.array(["ant", "bee", "cat"])


def _template_network():
    return keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


# Each case: how to make the estimator, and whether y is given as strings.
CASES = {
    "default_mlp": (fast_classifier, False),
    "string_labels": (fast_classifier, True),
    "builder_function": (
        lambda: fast_classifier(model=small_net, model__units=8),
        False,
    ),
    # the builder must be importable by a new process, and string labels must
    # come back from it as strings
    "builder_string_labels": (
        lambda: fast_classifier(model=small_net, model__units=8),
        True,
    ),
    "keras_model": (lambda: fast_classifier(model=_template_network()), False),
}


def _fit_case(case, X, y):
    make_estimator, string_labels = CASES[case]
    return make_estimator().fit(X, LABEL_NAMES[y] if string_labels else y)


def _pickle_round_trip(estimator, tmp_path):
    return pickle.loads(pickle.dumps(estimator))


def _joblib_round_trip(estimator, tmp_path):
    path = tmp_path / "estimator.joblib"
    joblib.dump(estimator, path)
    return joblib.load(path)


ROUND_TRIPS = [
    pytest.param(_pickle_round_trip, id="pickle"),
    pytest.param(_joblib_round_trip, id="joblib"),
]


@pytest.mark.parametrize("round_trip", ROUND_TRIPS)
def test_round_trip_reproduces_the_output_exactly(
    task, task_fitted, tmp_path, round_trip
):
    expected = output(task_fitted, task.X_test)
    predicted = task_fitted.predict(task.X_test)

    loaded = round_trip(task_fitted, tmp_path)

    assert type(loaded) is task.Estimator
    np.testing.assert_array_equal(output(loaded, task.X_test), expected)
    np.testing.assert_array_equal(loaded.predict(task.X_test), predicted)
    # the original still predicts the same after being pickled
    np.testing.assert_array_equal(output(task_fitted, task.X_test), expected)


@pytest.mark.parametrize("round_trip", ROUND_TRIPS)
@pytest.mark.parametrize("case", ["string_labels", "builder_function", "keras_model"])
def test_round_trip_reproduces_predictions_exactly(blobs, tmp_path, case, round_trip):
    X, y, X_test, _ = blobs
    estimator = _fit_case(case, X, y)
    proba = estimator.predict_proba(X_test)
    labels = estimator.predict(X_test)

    loaded = round_trip(estimator, tmp_path)

    assert type(loaded) is type(estimator)
    np.testing.assert_array_equal(loaded.predict_proba(X_test), proba)
    np.testing.assert_array_equal(loaded.predict(X_test), labels)
    np.testing.assert_array_equal(loaded.classes_, estimator.classes_)
    if CASES[case][1]:
        assert set(labels) <= set(LABEL_NAMES)
    # the original still predicts the same after being pickled
    np.testing.assert_array_equal(estimator.predict_proba(X_test), proba)


# Objects that hold Keras or TensorFlow state; none may travel in the pickle.
_LIVE_TYPES = (
    keras.Model,
    keras.layers.Layer,
    keras.optimizers.Optimizer,
    keras.Variable,
    tf.Variable,
    tf.Tensor,
    MemberPredictor,
)


def _live_objects(value, path):
    """Paths of the Keras or TensorFlow objects in ``value``, searched recursively."""
    if isinstance(value, _LIVE_TYPES):
        return [path]
    if isinstance(value, dict):
        return [
            found
            for key, item in value.items()
            for found in _live_objects(item, f"{path}[{key!r}]")
        ]
    if isinstance(value, list | tuple):
        return [
            found
            for index, item in enumerate(value)
            for found in _live_objects(item, f"{path}[{index}]")
        ]
    return []


@pytest.mark.parametrize("case", ["built_in", "keras_model"])
def test_pickle_holds_numpy_weights_not_a_network(task, case):
    model = small_network(task.meta) if case == "keras_model" else None
    estimator = task.make(model=model).fit(task.X, task.y)
    output(estimator, task.X_test)  # a live network now exists

    loaded = pickle.loads(pickle.dumps(estimator))

    state = {name: value for name, value in vars(loaded).items() if name != "model"}
    assert _live_objects(state, "vars(estimator)") == []
    if case == "keras_model":
        assert isinstance(loaded.model, keras.Model)
    else:
        assert loaded.model is None
    weights = loaded.snapshot_weights_
    assert isinstance(weights, list)
    assert len(weights) == loaded.n_snapshots_ == 3
    for snapshot, original in zip(weights, estimator.snapshot_weights_, strict=True):
        assert isinstance(snapshot, list)
        assert all(type(array) is np.ndarray for array in snapshot)
        for array, original_array in zip(snapshot, original, strict=True):
            np.testing.assert_array_equal(array, original_array)


@pytest.mark.parametrize(
    "dump",
    [
        pytest.param(lambda estimator, path: pickle.dumps(estimator), id="pickle"),
        pytest.param(joblib.dump, id="joblib"),
    ],
)
def test_pickling_leaves_the_estimator_unchanged(task, task_fitted, tmp_path, dump):
    fitted, X_test = task_fitted, task.X_test
    proba = output(fitted, X_test)
    before = dict(vars(fitted))

    dump(fitted, tmp_path / "estimator.joblib")

    # Pickling is a read: it must neither drop nor replace fitted state, such
    # as the live predictor, of the estimator being pickled.
    removed = sorted(set(before) - set(vars(fitted)))
    assert removed == [], f"pickling removed {removed} from the pickled estimator"
    replaced = [name for name in before if vars(fitted)[name] is not before[name]]
    assert replaced == [], f"pickling replaced {replaced} in the pickled estimator"
    np.testing.assert_array_equal(output(fitted, X_test), proba)


_LOAD_AND_PREDICT = """
import sys

import joblib
import numpy as np

estimator = joblib.load(sys.argv[1])
X = np.load(sys.argv[2])
np.save(sys.argv[3], estimator.predict_proba(X))
np.save(sys.argv[4], estimator.predict(X))
"""


@pytest.mark.parametrize("case", ["default_mlp", "builder_string_labels"])
def test_round_trip_into_a_fresh_process(blobs, tmp_path, case):
    X, y, X_test, _ = blobs
    estimator = _fit_case(case, X, y)
    proba = estimator.predict_proba(X_test)
    labels = estimator.predict(X_test)

    paths = {
        name: tmp_path / file_name
        for name, file_name in [
            ("estimator", "estimator.joblib"),
            ("X", "X_test.npy"),
            ("proba", "proba.npy"),
            ("labels", "labels.npy"),
        ]
    }
    joblib.dump(estimator, paths["estimator"])
    np.save(paths["X"], X_test)
    python_path = os.pathsep.join(
        filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": python_path}
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_AND_PREDICT, *map(str, paths.values())],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    np.testing.assert_array_equal(np.load(paths["proba"]), proba)
    np.testing.assert_array_equal(np.load(paths["labels"]), labels)


def test_set_params_n_members_after_unpickling(task, task_fitted):
    fitted, X_test = task_fitted, task.X_test
    all_members = output(fitted, X_test)
    loaded = pickle.loads(pickle.dumps(fitted))
    t_before = loaded.t_
    weights_before = [list(snapshot) for snapshot in loaded.snapshot_weights_]

    newest = output(loaded.set_params(n_members=1), X_test)
    oldest = output(loaded.set_params(member_order="oldest"), X_test)
    two_oldest = output(loaded.set_params(n_members=2), X_test)
    everyone = output(loaded.set_params(n_members=None, member_order="newest"), X_test)

    assert not np.allclose(newest, all_members)
    assert not np.allclose(oldest, newest)
    assert not np.allclose(two_oldest, oldest)
    np.testing.assert_array_equal(everyone, all_members)
    # no refit: the snapshots and the iteration count are untouched
    assert loaded.t_ == t_before
    for snapshot, before in zip(loaded.snapshot_weights_, weights_before, strict=True):
        assert all(a is b for a, b in zip(snapshot, before, strict=True))
    # the same settings on the original give the same probabilities
    fitted.set_params(n_members=1, member_order="oldest")
    np.testing.assert_array_equal(output(fitted, X_test), oldest)
    fitted.set_params(member_order="newest")
    np.testing.assert_array_equal(output(fitted, X_test), newest)

    with pytest.raises(ValueError, match=r"n_members must be <= the number of"):
        output(loaded.set_params(n_members=4), X_test)


def test_same_random_state_gives_identical_fits(task, task_fitted):
    fitted, X, y, X_test = task_fitted, task.X, task.y, task.X_test
    # the estimator's seeding must not depend on the global random generators
    random.seed(12345)
    np.random.seed(54321)
    tf.random.set_seed(777)
    keras.random.uniform((3,))
    again = clone(fitted).fit(X, y)

    np.testing.assert_array_equal(output(again, X_test), output(fitted, X_test))
    snapshots = zip(again.snapshot_weights_, fitted.snapshot_weights_, strict=True)
    for ours, theirs in snapshots:
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(again.loss_history_, fitted.loss_history_)


def test_different_random_state_gives_different_fits(task, task_fitted):
    fitted, X, y, X_test = task_fitted, task.X, task.y, task.X_test
    other = clone(fitted).set_params(random_state=1).fit(X, y)
    assert not np.allclose(
        output(other, X_test), output(fitted, X_test), rtol=0, atol=1e-6
    )
    assert not np.array_equal(
        other.snapshot_weights_[0][0], fitted.snapshot_weights_[0][0]
    )


def test_skops_needs_to_trust_only_our_types(task):
    """The fitted state is our classes, arrays and plain values: skops asks to
    trust nothing of scikeras' or NumPy's, alone or in a Pipeline."""
    sio = pytest.importorskip("skops.io")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    fitted = task.make().fit(task.X, task.y)
    pipeline = make_pipeline(StandardScaler(), task.make()).fit(task.X, task.y)
    for estimator in (fitted, pipeline):
        data = sio.dumps(estimator)
        untrusted = sio.get_untrusted_types(data=data)
        assert untrusted and all(name.startswith("skl_snapshot.") for name in untrusted)
        loaded = sio.loads(data, trusted=untrusted)
        np.testing.assert_array_equal(
            output(loaded, task.X_test), output(estimator, task.X_test)
        )


def test_skops_state_with_a_named_one_hot_loss(blobs):
    sio = pytest.importorskip("skops.io")
    X, y, X_test, _ = blobs
    fitted = fast_classifier(loss="categorical_crossentropy").fit(X, y)
    data = sio.dumps(fitted)
    untrusted = sio.get_untrusted_types(data=data)
    assert all(name.startswith("skl_snapshot.") for name in untrusted)
    loaded = sio.loads(data, trusted=untrusted)
    np.testing.assert_array_equal(
        loaded.predict_proba(X_test), fitted.predict_proba(X_test)
    )
    # warm start after the round trip trains on with the same loss
    loaded.set_params(warm_start=True).fit(X, y)
