"""The reference experiment: the tutorial's workload, reproduced with the library.

``make_blobs(n_samples=1100, centers=3, n_features=2, cluster_std=2,
random_state=2)``: the first 100 rows train, the other 1000 test. Dense(50, relu)
then a softmax; SGD with momentum 0.9, batch 32; 500 epochs in 10 cycles of 50;
``lr_max=0.01``.
"""

from sklearn.datasets import make_blobs

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
    # one network and equal cycles, as the tutorial trains
    "n_networks": 1,
    "t_mult": 1.0,
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
    """Score each snapshot alone and the ensemble of the newest k, for k = 1..M.

    Parameters
    ----------
    classifier : SnapshotEnsembleClassifier
        A fitted estimator with ``member_order="newest"``.
    X : array-like of shape (n_samples, n_features)
        Test samples.
    y : array-like of shape (n_samples,)
        True labels.

    Returns
    -------
    rows : list of dict
        Row k (k = 1..M): ``k``; ``snapshot`` (1-based, in training order) and
        ``epoch`` of the k-th newest snapshot; its ``accuracy`` and ``log_loss``
        alone; ``ensemble_accuracy`` and ``ensemble_log_loss`` of the newest k.
    """
    if classifier.member_order != "newest":
        raise ValueError(
            "snapshot_table lists ensembles of the newest k snapshots and needs"
            " member_order='newest'. Got"
            f" member_order={classifier.member_order!r}."
        )
    scores = classifier.snapshot_scores(X, y)
    columns = (
        "single_accuracy",
        "single_log_loss",
        "ensemble_accuracy",
        "ensemble_log_loss",
    )
    names = ("accuracy", "log_loss", "ensemble_accuracy", "ensemble_log_loss")
    return [
        {
            "k": int(scores.n_members[row]),
            "snapshot": int(scores.snapshot[row]) + 1,
            "epoch": int(scores.epoch[row]),
            **{
                name: float(scores[column][row])
                for name, column in zip(names, columns, strict=True)
            },
        }
        for row in range(len(scores.n_members))
    ]


def format_table(rows):
    """The rows of :func:`snapshot_table` as a fixed-width text table."""
    lines = [
        "                    snapshot alone   |  ensemble of the newest k",
        " k  snapshot  epoch  accuracy  log-loss |  accuracy  log-loss",
    ]
    for row in rows:
        lines.append(
            f"{row['k']:>2}  {row['snapshot']:>8}  {row['epoch']:>5}"
            f"  {row['accuracy']:>8.3f}  {row['log_loss']:>8.4f}"
            f" |  {row['ensemble_accuracy']:>8.3f}  {row['ensemble_log_loss']:>8.4f}"
        )
    return "\n".join(lines)
