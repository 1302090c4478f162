"""Importing the package and fitting with verbose=0 prints nothing."""

import os
import subprocess
import sys

_SCRIPT = """
import numpy as np
from skl_snapshot import SnapshotEnsembleClassifier, SnapshotEnsembleRegressor
X = np.random.default_rng(0).normal(size=(40, 3))
y = (X[:, 0] > 0).astype(int)
SnapshotEnsembleClassifier(epochs=4, n_cycles=2, verbose=0).fit(X, y).predict(X)
SnapshotEnsembleRegressor(epochs=4, n_cycles=2, verbose=0).fit(X, X[:, 1]).predict(X)
"""


def _run(code, **env):
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("TF_CPP_MIN_LOG_LEVEL", "SKL_SNAPSHOT_TF_LOGS")
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**environment, **env},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_import_fit_and_predict_print_nothing():
    result = _run(_SCRIPT)
    assert result.stdout == ""
    assert result.stderr == ""


def test_tensorflow_logs_when_asked():
    # what TensorFlow itself prints on this machine, if anything
    baseline = _run("import tensorflow as tf; tf.config.list_logical_devices()")
    asked = _run(_SCRIPT, SKL_SNAPSHOT_TF_LOGS="1")
    assert asked.stdout == ""
    assert bool(asked.stderr) == bool(baseline.stderr)
