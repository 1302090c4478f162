"""Displays, in the manner of scikit-learn's Display API.

``from_estimator`` computes, ``plot(ax=None)`` draws and returns the display with
``ax_`` and ``figure_`` set. matplotlib is an optional dependency, imported only
when something is drawn.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["EnsembleSizeDisplay", "LearningRateDisplay"]

_METRICS = {
    "accuracy": "Accuracy",
    "log_loss": "Log-loss",
    "r2": "R²",
    "rmse": "RMSE",
}
# The metrics each task's snapshot_scores gives (rmse from its mse column).
_TASK_METRICS = {
    "classification": ("accuracy", "log_loss"),
    "regression": ("r2", "rmse"),
}


def check_matplotlib_support(caller_name):
    """Raise a clear ImportError if matplotlib, an optional dependency, is absent."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"{caller_name} requires matplotlib. Install it with"
            " pip install 'skl_snapshot[plot]'."
        ) from error


def _mean_disagreement(disagreement, order):
    """Mean pairwise disagreement among the first k snapshots of ``order``.

    ``disagreement`` is the (n_snapshots, n_snapshots) matrix of
    ``snapshot_disagreement_``; entry k - 1 of the result averages it over the
    k (k - 1) / 2 pairs among ``order[:k]``, and is 0 for k = 1 (no pair).
    """
    disagreement = np.asarray(disagreement, dtype=float)
    order = [int(index) for index in order]
    means = np.zeros(len(order))
    pair_total = 0.0
    for k in range(1, len(order)):
        # order[k] joins, adding its pairs with the k snapshots already in
        pair_total += disagreement[order[k], order[:k]].sum()
        means[k] = pair_total / (k * (k + 1) / 2)
    return means


def _axes(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax


class EnsembleSizeDisplay:
    """Each snapshot alone against the ensemble of the first k snapshots.

    Dots are single snapshots, the line is the ensemble as snapshots join in
    ``member_order``, and a dashed line marks the final network (the newest
    snapshot) alone: where the line is above it (accuracy) or below it (log-loss),
    the ensemble beats the single network training ended with.

    With ``disagreement``, a dotted line on a second y axis shows the mean
    pairwise disagreement among the first k snapshots, the diversity the vote
    can draw on: snapshots that always predict the same class cannot correct
    each other's mistakes.

    Parameters
    ----------
    n_members : ndarray of shape (n_snapshots,)
        Ensemble sizes k = 1, ..., M.
    single_scores : ndarray of shape (n_snapshots,)
        Score of the k-th snapshot alone.
    ensemble_scores : ndarray of shape (n_snapshots,)
        Score of the ensemble of the first k snapshots.
    final_score : float
        Score of the newest snapshot alone.
    metric : {"accuracy", "log_loss", "r2", "rmse"}, default="accuracy"
        Which score the arrays hold.
    snapshot_epochs : ndarray of shape (n_snapshots,), default=None
        Epoch of the k-th snapshot, shown in the axis label when given.
    disagreement : ndarray of shape (n_snapshots,), default=None
        Mean pairwise disagreement (share of rows on which two snapshots predict
        different classes) among the first k snapshots in ``member_order``; 0 for
        k = 1. Drawn on a second y axis when given.

    Attributes
    ----------
    ax_ : matplotlib.axes.Axes
        The axes drawn on.
    figure_ : matplotlib.figure.Figure
        The figure holding ``ax_``.
    single_points_ : matplotlib.collections.PathCollection
        The single-snapshot dots.
    ensemble_line_ : matplotlib.lines.Line2D
        The ensemble line.
    final_line_ : matplotlib.lines.Line2D
        The dashed line of the final network alone.
    disagreement_ax_ : matplotlib.axes.Axes or None
        The second y axis, sharing x with ``ax_``, holding the disagreement;
        None without ``disagreement``.
    disagreement_line_ : matplotlib.lines.Line2D or None
        The dotted disagreement line; None without ``disagreement``.

    See Also
    --------
    SnapshotEnsembleClassifier.snapshot_scores : The scores behind the plot.
    LearningRateDisplay : The learning-rate schedule with the snapshot points.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from skl_snapshot import EnsembleSizeDisplay, SnapshotEnsembleClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SnapshotEnsembleClassifier(epochs=30, n_cycles=3, random_state=0)
    >>> display = EnsembleSizeDisplay.from_estimator(clf.fit(X, y), X, y)
    >>> display.ensemble_scores.shape  # 3 cycles of 4 networks
    (12,)
    >>> display.disagreement.shape
    (12,)
    """

    def __init__(
        self,
        *,
        n_members,
        single_scores,
        ensemble_scores,
        final_score,
        metric="accuracy",
        snapshot_epochs=None,
        disagreement=None,
    ):
        self.n_members = n_members
        self.single_scores = single_scores
        self.ensemble_scores = ensemble_scores
        self.final_score = final_score
        self.metric = metric
        self.snapshot_epochs = snapshot_epochs
        self.disagreement = disagreement

    @classmethod
    def from_estimator(cls, estimator, X, y, *, metric=None, ax=None):
        """Score a fitted estimator on ``(X, y)`` and plot the result.

        Parameters
        ----------
        estimator : SnapshotEnsembleClassifier or SnapshotEnsembleRegressor
            A fitted estimator; its ``member_order`` sets the order in which
            snapshots join. Its ``snapshot_disagreement_`` (measured at fit, on
            the held-out rows if any, else on the training rows, not on ``X``)
            gives the disagreement line; an estimator without it, such as one
            pickled by an older version, is plotted without the line.
        X : array-like of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,)
            True labels.
        metric : {"accuracy", "log_loss", "r2", "rmse"} or None, default=None
            The score to plot: ``"accuracy"`` or ``"log_loss"`` for a
            classifier, ``"r2"`` or ``"rmse"`` for a regressor. None plots the
            first of these for the estimator's task.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; a new figure if None.

        Returns
        -------
        display : EnsembleSizeDisplay
            The display, drawn.
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        accepted = _TASK_METRICS[getattr(estimator, "_task", "classification")]
        metric = accepted[0] if metric is None else metric
        if metric not in accepted:
            raise ValueError(
                f"metric must be one of {list(accepted)} for"
                f" {type(estimator).__name__}. Got metric={metric!r}."
            )
        scores = estimator.snapshot_scores(X, y)
        if metric == "rmse":
            scores["single_rmse"] = np.sqrt(scores.single_mse)
            scores["ensemble_rmse"] = np.sqrt(scores.ensemble_mse)
        newest = estimator.n_snapshots_ - 1
        final = scores[f"single_{metric}"][list(scores.snapshot).index(newest)]
        pairwise = getattr(estimator, "snapshot_disagreement_", None)
        disagreement = (
            None if pairwise is None else _mean_disagreement(pairwise, scores.snapshot)
        )
        display = cls(
            n_members=scores.n_members,
            single_scores=scores[f"single_{metric}"],
            ensemble_scores=scores[f"ensemble_{metric}"],
            final_score=float(final),
            metric=metric,
            snapshot_epochs=scores.epoch,
            disagreement=disagreement,
        )
        return display.plot(ax=ax)

    def plot(self, ax=None):
        """Draw the display.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; a new figure if None.

        Returns
        -------
        display : EnsembleSizeDisplay
            This display, with ``ax_``, ``figure_`` and the artists set;
            ``disagreement_ax_`` and ``disagreement_line_`` are None without
            ``disagreement``.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        ax = _axes(ax)
        label = _METRICS[self.metric]
        self.single_points_ = ax.scatter(
            self.n_members,
            self.single_scores,
            color="tab:gray",
            zorder=3,
            label="k-th snapshot alone",
        )
        (self.ensemble_line_,) = ax.plot(
            self.n_members,
            self.ensemble_scores,
            color="tab:blue",
            marker="o",
            label="ensemble of the first k",
        )
        self.final_line_ = ax.axhline(
            self.final_score,
            color="tab:red",
            linestyle="--",
            label="final network alone",
        )
        ax.set_xticks(self.n_members)
        ax.set_xlabel("k (snapshots in member order)")
        ax.set_ylabel(label)
        ax.set_title(f"{label} against ensemble size")
        self.disagreement_ax_ = self.disagreement_line_ = None
        handles, labels = ax.get_legend_handles_labels()
        if self.disagreement is not None:
            twin = self.disagreement_ax_ = ax.twinx()
            (self.disagreement_line_,) = twin.plot(
                self.n_members,
                self.disagreement,
                color="tab:green",
                linestyle=":",
                marker=".",
                label="mean disagreement of the first k",
            )
            twin.set_ylabel("mean pairwise disagreement")
            twin.set_ylim(bottom=0)
            handles.append(self.disagreement_line_)
            labels.append(self.disagreement_line_.get_label())
            # A twin axes is drawn over its host: lift the host (with its
            # transparent background) so the scores and the legend stay on top.
            ax.set_zorder(twin.get_zorder() + 1)
            ax.patch.set_visible(False)
        ax.legend(handles, labels)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self


class LearningRateDisplay:
    """The learning rate of every iteration, with the snapshot points marked.

    Parameters
    ----------
    learning_rates : ndarray of shape (n_iterations,)
        The rate of every optimizer iteration.
    snapshot_iterations : ndarray of shape (n_snapshots,)
        Iterations completed when each snapshot was taken.
    snapshot_learning_rates : ndarray of shape (n_snapshots,)
        The rate of the last iteration before each snapshot.

    Attributes
    ----------
    ax_ : matplotlib.axes.Axes
        The axes drawn on.
    figure_ : matplotlib.figure.Figure
        The figure holding ``ax_``.
    line_ : matplotlib.lines.Line2D
        The schedule.
    snapshot_points_ : matplotlib.collections.PathCollection
        The snapshot markers.

    See Also
    --------
    cyclic_cosine_annealing : The schedule as a function.
    EnsembleSizeDisplay : Single snapshots against ensembles.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from skl_snapshot import LearningRateDisplay, SnapshotEnsembleClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SnapshotEnsembleClassifier(epochs=30, n_cycles=3, random_state=0)
    >>> display = LearningRateDisplay.from_estimator(clf.fit(X, y))
    >>> display.snapshot_iterations.tolist()  # cycles of 4, 8 and 18 epochs
    [16, 16, 16, 16, 48, 48, 48, 48, 120, 120, 120, 120]
    """

    def __init__(self, *, learning_rates, snapshot_iterations, snapshot_learning_rates):
        self.learning_rates = learning_rates
        self.snapshot_iterations = snapshot_iterations
        self.snapshot_learning_rates = snapshot_learning_rates

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """Plot the schedule a fitted estimator followed.

        Parameters
        ----------
        estimator : SnapshotEnsembleClassifier or SnapshotEnsembleRegressor
            A fitted estimator.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; a new figure if None.

        Returns
        -------
        display : LearningRateDisplay
            The display, drawn.
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        check_is_fitted(estimator)
        display = cls(
            learning_rates=np.asarray(estimator.learning_rate_history_),
            snapshot_iterations=np.asarray(estimator.snapshot_iterations_),
            snapshot_learning_rates=np.asarray(estimator.snapshot_learning_rates_),
        )
        return display.plot(ax=ax)

    def plot(self, ax=None):
        """Draw the display.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; a new figure if None.

        Returns
        -------
        display : LearningRateDisplay
            This display, with ``ax_`` and ``figure_`` set.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        ax = _axes(ax)
        (self.line_,) = ax.plot(
            np.arange(1, len(self.learning_rates) + 1),
            self.learning_rates,
            color="tab:blue",
            label="learning rate",
        )
        self.snapshot_points_ = ax.scatter(
            self.snapshot_iterations,
            self.snapshot_learning_rates,
            color="tab:red",
            zorder=3,
            label="snapshot",
        )
        ax.set_xlabel("iteration (mini-batch)")
        ax.set_ylabel("learning rate")
        ax.set_title("Cyclic cosine annealing with warm restarts")
        ax.legend()
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
