"""Snapshot directories written by earlier versions still load, as classifiers.

``tests/data/classifier_2151d50`` was written by commit 2151d50, the last one
before the task-neutral core: its manifest records no task and its plan is the
old dict. ``classifier_2151d50_expected.npz`` holds the rows it was fitted on
and the probabilities that version predicted for them.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from skl_snapshot import SnapshotEnsembleClassifier, SnapshotEnsembleRegressor
from skl_snapshot._persistence import SnapshotDirectoryError
from skl_snapshot._plan import FitPlan

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def old_directory(tmp_path):
    """A copy, so that nothing a test does can change the committed files."""
    return Path(shutil.copytree(DATA / "classifier_2151d50", tmp_path / "old"))


@pytest.fixture
def expected():
    with np.load(DATA / "classifier_2151d50_expected.npz") as saved:
        return {name: saved[name] for name in saved.files}


def test_the_old_directory_has_no_task(old_directory):
    manifest = json.loads((old_directory / "manifest.json").read_text())
    assert "task" not in manifest


@pytest.mark.parametrize("in_memory", [True, False])
def test_an_old_directory_predicts_as_it_did(old_directory, expected, in_memory):
    loaded = SnapshotEnsembleClassifier.from_snapshot_dir(
        old_directory, in_memory=in_memory
    )
    np.testing.assert_array_equal(loaded.classes_, expected["classes"])
    np.testing.assert_allclose(
        loaded.predict_proba(expected["X"]), expected["proba"], rtol=1e-6, atol=1e-7
    )
    assert loaded.n_members == 2 and loaded.n_snapshots_ == 3
    (plan,) = loaded._fits
    assert isinstance(plan, FitPlan) and plan.cycle_epochs == (2, 2, 2)


def test_the_regressor_refuses_an_old_directory(old_directory):
    with pytest.raises(SnapshotDirectoryError, match="manifest.json.*classification"):
        SnapshotEnsembleRegressor.from_snapshot_dir(old_directory)


def test_an_old_directory_can_be_resumed(old_directory, expected):
    """A finished old run resumes without training: the plans agree."""
    params = SnapshotEnsembleClassifier.from_snapshot_dir(old_directory).get_params()
    params.update(snapshot_dir=old_directory, resume=True, in_memory=True)
    X, y = make_blobs(n_samples=60, centers=3, n_features=4, random_state=0)
    np.testing.assert_array_equal(
        ((X - X.mean(0)) / X.std(0)).astype(np.float32), expected["X"]
    )
    labels = np.array(["ant", "bee", "cat"])[y]  # as the writer labelled them
    before = (old_directory / "snapshot-002.weights.h5").read_bytes()
    resumed = SnapshotEnsembleClassifier(**params).fit(expected["X"], labels)
    assert (old_directory / "snapshot-002.weights.h5").read_bytes() == before
    assert resumed.n_snapshots_ == 3
