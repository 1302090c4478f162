"""Parallel model search (joblib's loky workers, Dask) and tf.distribute training."""

import os
import random
import subprocess
import sys
import textwrap
import threading

import joblib
import numpy as np
import pytest
from sklearn.model_selection import (
    GridSearchCV,
    RandomizedSearchCV,
    cross_val_score,
    cross_validate,
)

from skl_snapshot._parallel import THREADS_VARIABLE, tensorflow_thread_budget

from ._builders import small_network
from .conftest import fast_classifier, output

GRID = {"lr_max": [0.05, 0.1], "n_cycles": [2, 3]}
# The settings of the candidate whose score differed on a Dask cluster (issue 18).
ISSUE_18_GRID = {
    "hidden_layer_sizes": [(64,)],
    "lr_max": [0.05],
    "n_cycles": [4],
    "n_members": [1, None],
}


def _searches():
    return {
        "grid": lambda n_jobs: GridSearchCV(
            fast_classifier(), GRID, cv=2, n_jobs=n_jobs, scoring="neg_log_loss"
        ),
        "randomized": lambda n_jobs: RandomizedSearchCV(
            fast_classifier(),
            GRID,
            n_iter=3,
            cv=2,
            n_jobs=n_jobs,
            random_state=0,
        ),
        "issue 18": lambda n_jobs: GridSearchCV(
            fast_classifier(), ISSUE_18_GRID, cv=3, n_jobs=n_jobs
        ),
    }


def _scores(X, y, n_jobs):
    """What each kind of search or cross-validation scores, with ``n_jobs``."""
    scores = {
        name: make(n_jobs).fit(X, y).cv_results_["mean_test_score"]
        for name, make in _searches().items()
    }
    scores["cross_val_score"] = cross_val_score(
        fast_classifier(), X, y, cv=3, n_jobs=n_jobs
    )
    validated = cross_validate(
        fast_classifier(), X, y, cv=3, n_jobs=n_jobs, scoring="neg_log_loss"
    )
    scores["cross_validate"] = validated["test_score"]
    return scores


def _assert_same_scores(first, second):
    assert first.keys() == second.keys()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)


def test_loky_workers_give_the_serial_scores(blobs):
    X, y, _, _ = blobs
    serial = _scores(X, y, n_jobs=1)
    with joblib.parallel_backend("loky"):
        parallel = _scores(X, y, n_jobs=2)
    _assert_same_scores(serial, parallel)


def test_dask_cluster_gives_the_serial_scores(blobs):
    distributed = pytest.importorskip("distributed")
    X, y, _, _ = blobs
    serial = _scores(X, y, n_jobs=1)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_backend("dask"),
    ):
        on_cluster = _scores(X, y, n_jobs=-1)
    _assert_same_scores(serial, on_cluster)


@pytest.mark.parametrize("network", ["built-in", "custom"])
def test_other_threads_drawing_from_random_leave_a_fit_unchanged(task, network):
    # A Dask worker's event loop draws from Python's global ``random`` while a
    # task fits (issue 18): the seeds Keras draws for the fit must not move.
    params = {} if network == "built-in" else {"model": small_network}
    alone = output(task.make(**params).fit(task.X, task.y), task.X_test)
    stop = threading.Event()
    draws = []

    def draw():
        while not stop.is_set():
            draws.append(random.random())

    thread = threading.Thread(target=draw)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # the threads take turns as often as they can
    thread.start()
    try:
        disturbed = task.make(**params).fit(task.X, task.y)
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)
    assert len(draws) > 100  # the other thread did draw while the fit ran
    np.testing.assert_array_equal(output(disturbed, task.X_test), alone)


def test_thread_budget_comes_from_the_environment():
    assert tensorflow_thread_budget({}) is None
    assert tensorflow_thread_budget({"OMP_NUM_THREADS": "1"}) == 1
    assert tensorflow_thread_budget({"OMP_NUM_THREADS": "x"}) is None
    # the process that started a Dask LocalCluster is not one of its workers
    started_cluster = {"OMP_NUM_THREADS": "1", "__DASK_PARENT_PID": str(os.getpid())}
    assert tensorflow_thread_budget(started_cluster) is None
    in_worker = {"OMP_NUM_THREADS": "1", "__DASK_PARENT_PID": str(os.getpid() + 1)}
    assert tensorflow_thread_budget(in_worker) == 1
    # our own variable overrides joblib's and Dask's share
    environ = {"OMP_NUM_THREADS": "1", THREADS_VARIABLE: "3"}
    assert tensorflow_thread_budget(environ) == 3
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(ValueError, match=f"{THREADS_VARIABLE}="):
            tensorflow_thread_budget({THREADS_VARIABLE: bad})


def _run_python(script, argv=(), **environ):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **environ}
    env.pop("OMP_NUM_THREADS", None)
    env.update(environ)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


THREADS_SCRIPT = """
    import numpy as np
    import tensorflow as tf
    from skl_snapshot import SnapshotEnsembleClassifier

    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    SnapshotEnsembleClassifier(epochs=2, n_cycles=1).fit(X, y)
    print(tf.config.threading.get_intra_op_parallelism_threads(),
          tf.config.threading.get_inter_op_parallelism_threads())
"""


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({"OMP_NUM_THREADS": "1"}, "1 1"),
        ({"OMP_NUM_THREADS": "1", THREADS_VARIABLE: "2"}, "2 2"),
        # the built-in network's tiny operations run best on one thread
        ({}, "1 0"),
    ],
    ids=["worker-share", "override", "no-budget"],
)
def test_first_fit_bounds_tensorflow_threads(environ, expected):
    assert _run_python(THREADS_SCRIPT, **environ).split() == expected.split()


def test_a_custom_network_keeps_tensorflow_s_default_threads():
    script = THREADS_SCRIPT.replace(
        "SnapshotEnsembleClassifier(epochs=2",
        "SnapshotEnsembleClassifier(model=lambda meta: __import__('keras')"
        ".Sequential([__import__('keras').layers.Dense(2, activation='softmax')]),"
        " epochs=2",
    )
    assert _run_python(script).split() == ["0", "0"]


def test_threads_the_user_configured_are_kept():
    script = textwrap.dedent(
        """
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(2)
        """
    ) + textwrap.dedent(THREADS_SCRIPT)
    assert _run_python(script, OMP_NUM_THREADS="1").split() == ["2", "0"]


MIRRORED_SCRIPT = """
    import sys

    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    from sklearn.datasets import make_blobs, make_regression
    from skl_snapshot import SnapshotEnsembleClassifier, SnapshotEnsembleRegressor

    if sys.argv[1] == "classifier":
        X, y = make_blobs(n_samples=120, centers=3, n_features=4, random_state=0)
        Estimator, lr_max, output = SnapshotEnsembleClassifier, 0.1, "predict_proba"
        unit = 1.0
    else:
        X, y = make_regression(
            n_samples=120, n_features=4, n_informative=3, noise=5.0, random_state=0
        )
        Estimator, lr_max, output = SnapshotEnsembleRegressor, 0.05, "predict"
        unit = y.std()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    params = dict(hidden_layer_sizes=(16,), epochs=12, n_cycles=3, lr_max=lr_max,
                  batch_size=16, random_state=0, n_networks=int(sys.argv[2]))
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        mirrored = Estimator(**params).fit(X, y)
    one_device = Estimator(**params).fit(X, y)
    print(strategy.num_replicas_in_sync, mirrored.n_snapshots_)
    difference = getattr(mirrored, output)(X) - getattr(one_device, output)(X)
    print(np.abs(difference).max() / unit)
    print(mirrored.score(X, y))
"""


@pytest.mark.parametrize(
    "estimator, n_networks",
    [("classifier", 1), ("regressor", 1), ("classifier", 2)],
)
def test_mirrored_strategy_trains_and_predicts(estimator, n_networks):
    lines = (
        _run_python(MIRRORED_SCRIPT, argv=[estimator, str(n_networks)])
        .strip()
        .splitlines()
    )
    replicas, n_snapshots = lines[-3].split()
    assert (replicas, n_snapshots) == ("2", str(3 * n_networks))
    # two replicas each take half of every mini-batch and the optimizer sums
    # their gradients: the same training, up to float32 rounding (the regressor's
    # difference in units of its target's standard deviation)
    assert float(lines[-2]) < 1e-3
    assert float(lines[-1]) > 0.9
