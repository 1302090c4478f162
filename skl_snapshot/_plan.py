"""The plan of one fit: what training follows, resume matches and a manifest records.

A :class:`FitPlan` is built once per ``fit`` (or read back from a snapshot
directory) and never changed: training follows its cycles and restart rule,
``resume`` continues a directory only if its newest plan agrees with this fit's
on :data:`FitPlan.MATCHED`, and the manifest stores :meth:`FitPlan.to_json`.
"""

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ._schedules import METHODS


def steps_per_cycle(n_samples, batch_size, cycle_epochs):
    """Number of optimizer iterations of each cycle."""
    batches_per_epoch = math.ceil(n_samples / batch_size)
    return [epochs * batches_per_epoch for epochs in cycle_epochs]


def rows_per_epoch(n_samples, n_networks, cross_fit):
    """Rows each network visits per epoch: all, or when cross-fitting those
    left by the largest fold (``n_samples / n_networks`` rounded up)."""
    if not cross_fit:
        return n_samples
    return n_samples - math.ceil(n_samples / n_networks)


def cross_fit_folds(n_networks, seed, groups=None, n_samples=None):
    """The fold of every row: network k never trains on the rows of fold k.

    The rows are shuffled from ``seed`` and dealt to the folds in turn, within
    each value of ``groups`` (a classifier's class indices) when given, so that
    the folds are stratified and their sizes differ by at most one row.

    Parameters
    ----------
    n_networks : int
        Number of folds.
    seed : int
        Seed of the shuffle.
    groups : ndarray of shape (n_samples,), default=None
        Values to stratify on.
    n_samples : int, default=None
        Number of rows, when ``groups`` is None.

    Returns
    -------
    folds : ndarray of shape (n_samples,)
        Fold index of each row.

    Examples
    --------
    >>> cross_fit_folds(2, seed=0, groups=np.array([0, 0, 1, 1])).tolist()
    [0, 1, 1, 0]
    """
    rng = np.random.default_rng([seed, 1])
    if groups is None:
        groups = np.zeros(n_samples, dtype=int)
    groups = np.asarray(groups)
    order = rng.permutation(len(groups))
    # stable sort by group keeps the shuffle within each group
    order = order[np.argsort(groups[order], kind="stable")]
    folds = np.empty(len(groups), dtype=np.int64)
    folds[order] = np.arange(len(groups)) % n_networks
    return folds


@dataclass(frozen=True)
class FitPlan:
    """Everything one ``fit`` decided before training.

    Parameters
    ----------
    epochs, n_cycles : int
        The estimator's budget.
    cycle_epochs : tuple of int
        Epochs of each cycle, as the method splits the budget.
    batch_size : int
        Rows per mini-batch (at most the number of training rows).
    lr_max, lr_min : float
        The schedule's bounds.
    n_samples : int
        Training rows, after the held-out ones were set aside.
    seed : int
        The seed of initialisation, data order and restart noise.
    momentum : float or None
        SGD's momentum; None in plans written before it was recorded.
    data_sha256 : str or None
        Fingerprint of the training data as the network sees it.
    first_snapshot : int
        Index of this fit's first snapshot among all snapshots (warm start).
    epoch_offset : int
        Epochs trained by earlier fits (warm start).
    method : {"snapshot", "fge", "swa"}
        The ensemble method.
    restart_shrink, restart_noise : float
        The shrink-and-perturb rule of the warm restarts.
    restart_loss_threshold : float or None
        Perturb only after a cycle whose mean training loss fell below it.
    init_scales : tuple of float or None
        Standard deviation of each trainable variable at initialisation, what
        the restart noise is measured against; None in plans written before.
    n_networks : int
        Networks trained side by side, each giving a snapshot per cycle.
    cross_fit : bool
        Whether network k never trains on fold k of the rows (folds dealt from
        ``seed``, see :func:`cross_fit_folds`), so that every row has
        predictions of a network that did not train on it.
    clipnorm : float or None
        Norm each variable's gradient is clipped to; None: unclipped (and in
        plans written before it was recorded).
    schedule : {"cosine", "triangular"}
        The shape of the snapshot cycles; cosine in plans written before it
        was recorded.

    The defaults of the fields after ``seed`` are what a plan written before
    that field existed meant by its absence.
    """

    epochs: int
    n_cycles: int
    cycle_epochs: tuple
    batch_size: int
    lr_max: float
    lr_min: float
    n_samples: int
    seed: int
    momentum: float | None = None
    data_sha256: str | None = None
    first_snapshot: int = 0
    epoch_offset: int = 0
    method: str = "snapshot"
    restart_shrink: float = 1.0
    restart_noise: float = 0.0
    restart_loss_threshold: float | None = None
    init_scales: tuple | None = None
    n_networks: int = 1
    cross_fit: bool = False
    clipnorm: float | None = None
    schedule: str = "cosine"

    #: Fields that must agree for ``resume`` to continue a directory's run; the
    #: seed, the offsets and the scales are taken from the directory.
    MATCHED = (
        "method",
        "restart_shrink",
        "restart_noise",
        "restart_loss_threshold",
        "epochs",
        "n_cycles",
        "batch_size",
        "lr_max",
        "lr_min",
        "momentum",
        "n_samples",
        "data_sha256",
        "n_networks",
        "cross_fit",
        "clipnorm",
        "schedule",
    )

    def __post_init__(self):
        object.__setattr__(self, "cycle_epochs", tuple(self.cycle_epochs))
        if self.init_scales is not None:
            object.__setattr__(self, "init_scales", tuple(self.init_scales))

    @property
    def epoch_rows(self):
        """Rows each network visits per epoch (see :func:`rows_per_epoch`)."""
        return rows_per_epoch(self.n_samples, self.n_networks, self.cross_fit)

    @property
    def cycle_steps(self):
        """Optimizer iterations of each cycle."""
        return steps_per_cycle(self.epoch_rows, self.batch_size, self.cycle_epochs)

    def replace(self, **changes):
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)

    def perturbs_at_restart(self, previous_loss):
        """Whether a warm restart shrinks and perturbs the weights.

        Only ``method="snapshot"`` does, with a shrink below 1 or some noise,
        and, with a ``restart_loss_threshold``, only when the mean training loss
        of the cycle before (``previous_loss``) fell below it: a network that
        fits its training rows has near-zero gradients, so raising the learning
        rate alone would not move it, while one still learning is moved by the
        rate.
        """
        if self.method != "snapshot" or (
            self.restart_shrink == 1.0 and self.restart_noise == 0.0
        ):
            return False
        threshold = self.restart_loss_threshold
        return threshold is None or (
            previous_loss is not None and previous_loss < threshold
        )

    def mismatch(self, other):
        """Why ``other`` (this fit's plan) cannot continue this run, or None."""
        for name in self.MATCHED:
            there, now = getattr(self, name), getattr(other, name)
            if there != now:
                if name == "data_sha256":
                    return "the training data differs"
                return f"{name} differs ({there!r} there, {now!r} now)"
        return None

    def to_json(self):
        """The plan as a JSON object (tuples become lists)."""
        record = dataclasses.asdict(self)
        record["cycle_epochs"] = list(self.cycle_epochs)
        if self.init_scales is not None:
            record["init_scales"] = list(self.init_scales)
        return record

    @classmethod
    def from_json(cls, record, where="the plan"):
        """The plan a JSON object describes, checked field by field.

        Raises
        ------
        ValueError
            Naming ``where`` and the field, if ``record`` is not a plan: a
            missing or mistyped field, a count outside its range, a rate that
            is not finite, cycles that do not add up to the epochs, a batch
            larger than the data, or more than :data:`MAX_STEPS` optimizer
            steps (a record from disk must not make the history that is
            derived from it allocate more than about a gigabyte).
        """
        if not isinstance(record, dict):
            raise ValueError(f"{where} is not an object")
        values = {}
        for spec in dataclasses.fields(cls):
            required = spec.default is dataclasses.MISSING
            if spec.name not in record:
                if required:
                    raise ValueError(f"{where} has no {spec.name!r}")
                continue
            check = _FIELD_CHECKS[spec.name]
            value = record[spec.name]
            problem = check(value)
            if problem:
                raise ValueError(
                    f"{where}[{spec.name!r}] {problem} (got {_short(value)})"
                )
            values[spec.name] = value
        plan = cls(**values)
        if (
            sum(plan.cycle_epochs) > plan.epochs
            or len(plan.cycle_epochs) != plan.n_cycles
        ):
            raise ValueError(
                f"{where}: cycle_epochs {_short(list(plan.cycle_epochs))} do not fit"
                f" in {plan.epochs} epochs and {plan.n_cycles} cycles"
            )
        if plan.cross_fit and not 2 <= plan.n_networks <= plan.n_samples:
            raise ValueError(
                f"{where}: cross_fit needs n_networks >= 2 and a row in every"
                " network's fold (n_samples >= n_networks)."
                f" Got n_networks={plan.n_networks} with"
                f" n_samples={plan.n_samples}"
            )
        if plan.batch_size > plan.epoch_rows:
            raise ValueError(
                f"{where}: batch_size must be <= the rows of an epoch (a fit never"
                f" batches more rows than it has). Got batch_size={plan.batch_size}"
                f" with {plan.epoch_rows} rows an epoch"
            )
        if plan.lr_min > plan.lr_max:
            raise ValueError(
                f"{where}: lr_min must be <= lr_max. Got lr_min={plan.lr_min!r}"
                f" with lr_max={plan.lr_max!r}"
            )
        steps = sum(plan.cycle_steps)
        if steps > MAX_STEPS:
            raise ValueError(
                f"{where}: its cycles take {steps} optimizer steps, more than the"
                f" {MAX_STEPS} a plan may describe"
            )
        return plan


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _count(minimum, maximum):
    def check(value):
        if not isinstance(value, int) or isinstance(value, bool):
            return "is not an integer"
        if value < minimum:
            return f"is below {minimum}"
        if value > maximum:
            return f"is above {maximum}"
        return None

    return check


def _real(value, optional=False, positive=False, minimum=None, maximum=None):
    if value is None and optional:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "is not a number"
    if not math.isfinite(value):
        return "is not finite"
    if positive and value <= 0:
        return "is not positive"
    if minimum is not None and value < minimum:
        return f"is below {minimum}"
    if maximum is not None and value > maximum:
        return f"is above {maximum}"
    return None


def _numbers(value, element):
    if not isinstance(value, list) or not value:
        return "is not a non-empty list"
    if any(element(item) for item in value):
        return "holds an invalid entry"
    return None


def _text(value, optional=False):
    if value is None and optional:
        return None
    return None if isinstance(value, str) else "is not a string"


#: Limits of a plan read from disk, far beyond any fit: epochs of one fit, rows
#: of its data, optimizer steps of its cycles (what the learning-rate history
#: holds: 10**8 steps are 0.8 GB), and the epochs and snapshots of earlier fits.
MAX_EPOCHS = 10**6
MAX_SAMPLES = 10**9
MAX_STEPS = 10**8
MAX_OFFSET = 10**12

_FIELD_CHECKS = {
    "epochs": _count(1, MAX_EPOCHS),
    "n_cycles": _count(1, MAX_EPOCHS),
    "cycle_epochs": lambda value: _numbers(value, _count(1, MAX_EPOCHS)),
    "batch_size": _count(1, MAX_SAMPLES),
    "lr_max": lambda value: _real(value, positive=True),
    "lr_min": lambda value: _real(value, minimum=0),
    "n_samples": _count(1, MAX_SAMPLES),
    # fits draw their seed below 2**31; NumPy's and TensorFlow's take 32 bits
    "seed": _count(0, 2**32 - 1),
    "momentum": lambda value: _real(value, optional=True, minimum=0, maximum=1),
    "data_sha256": lambda value: _text(value, optional=True),
    "first_snapshot": _count(0, MAX_OFFSET),
    "epoch_offset": _count(0, MAX_OFFSET),
    "method": lambda value: None if value in METHODS else f"is not one of {METHODS}",
    "restart_shrink": lambda value: _real(value, minimum=0, maximum=1),
    "restart_noise": lambda value: _real(value, minimum=0),
    "restart_loss_threshold": lambda value: _real(value, optional=True, positive=True),
    "init_scales": lambda value: (
        None if value is None else _numbers(value, lambda item: _real(item, minimum=0))
    ),
    "n_networks": _count(1, 1024),
    "cross_fit": lambda value: None if isinstance(value, bool) else "is not a boolean",
    "clipnorm": lambda value: _real(value, optional=True, positive=True),
    "schedule": lambda value: (
        None if value in ("cosine", "triangular") else "is not 'cosine' or 'triangular'"
    ),
}

#: What a plan written before the restart fields existed says about restarts:
#: a snapshot ensemble whose restarts only restart the learning rate.
_RESTART_FIELDS = (
    "method",
    "restart_shrink",
    "restart_noise",
    "restart_loss_threshold",
)
RESTART_DEFAULTS = {
    spec.name: spec.default
    for spec in dataclasses.fields(FitPlan)
    if spec.name in _RESTART_FIELDS
}
