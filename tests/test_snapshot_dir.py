"""Snapshot directories: what fit writes, crash safety, resume, warm start, loading.

The tests that take the ``task`` fixture run for both estimators; the fresh-process
and SIGKILL tests, which start a new Python, use the classifier alone.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from sklearn.datasets import make_classification

from skl_snapshot import SnapshotEnsembleClassifier
from skl_snapshot._persistence import SnapshotDirectoryError, SnapshotWeights, sha256_of

from .conftest import TASKS, fast_classifier, make_task, output

ROOT = Path(__file__).resolve().parents[1]


def _manifest(directory):
    return json.loads((Path(directory) / "manifest.json").read_text())


TASK_RECORDED = {"classifier": "classification", "regressor": "regression"}


def test_fit_writes_one_verified_file_per_snapshot(task, tmp_path):
    X, y = task.X, task.y
    clf = task.make(snapshot_dir=tmp_path).fit(X, y)
    manifest = _manifest(tmp_path)
    assert [record["file"] for record in manifest["snapshots"]] == [
        "snapshot-000.weights.h5",
        "snapshot-001.weights.h5",
        "snapshot-002.weights.h5",
    ]
    for record, epoch, rate, loss in zip(
        manifest["snapshots"],
        clf.snapshot_epochs_,
        clf.snapshot_learning_rates_,
        clf.loss_history_,
        strict=True,
    ):
        assert record["sha256"] == sha256_of(tmp_path / record["file"])
        assert record["epoch"] == epoch
        assert record["learning_rate"] == pytest.approx(rate)
        assert record["loss"] == pytest.approx(loss)
    assert manifest["n_features_in"] == X.shape[1]
    assert manifest["task"] == TASK_RECORDED[task.name]
    assert manifest["architecture"]["class_name"] == "Sequential"
    assert set(manifest["versions"]) >= {"skl_snapshot", "keras", "tensorflow"}
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")]


@pytest.mark.parametrize("in_memory", [True, False])
def test_from_snapshot_dir_predicts_exactly_like_the_writer(task, tmp_path, in_memory):
    clf = task.make(snapshot_dir=tmp_path, n_members=2).fit(task.X, task.y)
    loaded = task.Estimator.from_snapshot_dir(tmp_path, in_memory=in_memory)
    assert type(loaded) is task.Estimator
    np.testing.assert_array_equal(output(loaded, task.X_test), output(clf, task.X_test))
    np.testing.assert_array_equal(loaded.predict(task.X_test), clf.predict(task.X_test))
    np.testing.assert_array_equal(loaded.snapshot_epochs_, clf.snapshot_epochs_)
    np.testing.assert_array_equal(
        loaded.learning_rate_history_, clf.learning_rate_history_
    )
    assert loaded.get_params()["n_members"] == 2
    assert loaded.n_iter_ == clf.n_iter_ and loaded.t_ == clf.t_
    assert isinstance(loaded.snapshot_weights_, SnapshotWeights) != in_memory


def test_disk_only_snapshots_hold_no_weights_in_memory(task, tmp_path):
    X, y, X_test = task.X, task.y, task.X_test
    in_memory = task.make().fit(X, y)
    on_disk = task.make(snapshot_dir=tmp_path, in_memory=False).fit(X, y)
    assert isinstance(on_disk.snapshot_weights_, SnapshotWeights)
    assert not hasattr(on_disk.snapshot_weights_, "weights")
    np.testing.assert_allclose(
        output(on_disk, X_test), output(in_memory, X_test), rtol=1e-6
    )
    # items are read on access, as NumPy arrays
    for kept, read in zip(
        in_memory.snapshot_weights_[1], on_disk.snapshot_weights_[1], strict=True
    ):
        np.testing.assert_array_equal(kept, read)


def test_loading_in_a_fresh_process(blobs, tmp_path):
    X, y, X_test, _ = blobs
    labels = np.array(["ant", "bee", "cat"])[y]
    clf = fast_classifier(snapshot_dir=tmp_path / "snapshots").fit(X, labels)
    np.save(tmp_path / "X_test.npy", X_test)
    script = (
        "import numpy as np, sys\n"
        "from skl_snapshot import SnapshotEnsembleClassifier as S\n"
        "est = S.from_snapshot_dir(sys.argv[1])\n"
        "X = np.load(sys.argv[2])\n"
        "np.save(sys.argv[3], est.predict_proba(X))\n"
        "np.save(sys.argv[4], est.predict(X))\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            str(tmp_path / "snapshots"),
            str(tmp_path / "X_test.npy"),
            str(tmp_path / "proba.npy"),
            str(tmp_path / "labels.npy"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    np.testing.assert_array_equal(
        np.load(tmp_path / "proba.npy"), clf.predict_proba(X_test)
    )
    np.testing.assert_array_equal(np.load(tmp_path / "labels.npy"), clf.predict(X_test))


def test_warm_start_appends_cycles_and_restarts_the_schedule(task, tmp_path):
    X, y, X_test = task.X, task.y, task.X_test
    clf = task.make(snapshot_dir=tmp_path).fit(X, y)
    first = [list(weights) for weights in clf.snapshot_weights_]
    clf.set_params(warm_start=True, epochs=6, n_cycles=2).fit(X, y)
    assert clf.n_snapshots_ == 5
    np.testing.assert_array_equal(clf.snapshot_epochs_, [4, 8, 12, 15, 18])
    for kept, original in zip(clf.snapshot_weights_[:3], first, strict=True):
        for a, b in zip(kept, original, strict=True):
            np.testing.assert_array_equal(a, b)
    # the schedule restarts at lr_max when the continuation begins
    first_fit_steps = 12 * 8  # 12 epochs of ceil(120 / 16) batches
    assert clf.learning_rate_history_[first_fit_steps] == pytest.approx(clf.lr_max)
    assert clf.t_ == first_fit_steps + 6 * 8
    # the continuation starts from the last snapshot, not from scratch
    assert clf.loss_history_[3] < clf.loss_history_[0]
    loaded = task.Estimator.from_snapshot_dir(tmp_path)
    assert loaded.n_snapshots_ == 5
    np.testing.assert_array_equal(output(loaded, X_test), output(clf, X_test))


def test_warm_start_without_a_directory(task):
    X, y = task.X, task.y
    clf = task.make(warm_start=True).fit(X, y)
    clf.fit(X, y)
    assert clf.n_snapshots_ == 6
    np.testing.assert_array_equal(clf.snapshot_epochs_, [4, 8, 12, 16, 20, 24])
    clf.set_params(n_members=5)  # more members than n_cycles: fine after warm start
    five = output(clf, X)
    assert not np.allclose(five, output(clf.set_params(n_members=3), X))


def test_resume_of_a_finished_run_trains_nothing(task, tmp_path):
    X, y, X_test = task.X, task.y, task.X_test
    clf = task.make(snapshot_dir=tmp_path).fit(X, y)
    before = {name: sha256_of(tmp_path / name) for name in os.listdir(tmp_path)}
    epochs = []
    counter = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: epochs.append(epoch)
    )
    again = task.make(snapshot_dir=tmp_path, resume=True, fit__callbacks=[counter]).fit(
        X, y
    )
    after = {name: sha256_of(tmp_path / name) for name in os.listdir(tmp_path)}
    assert before == after
    assert epochs == []
    np.testing.assert_array_equal(output(again, X_test), output(clf, X_test))


def test_resume_restores_weights_and_optimizer_state(task, tmp_path):
    """Cut a finished run back to one snapshot, as a crash would, and resume."""
    X, y = task.X, task.y
    task.make(snapshot_dir=tmp_path).fit(X, y)
    manifest = _manifest(tmp_path)
    manifest["snapshots"] = manifest["snapshots"][:1]
    # the optimizer state saved after the first cycle is no longer on disk, so
    # put back a state whose iteration counter says "after cycle 1"
    state_file = tmp_path / manifest["optimizer_state"]["file"]
    state = dict(np.load(state_file))
    state["0"] = np.asarray(8 * 4, dtype=state["0"].dtype)  # iterations: 1 cycle
    np.savez(state_file, **state)
    manifest["optimizer_state"]["after_snapshot"] = 0
    manifest["optimizer_state"]["sha256"] = sha256_of(state_file)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))

    resumed = task.make(snapshot_dir=tmp_path, resume=True).fit(X, y)
    assert resumed.n_snapshots_ == 3
    np.testing.assert_array_equal(resumed.snapshot_epochs_, [4, 8, 12])
    network = resumed._predictor.network
    assert int(network.optimizer.iterations.numpy()) == 12 * 8
    assert resumed.t_ == 12 * 8


def test_directory_from_before_the_restart_parameters_restarts_the_rate_only(
    task, tmp_path
):
    """Manifests written before ``method`` and the restart parameters existed
    describe runs whose restarts only raised the learning rate; loading one, and
    continuing it with ``warm_start``, keeps it that way."""
    X, y = task.X, task.y
    restart_keys = (
        "method",
        "restart_shrink",
        "restart_noise",
        "restart_loss_threshold",
    )
    task.make(snapshot_dir=tmp_path, restart_shrink=1.0, restart_noise=0.0).fit(X, y)
    manifest = _manifest(tmp_path)
    for params in [manifest["estimator_params"], *manifest["fits"]]:
        for key in restart_keys:
            del params[key]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))

    loaded = task.Estimator.from_snapshot_dir(tmp_path)
    params = loaded.get_params()
    assert [params[key] for key in restart_keys] == ["snapshot", 1.0, 0.0, None]
    assert not loaded.snapshot_perturbed_.any()
    # the same parameters continue it: the fit's plan matches the old one
    loaded.set_params(warm_start=True, resume=True).fit(X, y)
    assert loaded.n_snapshots_ == 6
    assert not loaded.snapshot_perturbed_.any()


CRASH_SCRIPT = """
import os
import signal
import sys
import threading

import keras
import numpy as np
from skl_snapshot import SnapshotEnsembleClassifier


class KillDuringSecondCycle(keras.callbacks.Callback):
    # SIGKILL, which no handler sees, a moment after the second cycle starts:
    # the first snapshot is on disk, and the cycle runs for much longer
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            threading.Timer(
                0.02, os.kill, (os.getpid(), signal.SIGKILL)
            ).start()


data = np.load(sys.argv[2])
SnapshotEnsembleClassifier(
    hidden_layer_sizes=(64,), epochs=400, n_cycles=4, batch_size=16, lr_max=0.05,
    n_networks=1, t_mult=1.0, random_state=0, snapshot_dir=sys.argv[1],
    fit__callbacks=[KillDuringSecondCycle()],
).fit(data["X"], data["y"])
"""


def test_sigkill_mid_cycle_then_resume(tmp_path):
    X, y = make_classification(
        n_samples=1500, n_features=10, n_informative=6, random_state=0
    )
    directory = tmp_path / "snapshots"
    np.savez(tmp_path / "data.npz", X=X, y=y)
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            CRASH_SCRIPT,
            str(directory),
            str(tmp_path / "data.npz"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=600,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]

    manifest = _manifest(directory)
    done = len(manifest["snapshots"])
    assert done == 1, "the kill did not land inside the second cycle"
    for record in manifest["snapshots"]:
        assert record["sha256"] == sha256_of(directory / record["file"])
    listed = {record["file"] for record in manifest["snapshots"]}
    snapshot_files = {
        name for name in os.listdir(directory) if name.endswith(".weights.h5")
    }
    assert snapshot_files - listed <= {
        name for name in snapshot_files if name.startswith(".tmp-")
    }
    partial = SnapshotEnsembleClassifier.from_snapshot_dir(directory)
    assert partial.n_snapshots_ == done
    partial.predict_proba(X[:5])

    resumed = SnapshotEnsembleClassifier(
        hidden_layer_sizes=(64,),
        epochs=400,
        n_cycles=4,
        batch_size=16,
        lr_max=0.05,
        n_networks=1,
        t_mult=1.0,
        random_state=0,
        snapshot_dir=directory,
        resume=True,
    ).fit(X, y)
    assert resumed.n_snapshots_ == 4
    np.testing.assert_array_equal(resumed.snapshot_epochs_, [100, 200, 300, 400])
    assert not [name for name in os.listdir(directory) if name.startswith(".tmp-")]
    fresh = SnapshotEnsembleClassifier.from_snapshot_dir(directory)
    np.testing.assert_array_equal(fresh.predict_proba(X), resumed.predict_proba(X))
    assert resumed.score(X, y) > 0.8


class _Crash(Exception):
    pass


class _CrashAfterFirstCycle(keras.callbacks.Callback):
    """Stands in for a crash: runs after the snapshot of cycle 1 is on disk."""

    def on_epoch_end(self, epoch, logs=None):
        raise _Crash


def test_resumed_run_equals_an_uninterrupted_one(task, tmp_path):
    X, y, X_test = task.X, task.y, task.X_test
    whole = task.make(snapshot_dir=tmp_path / "whole").fit(X, y)
    with pytest.raises(_Crash):
        task.make(
            snapshot_dir=tmp_path / "cut", fit__callbacks=[_CrashAfterFirstCycle()]
        ).fit(X, y)
    assert len(_manifest(tmp_path / "cut")["snapshots"]) == 1
    resumed = task.make(snapshot_dir=tmp_path / "cut", resume=True).fit(X, y)
    assert resumed.n_snapshots_ == 3
    # Same weights, optimizer state and per-epoch data order: the same run.
    np.testing.assert_array_equal(output(resumed, X_test), output(whole, X_test))
    np.testing.assert_array_equal(resumed.loss_history_[1:], whole.loss_history_[1:])


def test_a_directory_of_the_other_task_is_refused(task, tmp_path):
    (other_name,) = set(TASKS) - {task.name}
    other = make_task(other_name)
    other.make(snapshot_dir=tmp_path).fit(other.X, other.y)
    # the error names the manifest and the task it records, not a symptom of it
    with pytest.raises(
        SnapshotDirectoryError,
        match=rf"manifest\.json.*{TASK_RECORDED[other.name]}"
        rf".*{task.Estimator.__name__}",
    ):
        task.Estimator.from_snapshot_dir(tmp_path)
