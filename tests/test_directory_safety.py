"""Snapshot directories under crashes, full disks, second writers and user files.

The kill test stops a fit at every file operation of the write sequence, in
turn: from that operation on, every file operation of the writer fails, as if
the process had died there (no clean-up runs, temporary files stay behind).
A new fit with ``resume=True`` must then finish the run to exactly the
predictions of a run that was never interrupted.
"""

import errno
import json
import os

import numpy as np
import pytest

from skl_snapshot import SnapshotEnsembleClassifier, _persistence
from skl_snapshot._persistence import LOCK, SnapshotDirectoryError, _DirectoryLock

from .conftest import fast_classifier

SMALL = {"epochs": 4, "n_cycles": 2, "hidden_layer_sizes": (4,)}


class _Killed(BaseException):
    """The process "died" (not an Exception: nothing may catch it)."""


class _KillAt:
    """Let ``after`` file operations succeed; the next and every later one die."""

    OPERATIONS = ("replace", "remove", "fsync")

    def __init__(self, after):
        self.after = after
        self.count = 0

    def wrap(self, function):
        def operation(*args, **kwargs):
            if self.count >= self.after:
                raise _Killed
            self.count += 1
            return function(*args, **kwargs)

        return operation

    def install(self, monkeypatch):
        for name in self.OPERATIONS:
            monkeypatch.setattr(os, name, self.wrap(getattr(os, name)))
        monkeypatch.setattr(_persistence, "open", self.wrap(open), raising=False)
        monkeypatch.setattr(
            _persistence,
            "_save_model_weights",
            self.wrap(_persistence._save_model_weights),
        )


def _count_operations(monkeypatch, directory, X, y, params):
    counter = _KillAt(after=10**9)
    with monkeypatch.context() as patch:
        counter.install(patch)
        fast_classifier(snapshot_dir=directory, **params).fit(X, y)
    return counter.count


@pytest.mark.parametrize("n_networks", [1, 2])
def test_a_kill_at_every_file_operation_resumes_to_the_same_run(
    blobs, tmp_path, monkeypatch, n_networks
):
    """With two networks a cycle's two snapshots are committed together."""
    X, y, X_test, _ = blobs
    params = {**SMALL, "n_networks": n_networks}
    reference = fast_classifier(snapshot_dir=tmp_path / "reference", **params)
    expected = reference.fit(X, y).predict_proba(X_test)
    n_operations = _count_operations(monkeypatch, tmp_path / "count", X, y, params)
    assert n_operations > 20  # the whole write sequence was seen
    for after in range(n_operations):
        directory = tmp_path / f"killed-{after}"
        with monkeypatch.context() as patch:
            _KillAt(after).install(patch)
            with pytest.raises(_Killed):
                fast_classifier(snapshot_dir=directory, **params).fit(X, y)
        manifest_path = directory / "manifest.json"
        if manifest_path.exists():
            listed = json.loads(manifest_path.read_text())["snapshots"]
            if listed:  # what the manifest lists loads, whatever the kill left
                SnapshotEnsembleClassifier.from_snapshot_dir(directory)
        resumed = fast_classifier(snapshot_dir=directory, resume=True, **params)
        np.testing.assert_array_equal(
            resumed.fit(X, y).predict_proba(X_test),
            expected,
            err_msg=f"killed after {after} file operations",
        )
        assert not [name for name in os.listdir(directory) if name.startswith(".tmp")]
        loaded = SnapshotEnsembleClassifier.from_snapshot_dir(directory)
        np.testing.assert_array_equal(loaded.predict_proba(X_test), expected)


def test_a_second_writer_is_refused(blobs, tmp_path):
    X, y, _, _ = blobs
    directory = tmp_path / "run"
    directory.mkdir()
    holder = _DirectoryLock(os.fspath(directory)).acquire()
    try:
        with pytest.raises(SnapshotDirectoryError, match="being written by another"):
            fast_classifier(snapshot_dir=directory, **SMALL).fit(X, y)
        assert os.listdir(directory) == [LOCK]
    finally:
        holder.release()
    # a lock left by a dead writer (the file, unlocked) is taken over
    fast_classifier(snapshot_dir=directory, **SMALL).fit(X, y)


def test_the_lock_is_released_after_a_failed_fit(blobs, tmp_path):
    X, y, _, _ = blobs
    directory = tmp_path / "run"
    with pytest.raises(ValueError, match="lr_max"):
        fast_classifier(snapshot_dir=directory, lr_max=1e9, clipnorm=None, **SMALL).fit(
            X, y
        )
    _DirectoryLock(os.fspath(directory)).acquire().release()


@pytest.mark.parametrize("overwrite", [False, True])
def test_files_it_did_not_write_are_never_deleted(blobs, tmp_path, overwrite):
    X, y, _, _ = blobs
    directory = tmp_path / "run"
    fast_classifier(snapshot_dir=directory, **SMALL).fit(X, y)
    notes = directory / "users-notes.txt"
    notes.write_text("mine")
    with pytest.raises(
        SnapshotDirectoryError, match=r"did not write \(users-notes.txt\)"
    ):
        fast_classifier(snapshot_dir=directory, overwrite=overwrite, **SMALL).fit(X, y)
    assert notes.read_text() == "mine"
    # nor in a directory of the user's own that holds no run
    other = tmp_path / "mine"
    other.mkdir()
    (other / "data.csv").write_text("1,2")
    with pytest.raises(SnapshotDirectoryError, match="data.csv"):
        fast_classifier(snapshot_dir=other, overwrite=True, **SMALL).fit(X, y)
    assert os.listdir(other) == ["data.csv"]


def test_overwrite_replaces_a_damaged_directory_of_ours(blobs, tmp_path):
    X, y, X_test, _ = blobs
    directory = tmp_path / "run"
    fast_classifier(snapshot_dir=directory, **SMALL).fit(X, y)
    (directory / "manifest.json").write_text("{not json")
    (directory / "snapshot-007.weights.h5").write_bytes(b"left by a dead run")
    with pytest.raises(SnapshotDirectoryError, match="already holds snapshots"):
        fast_classifier(snapshot_dir=directory, **SMALL).fit(X, y)
    clf = fast_classifier(snapshot_dir=directory, overwrite=True, **SMALL).fit(X, y)
    assert not (directory / "snapshot-007.weights.h5").exists()
    loaded = SnapshotEnsembleClassifier.from_snapshot_dir(directory)
    np.testing.assert_array_equal(
        loaded.predict_proba(X_test), clf.predict_proba(X_test)
    )


@pytest.mark.parametrize(
    "failure",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        RuntimeError("Disable slist on flush dest failure failed"),  # h5py's
    ],
    ids=["ENOSPC", "h5py"],
)
def test_a_full_disk_is_named_and_the_run_resumes(
    blobs, tmp_path, monkeypatch, failure
):
    X, y, X_test, _ = blobs
    expected = fast_classifier(**SMALL).fit(X, y).predict_proba(X_test)
    directory = tmp_path / "run"
    save = _persistence._save_model_weights
    calls = []

    def fill_up(network, path):
        calls.append(path)
        if len(calls) == 2:  # the second snapshot finds the disk full
            save(network, path)  # a partial file is left behind
            raise failure
        save(network, path)

    monkeypatch.setattr(_persistence, "_save_model_weights", fill_up)
    with pytest.raises(SnapshotDirectoryError) as info:
        fast_classifier(snapshot_dir=directory, **SMALL).fit(X, y)
    message = str(info.value)
    assert os.fspath(directory) in message and "snapshot-001.weights.h5" in message
    if isinstance(failure, OSError):
        assert "the disk is full" in message
    assert not [name for name in os.listdir(directory) if name.startswith(".tmp")]
    assert len(json.loads((directory / "manifest.json").read_text())["snapshots"]) == 1
    monkeypatch.undo()
    resumed = fast_classifier(snapshot_dir=directory, resume=True, **SMALL).fit(X, y)
    np.testing.assert_array_equal(resumed.predict_proba(X_test), expected)


def test_an_unwritable_directory_is_named(blobs, tmp_path):
    X, y, _, _ = blobs
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(SnapshotDirectoryError, match="cannot be created or written"):
        fast_classifier(snapshot_dir=blocker / "run", **SMALL).fit(X, y)


def test_old_optimizer_state_is_removed_only_after_the_commit(blobs, tmp_path):
    X, y, _, _ = blobs
    directory = tmp_path / "run"
    fast_classifier(snapshot_dir=directory, **SMALL).fit(X, y)
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["optimizer_state"]["file"] == "optimizer-001.npz"
    assert sorted(os.listdir(directory)) == [
        LOCK,
        "manifest.json",
        "optimizer-001.npz",
        "snapshot-000.weights.h5",
        "snapshot-001.weights.h5",
    ]


_HOLD_LOCK = """
import fcntl, os, sys, time
handle = open(sys.argv[1], "a+")
fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
handle.write(str(os.getpid())); handle.flush()
print("locked", flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="flock is POSIX")
def test_a_writer_in_another_process_is_refused_until_it_dies(blobs, tmp_path):
    import signal
    import subprocess
    import sys

    X, y, _, _ = blobs
    directory = tmp_path / "run"
    directory.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, os.fspath(directory / LOCK)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(SnapshotDirectoryError, match=f"process {holder.pid}"):
            fast_classifier(snapshot_dir=directory, **SMALL).fit(X, y)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the kernel released the dead writer's lock: the directory is free again
    fast_classifier(snapshot_dir=directory, **SMALL).fit(X, y)
    assert SnapshotEnsembleClassifier.from_snapshot_dir(directory).n_snapshots_ == 2


def _functional(meta):
    import keras

    inputs = keras.Input((meta["n_features_in_"],))
    hidden = keras.layers.Dense(6, activation="tanh")(inputs)
    outputs = keras.layers.Dense(meta["n_classes_"], activation="softmax")(hidden)
    return keras.Model(inputs, outputs)


class _CrashAfterFirstCycle(__import__("keras").callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise RuntimeError("crash")


def test_a_functional_network_resumes(blobs, tmp_path):
    """Its config names its layers' inputs (dense_3 in one process, dense_7 in
    the next build): resume must compare the wiring, not the names."""
    X, y, X_test, _ = blobs
    whole = fast_classifier(model=_functional, snapshot_dir=tmp_path / "whole", **SMALL)
    expected = whole.fit(X, y).predict_proba(X_test)
    with pytest.raises(RuntimeError, match="crash"):
        fast_classifier(
            model=_functional,
            snapshot_dir=tmp_path / "cut",
            fit__callbacks=[_CrashAfterFirstCycle()],
            **SMALL,
        ).fit(X, y)
    resumed = fast_classifier(
        model=_functional, snapshot_dir=tmp_path / "cut", resume=True, **SMALL
    ).fit(X, y)
    np.testing.assert_array_equal(resumed.predict_proba(X_test), expected)
