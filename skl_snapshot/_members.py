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
    "RegressionMemberEvaluation",
    "disagreement_matrix",
    "evaluate_members",
    "evaluation_from_json",
    "evaluation_to_json",
    "linear_member_from_json",
    "fit_regression_voting_weights",
    "fit_voting_weights",
    "member_report",
    "split_validation",
]


def split_validation(X, y, sample_weight, fraction, seed, stratify=True):
    """Split into training and held-out rows, as MLPClassifier and MLPRegressor do.

    Stratified by ``y`` (a classifier's labels) unless ``stratify`` is False.
    Returns ``(X_train, y_train, sw_train), (X_val, y_val, sw_val)``; the sample
    weights are None when ``sample_weight`` is.
    """
    arrays = [X, y] if sample_weight is None else [X, y, sample_weight]
    kind = "a stratified" if stratify else "a"
    try:
        parts = train_test_split(
            *arrays,
            test_size=fraction,
            stratify=y if stratify else None,
            random_state=seed,
        )
    except ValueError as error:
        raise ValueError(
            f"validation_fraction could not hold out {kind} share of the training"
            f" rows (validation_fraction={fraction}, {len(y)} rows): {error}"
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


def fit_regression_voting_weights(predictions, targets, sample_weight=None):
    """Non-negative weights summing to one that minimise the weighted mean's
    squared error.

    The squared error of a weighted mean of predictions is a convex quadratic in
    the weights; its minimum over the simplex is found by sequential least
    squares (SciPy's SLSQP) from uniform weights.

    Parameters
    ----------
    predictions : ndarray of shape (n_members, n_samples, n_outputs)
        Each member's predictions of the held-out rows.
    targets : ndarray of shape (n_samples, n_outputs)
        The held-out rows' targets.
    sample_weight : ndarray of shape (n_samples,) or None
        Weights of the rows in the loss.

    Returns
    -------
    weights : ndarray of shape (n_members,)

    Examples
    --------
    >>> import numpy as np
    >>> targets = np.array([[1.0], [2.0], [3.0]])
    >>> predictions = np.stack([targets, targets + 1.0])
    >>> fit_regression_voting_weights(predictions, targets).round(3).tolist()
    [1.0, 0.0]
    """
    from scipy.optimize import minimize

    predictions = np.asarray(predictions, dtype=float)
    n_members = predictions.shape[0]
    row_weight = (
        np.ones(predictions.shape[1])
        if sample_weight is None
        else np.asarray(sample_weight, dtype=float)
    )
    row_weight = np.sqrt(row_weight / row_weight.sum())
    # one column per member: its residual-free predictions, rows weighted
    design = (predictions * row_weight[None, :, None]).reshape(n_members, -1).T
    target = (np.asarray(targets, dtype=float) * row_weight[:, None]).reshape(-1)
    gram, moment = design.T @ design, design.T @ target

    def loss(weights):
        return weights @ gram @ weights - 2 * moment @ weights

    def gradient(weights):
        return 2 * (gram @ weights - moment)

    result = minimize(
        loss,
        np.full(n_members, 1.0 / n_members),
        jac=gradient,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * n_members,
        constraints=[{"type": "eq", "fun": lambda weights: weights.sum() - 1.0}],
        options={"ftol": 1e-12, "maxiter": 500},
    )
    weights = np.clip(result.x, 0.0, None)
    return weights / weights.sum()


def _clipped(probabilities):
    # as sklearn's log_loss does, so that a confident wrong member stays finite
    return np.clip(probabilities, np.finfo(np.float64).eps, None)


class MemberEvaluation:
    """Each classifier member's loss and the members' disagreement on some rows.

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


class RegressionMemberEvaluation:
    """Each regressor member's squared error and the members' spread on some rows.

    Parameters
    ----------
    targets : ndarray of shape (n_samples, n_outputs)
        The rows' targets, in the network's units.
    sample_weight : ndarray of shape (n_samples,) or None
        Weights of the rows.
    scale : ndarray of shape (n_outputs,)
        What one network unit is in units of y (``y_scale_``): the losses are
        reported in units of y.
    """

    def __init__(self, targets, sample_weight=None, scale=1.0):
        self.targets = np.asarray(targets, dtype=float)
        self.sample_weight = sample_weight
        self.scale = np.asarray(scale, dtype=float)
        self.predictions = []

    def add(self, output):
        """Record one member from its output, (n_samples, n_outputs)."""
        self.predictions.append(np.asarray(output, dtype=float))

    def losses(self):
        """Mean squared error of each member alone, in units of y."""
        return np.array(
            [
                np.average(
                    np.mean(((p - self.targets) * self.scale) ** 2, axis=1),
                    weights=self.sample_weight,
                )
                for p in self.predictions
            ]
        )

    def disagreement(self):
        """Root-mean-square difference between two members' predictions, in
        units of the standard deviation of the rows' targets."""
        spread = self.targets.std(axis=0)
        spread[spread == 0] = 1.0
        n_members = len(self.predictions)
        disagreement = np.zeros((n_members, n_members))
        for first in range(n_members):
            for second in range(first + 1, n_members):
                difference = (self.predictions[first] - self.predictions[second]) / (
                    spread
                )
                share = np.sqrt(np.mean(difference**2))
                disagreement[first, second] = disagreement[second, first] = share
        return disagreement

    def voting_weights(self):
        """Voting weights that minimise the squared error of the members' mean."""
        return fit_regression_voting_weights(
            np.stack(self.predictions) * self.scale,
            self.targets * self.scale,
            self.sample_weight,
        )


#: The evaluation's fitted attributes, and their keys in a snapshot directory.
EVALUATION_ATTRIBUTES = {
    "snapshot_train_loss_": "train_loss",
    "snapshot_validation_loss_": "validation_loss",
    "snapshot_disagreement_": "disagreement",
    "voting_weights_": "voting_weights",
}


def evaluate_members(
    snapshot_outputs, new_evaluation, train, held_out, folds=None, extra=None
):
    """The evaluation attributes of a fitted ensemble, by name.

    ``snapshot_outputs(X)`` yields every snapshot's output on ``X`` (a
    classifier's probabilities, a regressor's values in the network's units);
    ``new_evaluation(y, sample_weight)`` makes the task's evaluation
    (:class:`MemberEvaluation` or :class:`RegressionMemberEvaluation`);
    ``train`` and ``held_out`` are ``(X, y, sample_weight)`` (``held_out`` may be
    None). Without held-out rows the disagreement is measured on the training
    rows and there are no validation losses or voting weights.

    With ``folds`` (cross-fitting: network k never trained on the training rows
    of fold k, and snapshot s is network ``s % n_networks``'s), the held-out
    rows are the training rows themselves, out of fold: see
    :func:`_out_of_fold_evaluation`.

    ``extra`` is the output of one more member on the held-out rows (out of
    fold when cross-fitting): the linear member. It takes part in the voting
    weights only, and ``linear_weight_`` is its share; the snapshots' weights
    are the rest. Without it, ``linear_weight_`` is None.
    """
    if folds is not None:
        return _out_of_fold_evaluation(
            snapshot_outputs, new_evaluation, train, folds, extra
        )
    evaluations = []
    for rows in (train, held_out):
        if rows is None:
            evaluations.append(None)
            continue
        X, y, sample_weight = rows
        evaluation = new_evaluation(y, sample_weight)
        for output in snapshot_outputs(X):
            evaluation.add(output)
        evaluations.append(evaluation)
    on_train, on_held_out = evaluations
    attributes = {
        "snapshot_train_loss_": on_train.losses(),
        "snapshot_validation_loss_": (
            None if on_held_out is None else on_held_out.losses()
        ),
        "snapshot_disagreement_": (on_held_out or on_train).disagreement(),
    }
    if on_held_out is None:
        return {**attributes, "voting_weights_": None, "linear_weight_": None}
    return {**attributes, **_voting_weights(on_held_out, extra, repeat=1)}


def _voting_weights(evaluation, extra, repeat):
    """``voting_weights_`` and ``linear_weight_`` from an evaluation whose
    members are the cycles (``repeat`` snapshots each, sharing a cycle's
    weight), with ``extra`` as one more member if given."""
    if extra is not None:
        evaluation.add(extra)
    weights = evaluation.voting_weights()
    linear = None
    if extra is not None:
        weights, linear = weights[:-1], float(weights[-1])
    return {
        "voting_weights_": np.repeat(weights, repeat) / repeat,
        "linear_weight_": linear,
    }


def _out_of_fold_evaluation(snapshot_outputs, new_evaluation, train, folds, extra):
    """The evaluation of cross-fitted snapshots, from out-of-fold predictions.

    A snapshot's training loss is on the rows its network trained on, its
    validation loss on its network's fold. The voting weights are fitted per
    cycle: each row's out-of-fold prediction of a cycle is that of the network
    that did not train on it, the cycles' weights minimise the loss of their
    mix over all training rows, and each snapshot of a cycle gets an equal share
    of the cycle's weight. The disagreement is measured on all training rows.
    """
    X, y, sample_weight = train
    n_networks = int(folds.max()) + 1
    in_fold = [folds == k for k in range(n_networks)]

    def rows(mask):
        weights = None if sample_weight is None else sample_weight[mask]
        return new_evaluation(y[mask], weights)

    everywhere = np.ones(len(folds), dtype=bool)
    on_train, out_of_fold = rows(everywhere), rows(everywhere)
    trained_on = [rows(~mask) for mask in in_fold]
    held_out = [rows(mask) for mask in in_fold]
    cycle_output = None
    for index, output in enumerate(snapshot_outputs(X)):
        k = index % n_networks
        on_train.add(output)
        trained_on[k].add(output[~in_fold[k]])
        held_out[k].add(output[in_fold[k]])
        if cycle_output is None:
            cycle_output = np.array(output, dtype=float)
        cycle_output[in_fold[k]] = output[in_fold[k]]
        if k == n_networks - 1:
            out_of_fold.add(cycle_output)
            cycle_output = None

    def by_snapshot(evaluations):
        # snapshot s is network s % K's in cycle s // K
        per_network = np.stack([evaluation.losses() for evaluation in evaluations])
        return per_network.T.reshape(-1)

    return {
        "snapshot_train_loss_": by_snapshot(trained_on),
        "snapshot_validation_loss_": by_snapshot(held_out),
        "snapshot_disagreement_": on_train.disagreement(),
        **_voting_weights(out_of_fold, extra, repeat=n_networks),
    }


def evaluation_to_json(attributes):
    """The evaluation attributes as JSON data, for a snapshot directory."""
    record = {
        key: None if attributes[name] is None else np.asarray(attributes[name]).tolist()
        for name, key in EVALUATION_ATTRIBUTES.items()
    }
    linear = attributes.get("linear_member_")
    if linear is not None:
        record["linear_member"] = {
            "weight": float(attributes["linear_weight_"]),
            "kernel": np.asarray(linear[0], dtype=np.float64).tolist(),
            "bias": np.asarray(linear[1], dtype=np.float64).tolist(),
        }
    return record


def linear_member_from_json(record, n_features, n_units):
    """``(linear_member_, linear_weight_)`` from :func:`evaluation_to_json` data,
    ``(None, None)`` if it has none. Raises ValueError for a member of the wrong
    shape, a non-finite value or a weight outside [0, 1]."""
    record = record if isinstance(record, dict) else {}
    linear = record.get("linear_member")
    if linear is None:
        return None, None
    try:
        weight = float(linear["weight"])
        kernel = np.asarray(linear["kernel"], dtype=np.float64)
        bias = np.asarray(linear["bias"], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        raise ValueError("records a linear_member that cannot be read.") from None
    if kernel.shape != (n_features, n_units) or bias.shape != (n_units,):
        raise ValueError(
            "records a linear_member whose kernel is not of shape"
            f" {(n_features, n_units)} and bias of shape {(n_units,)}."
        )
    if not (np.isfinite(kernel).all() and np.isfinite(bias).all() and 0 <= weight <= 1):
        raise ValueError(
            "records a linear_member with non-finite values or a weight outside [0, 1]."
        )
    return [kernel.astype(np.float32), bias.astype(np.float32)], weight


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
