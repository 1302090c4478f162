"""What the snapshots are worth together: held-out rows, diversity, voting weights.

An ensemble helps only if its members make different mistakes, so a fit reports
each snapshot's loss and how often two snapshots disagree. With held-out rows it
can also rank the snapshots and weight their votes, always on rows the network
never trained on.
"""

import numpy as np
from sklearn.model_selection import train_test_split

__all__ = [
    "EVALUATION_ATTRIBUTES",
    "MemberEvaluation",
    "disagreement_matrix",
    "evaluate_members",
    "evaluation_from_json",
    "evaluation_to_json",
    "fit_voting_weights",
    "member_report",
    "split_validation",
]


def split_validation(X, y, sample_weight, fraction, seed):
    """Stratified split into training and held-out rows, as MLPClassifier does.

    Returns ``(X_train, y_train, sw_train), (X_val, y_val, sw_val)``; the sample
    weights are None when ``sample_weight`` is.
    """
    arrays = [X, y] if sample_weight is None else [X, y, sample_weight]
    try:
        parts = train_test_split(
            *arrays, test_size=fraction, stratify=y, random_state=seed
        )
    except ValueError as error:
        raise ValueError(
            "validation_fraction could not hold out a stratified share of the"
            f" training rows (validation_fraction={fraction}, {len(y)} rows): {error}"
        ) from error
    train, held_out = parts[0::2], parts[1::2]
    if sample_weight is None:
        train, held_out = [*train, None], [*held_out, None]
    return tuple(train), tuple(held_out)


def disagreement_matrix(predictions):
    """Share of rows on which two members predict different classes.

    Parameters
    ----------
    predictions : sequence of ndarray of shape (n_samples,)
        Each member's predicted class index per row.

    Returns
    -------
    disagreement : ndarray of shape (n_members, n_members)
        Symmetric, zero on the diagonal.
    """
    n_members = len(predictions)
    disagreement = np.zeros((n_members, n_members))
    for first in range(n_members):
        for second in range(first + 1, n_members):
            share = np.mean(predictions[first] != predictions[second])
            disagreement[first, second] = disagreement[second, first] = share
    return disagreement


def fit_voting_weights(true_class, sample_weight=None, max_iter=1000, tol=1e-10):
    """Non-negative weights summing to one that minimise the weighted-mean log-loss.

    The log-loss of a weighted mean of probabilities is convex in the weights, and
    its minimum over the simplex is the maximum-likelihood mixture of the members:
    the expectation-maximisation update ``w_m <- w_m * mean_i(p_mi / sum_k w_k
    p_ki)``, where ``p_mi`` is member m's probability of row i's true class,
    never leaves the simplex and never increases the loss.

    Parameters
    ----------
    true_class : ndarray of shape (n_members, n_samples)
        Each member's probability of each held-out row's true class.
    sample_weight : ndarray of shape (n_samples,) or None
        Weights of the rows in the loss.
    max_iter : int
        Most updates.
    tol : float
        Stop when the loss improves by less than this.

    Returns
    -------
    weights : ndarray of shape (n_members,)

    Examples
    --------
    >>> import numpy as np
    >>> true_class = np.array([[0.9, 0.9, 0.9], [0.1, 0.1, 0.1]])
    >>> fit_voting_weights(true_class).round(3).tolist()
    [1.0, 0.0]
    """
    true_class = _clipped(np.asarray(true_class, dtype=float))
    n_members, n_samples = true_class.shape
    row_weight = (
        np.full(n_samples, 1.0 / n_samples)
        if sample_weight is None
        else np.asarray(sample_weight, dtype=float) / np.sum(sample_weight)
    )
    weights = np.full(n_members, 1.0 / n_members)
    loss = np.inf
    for _ in range(max_iter):
        mixture = weights @ true_class
        new_loss = -np.sum(row_weight * np.log(mixture))
        if loss - new_loss < tol:
            break
        loss = new_loss
        weights = weights * (true_class @ (row_weight / mixture))
        weights /= weights.sum()
    return weights


def _clipped(probabilities):
    # as sklearn's log_loss does, so that a confident wrong member stays finite
    return np.clip(probabilities, np.finfo(np.float64).eps, None)


class MemberEvaluation:
    """Each member's loss and the members' disagreement on a set of rows.

    Members are added one at a time (``add``), keeping only each one's
    probability of the true class and its predicted class: a few bytes a row,
    whatever the number of classes.

    Parameters
    ----------
    y_index : ndarray of shape (n_samples,)
        Index of each row's true class.
    sample_weight : ndarray of shape (n_samples,) or None
        Weights of the rows.
    """

    def __init__(self, y_index, sample_weight=None):
        self.y_index = np.asarray(y_index)
        self.sample_weight = sample_weight
        self.true_class = []
        self.predictions = []

    def add(self, proba):
        """Record one member from its probabilities, (n_samples, n_classes)."""
        self.true_class.append(proba[np.arange(len(self.y_index)), self.y_index])
        self.predictions.append(np.argmax(proba, axis=1).astype(np.int32))

    def losses(self):
        """Log-loss of each member alone."""
        return np.array(
            [
                -np.average(np.log(_clipped(p)), weights=self.sample_weight)
                for p in self.true_class
            ]
        )

    def disagreement(self):
        """Pairwise disagreement of the members' predicted classes."""
        return disagreement_matrix(self.predictions)

    def voting_weights(self):
        """Voting weights that minimise the log-loss of the members' mean."""
        return fit_voting_weights(np.stack(self.true_class), self.sample_weight)


#: The evaluation's fitted attributes, and their keys in a snapshot directory.
EVALUATION_ATTRIBUTES = {
    "snapshot_train_loss_": "train_loss",
    "snapshot_validation_loss_": "validation_loss",
    "snapshot_disagreement_": "disagreement",
    "voting_weights_": "voting_weights",
}


def evaluate_members(snapshot_probas, classes, train, held_out):
    """The evaluation attributes of a fitted ensemble, by name.

    ``snapshot_probas(X)`` yields every snapshot's probabilities on ``X``;
    ``train`` and ``held_out`` are ``(X, y, sample_weight)`` (``held_out`` may be
    None). Without held-out rows the disagreement is measured on the training
    rows and there are no validation losses or voting weights.
    """
    evaluations = []
    for rows in (train, held_out):
        if rows is None:
            evaluations.append(None)
            continue
        X, y, sample_weight = rows
        evaluation = MemberEvaluation(np.searchsorted(classes, y), sample_weight)
        for proba in snapshot_probas(X):
            evaluation.add(proba)
        evaluations.append(evaluation)
    on_train, on_held_out = evaluations
    return {
        "snapshot_train_loss_": on_train.losses(),
        "snapshot_validation_loss_": (
            None if on_held_out is None else on_held_out.losses()
        ),
        "snapshot_disagreement_": (on_held_out or on_train).disagreement(),
        "voting_weights_": (
            None if on_held_out is None else on_held_out.voting_weights()
        ),
    }


def evaluation_to_json(attributes):
    """The evaluation attributes as JSON data, for a snapshot directory."""
    return {
        key: None if attributes[name] is None else np.asarray(attributes[name]).tolist()
        for name, key in EVALUATION_ATTRIBUTES.items()
    }


def evaluation_from_json(record, n_snapshots):
    """The evaluation attributes from :func:`evaluation_to_json` data.

    A directory whose fit did not finish has no record: every attribute is then
    None. Raises ValueError, naming the key, for data of the wrong shape.
    """
    record = record if isinstance(record, dict) else {}
    attributes = {}
    for name, key in EVALUATION_ATTRIBUTES.items():
        shape = (n_snapshots,) * (2 if key == "disagreement" else 1)
        value = record.get(key)
        if value is not None:
            try:
                value = np.asarray(value, dtype=float)
            except (TypeError, ValueError):
                value = None
            if value is None or value.shape != shape:
                raise ValueError(
                    f"records an evaluation {key!r} that is not an array of shape"
                    f" {shape}."
                )
        attributes[name] = value
    return attributes


def member_report(train_loss, validation_loss, disagreement, perturbed=None):
    """The lines ``verbose=1`` prints about the snapshots after a fit.

    ``perturbed`` marks the snapshots whose cycle began with a shrink-and-perturb
    restart.
    """
    rows = "training" if validation_loss is None else "held-out"
    lines = [f"snapshots (disagreement with the previous one on the {rows} rows):"]
    for index, loss in enumerate(train_loss):
        parts = [f"  snapshot {index + 1}: train loss {loss:.4f}"]
        if validation_loss is not None:
            parts.append(f"held-out loss {validation_loss[index]:.4f}")
        if index:
            parts.append(f"disagreement {disagreement[index, index - 1]:.3f}")
        if perturbed is not None and perturbed[index]:
            parts.append("after a shrink-and-perturb restart")
        lines.append(", ".join(parts))
    pairs = disagreement[np.triu_indices(len(disagreement), 1)]
    if pairs.size:
        lines.append(f"  mean pairwise disagreement {pairs.mean():.3f}")
    return lines
