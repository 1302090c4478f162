"""The reference experiment: the tutorial's workload, reproduced with the library.

``make_blobs(n_samples=1100, centers=3, n_features=2, cluster_std=2,
random_state=2)``: the first 100 rows train, the other 1000 test. Dense(50, relu)
then a softmax; SGD with momentum 0.9, batch 32; 500 epochs in 10 cycles of 50;
``lr_max=0.01``.
"""

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.metrics import accuracy_score, log_loss

from ._classifier import SnapshotEnsembleClassifier

__all__ = [
    "REFERENCE_PARAMS",
    "format_table",
    "load_reference_data",
    "reference_classifier",
    "snapshot_table",
]

#: The tutorial's settings, as SnapshotEnsembleClassifier parameters.
REFERENCE_PARAMS = {
    "hidden_layer_sizes": (50,),
    "activation": "relu",
    "epochs": 500,
    "n_cycles": 10,
    "lr_max": 0.01,
    "momentum": 0.9,
    "batch_size": 32,
}


def load_reference_data():
    """The reference data: ``(X_train, y_train, X_test, y_test)``, 100 and 1000 rows."""
    X, y = make_blobs(
        n_samples=1100, centers=3, n_features=2, cluster_std=2, random_state=2
    )
    return X[:100], y[:100], X[100:], y[100:]


def reference_classifier(**overrides):
    """A SnapshotEnsembleClassifier with the tutorial's settings."""
    return SnapshotEnsembleClassifier(**{**REFERENCE_PARAMS, **overrides})


def snapshot_table(classifier, X, y):
    """Score every snapshot alone and the ensemble of the last k, for k = 1..M.

    Parameters
    ----------
    classifier : SnapshotEnsembleClassifier
        A fitted estimator.
    X : array-like of shape (n_samples, n_features)
        Test samples.
    y : array-like of shape (n_samples,)
        True labels.

    Returns
    -------
    rows : list of dict
        One row per snapshot, oldest first: ``snapshot`` (1-based), ``epoch``,
        ``accuracy`` and ``log_loss`` of that snapshot alone, and
        ``ensemble_accuracy`` and ``ensemble_log_loss`` of the ensemble of the
        last ``k`` snapshots, where ``k`` counts back from the newest.
    """
    X = classifier._validate_features(X)
    n_snapshots = classifier.n_snapshots_
    probas = list(classifier._snapshot_probas(X, range(n_snapshots)))
    labels = classifier.classes_
    rows = []
    for index, proba in enumerate(probas):
        k = index + 1
        ensemble = np.mean(probas[n_snapshots - k :], axis=0)
        rows.append(
            {
                "snapshot": k,
                "epoch": int(classifier.snapshot_epochs_[index]),
                "accuracy": accuracy_score(y, labels[proba.argmax(axis=1)]),
                "log_loss": log_loss(y, proba, labels=labels),
                "last_k": k,
                "ensemble_accuracy": accuracy_score(y, labels[ensemble.argmax(axis=1)]),
                "ensemble_log_loss": log_loss(y, ensemble, labels=labels),
            }
        )
    return rows


def format_table(rows):
    """The rows of :func:`snapshot_table` as a fixed-width text table."""
    lines = [
        "snapshot  epoch  accuracy  log-loss | newest k  ensemble acc"
        "  ensemble log-loss"
    ]
    for row in rows:
        lines.append(
            f"{row['snapshot']:>8}  {row['epoch']:>5}  {row['accuracy']:>8.3f}"
            f"  {row['log_loss']:>8.4f} | {row['last_k']:>8}"
            f"  {row['ensemble_accuracy']:>12.3f}  {row['ensemble_log_loss']:>17.4f}"
        )
    return "\n".join(lines)
