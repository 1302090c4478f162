"""SnapshotEnsembleClassifier: M networks for the training cost of one."""

import hashlib
import inspect
import os
import uuid
from numbers import Integral, Real

import keras
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score, log_loss
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._members import (
    evaluate_members,
    evaluation_to_json,
    member_report,
    split_validation,
)
from ._network import (
    MemberPredictor,
    MLPForward,
    average_weights,
    build_mlp,
    recompute_batch_norm,
)
from ._parallel import configure_tensorflow_threads, distribution_strategy
from ._persistence import (
    SnapshotStore,
    SnapshotWeights,
)
from ._schedules import METHODS, CycleSchedule, method_cycle_epochs
from ._scikeras import (
    ROUTING_PREFIXES,
    ClassifierLabelEncoder,
    build_network,
    is_one_hot_loss,
    make_loss,
    routed_params,
    seeded,
)
from ._snapshot_dir import (
    estimator_from_snapshot_dir,
    ledger_record,
    manifest_header,
    optional_float,
    read_snapshots,
)
from ._training import (
    FIT_ARGUMENTS,
    MLP_ACTIVATIONS,
    make_optimizer,
    perturbs_at_restart,
    restart_weights,
    retracing_warnings_silenced,
    steps_per_cycle,
    train_snapshots,
)

__all__ = ["SnapshotEnsembleClassifier"]

_SCORE_COLUMNS = (
    "single_accuracy",
    "single_log_loss",
    "ensemble_accuracy",
    "ensemble_log_loss",
)

# Parameters that act at prediction time and are checked again there, since
# ``set_params`` on a fitted estimator may change them without refitting.
_PREDICTION_PARAMETERS = ("n_members", "member_order", "member_weights")


class SnapshotEnsembleClassifier(ClassifierMixin, BaseEstimator):
    """Snapshot ensemble of a Keras network: M classifiers for one training run.

    One network is trained with stochastic gradient descent whose learning rate
    follows ``n_cycles`` cycles of cosine annealing with warm restarts, updated at
    every mini-batch. At the end of each cycle the network sits in a minimum and its
    weights are kept as a snapshot; the restart to ``lr_max`` pushes it towards
    another one, and, once the network fits its training rows so closely that
    the rate alone would not move it, also shrinks and perturbs its weights
    (``restart_loss_threshold``). Predictions average the class probabilities of
    the chosen snapshots (soft voting).

    Parameters
    ----------
    model : None, callable or keras.Model, default=None
        The network. None builds a multi-layer perceptron from
        ``hidden_layer_sizes`` and ``activation`` with a softmax output. A callable
        is a scikeras-style builder: it is called with its ``model__*``
        parameters, the extra keyword arguments given to this estimator, and, if
        its signature asks for them, ``meta`` (fitted metadata such as
        ``n_features_in_``, ``n_classes_`` and ``classes_``) and
        ``compile_kwargs``. A ``keras.Model`` is cloned, with fresh weights, at
        every ``fit``. The network must output class probabilities: one softmax
        unit per class, or one sigmoid unit for two classes. Whatever optimizer it
        was compiled with is replaced by SGD with the snapshot schedule; its loss
        is kept.
    hidden_layer_sizes : tuple of int, default=(50,)
        Units of the hidden layers of the built-in network (``model=None``).
    activation : str, default="relu"
        Activation of the hidden layers of the built-in network.
    epochs : int, default=320
        Total training budget, in passes over the training data. Split into
        ``n_cycles`` cycles of ``epochs // n_cycles`` epochs, the last one taking
        the remainder.
    n_cycles : int, default=8
        Number of learning-rate cycles, and so of snapshots. The default gives 40
        epochs per cycle: enough for a small tabular problem to converge within
        each cycle, and eight members to average. Five members (200 epochs)
        beat the final network less reliably: the more members, the less the
        ensemble depends on any one of them (user guide, "Why these defaults").
    method : {"snapshot", "fge", "swa"}, default="snapshot"
        How the members are collected. ``"snapshot"``: ``n_cycles`` equal cycles
        of cosine annealing from ``lr_max`` (Huang et al. 2017). ``"fge"``: fast
        geometric ensembling (Garipov et al. 2018): half the epochs in one cosine
        cycle, then ``n_cycles - 1`` short cycles that rise linearly from
        ``lr_min`` to ``lr_max / 2`` and fall back, with a member at the low
        point of each, so that members stay close to one another but differ.
        ``"swa"``: the same schedule, but the members' weights are averaged
        into one network (stochastic weight averaging, Izmailov et al. 2018),
        whose BatchNormalization statistics, if it has any, are recomputed on
        the training rows; it predicts at the cost of one network, and
        ``n_members`` and ``member_weights`` must stay at their defaults.
    restart_shrink : float in (0, 1], default=0.5
        Factor the weights are multiplied by at a warm restart of
        ``method="snapshot"`` that perturbs (see ``restart_loss_threshold``),
        before ``restart_noise`` is added.
    restart_noise : float >= 0, default=1.0
        Standard deviation of the Gaussian noise added to the weights at a warm
        restart that perturbs, in units of each weight variable's standard
        deviation at initialisation: ``w <- restart_shrink * w + restart_noise *
        scale * z`` ("shrink and perturb", Ash & Adams 2020). A network that
        fits its training rows has near-zero gradients, so raising the learning
        rate alone leaves it where it is and the snapshots stay alike; shrinking
        and perturbing sends it towards another solution while keeping half of
        what it learned. ``restart_shrink=1`` with ``restart_noise=0`` restarts
        the learning rate only, as Huang et al. (2017) do. The defaults were
        chosen on six data sets and 40 seeds (``bench/bench_quality.py``; the
        user guide shows the evidence). ``"fge"`` and ``"swa"`` ignore both,
        since their members must stay close.
    restart_loss_threshold : float > 0 or None, default=0.02
        A warm restart shrinks and perturbs the weights only when the mean
        training loss of the cycle before (its entry in ``loss_history_``, in
        the units of the loss) fell below this value: when the network had
        fitted its training rows, and a learning-rate restart would not move it.
        A network still learning is moved by the rate and is left as it is, so
        data it cannot fit are trained as in the paper.
        None: shrink and perturb at every restart. ``snapshot_perturbed_`` says
        which restarts did.
    lr_max : float, default=0.05
        Learning rate at the start of every cycle. Snapshots differ only if the
        restart is strong enough to move the network away from the previous
        minimum. With momentum 0.9 and standardised inputs, 0.05 trained stably on
        iris, wine, breast cancer and digits, where the ensemble of all snapshots
        matched the final network's accuracy and improved its log-loss on most of
        them; 0.01 left the early snapshots weak. Lower it for unscaled inputs or
        if ``fit`` reports divergence; on data the network fits perfectly early,
        restarts move it little and snapshots stay alike.
    lr_min : float, default=0.0
        Rate the cosine falls towards at the end of every cycle.
    momentum : float, default=0.9
        Momentum of SGD, as in Huang et al. (2017).
    batch_size : int, default=32
        Mini-batch size; clipped to the number of training samples.
    n_members : int or None, default=None
        How many snapshots vote; None uses all of them. Acts at prediction time:
        ``set_params(n_members=3)`` on a fitted estimator changes its predictions
        without refitting.
    member_order : {"newest", "oldest", "best"}, default="newest"
        Which snapshots come first. ``"newest"`` takes the last ``n_members``
        cycles (the paper's choice: later snapshots are usually better);
        ``"oldest"`` the first ones; ``"best"`` those with the lowest log-loss on
        the held-out rows (needs ``validation_fraction``). Acts at prediction
        time.
    member_weights : {"uniform", "fitted"}, default="uniform"
        How the voting snapshots' probabilities are combined. ``"uniform"``
        averages them. ``"fitted"`` takes the weighted mean with the
        non-negative weights, summing to one, that minimise the log-loss on the
        held-out rows (``voting_weights_``; needs ``validation_fraction``); when
        fewer than all snapshots vote, their weights are rescaled to sum to one.
        Acts at prediction time.
    validation_fraction : float or None, default=None
        Share of the training rows held out, stratified by class, as in
        ``MLPClassifier``. The network never trains on them; they rank the
        snapshots (``member_order="best"``), fit the voting weights
        (``member_weights="fitted"``) and measure the snapshots' diversity.
        None trains on all rows, and the diversity is measured on them.
    snapshot_dir : str, path-like or None, default=None
        If set, each snapshot is written to this directory the moment its cycle
        ends, atomically, in Keras' weights format, with a JSON manifest (see
        :meth:`from_snapshot_dir`). A crash leaves only complete snapshots.
    in_memory : bool, default=True
        Keep the snapshots' weights in memory. False (which needs
        ``snapshot_dir``) keeps them on disk only: prediction then loads one member
        at a time, so its memory is about that of one network, not of M.
    resume : bool, default=False
        If ``snapshot_dir`` holds an unfinished run of this same fit (same data,
        parameters and network), continue it from its newest complete snapshot,
        with the optimizer state saved there, instead of refusing to overwrite it.
        An empty or missing directory starts a new run.
    overwrite : bool, default=False
        Allow ``fit`` to replace the snapshots of another run found in
        ``snapshot_dir``. Nothing is overwritten otherwise.
    warm_start : bool, default=False
        If True and the estimator is fitted, ``fit`` continues the same network for
        ``n_cycles`` more cycles of ``epochs`` epochs in all (the schedule restarts
        at ``lr_max``) and appends the new snapshots to the existing ones.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation and shuffling. An int gives the same
        predictions at every fit on CPU.
    verbose : int, default=0
        0 prints nothing; 1 prints one line per finished cycle.
    **kwargs
        Routed parameters as in scikeras: ``model__<name>`` goes to the builder,
        ``optimizer__<name>`` to ``keras.optimizers.SGD`` (``nesterov``,
        ``weight_decay``, ``clipnorm``...), ``loss`` and ``loss__<name>`` choose
        the loss of an uncompiled custom network, and ``fit__callbacks`` takes Keras
        callbacks, which see one epoch per cycle. Un-prefixed extra arguments go
        to the builder.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during ``fit``, when ``X`` has string column names.
    n_snapshots_ : int
        Number of snapshots taken, equal to ``n_cycles``.
    snapshot_weights_ : list of list of ndarray
        The weights of each snapshot, oldest first, as ``keras.Model.get_weights``
        lists them.
    snapshot_epochs_ : ndarray of shape (n_snapshots,)
        The number of epochs completed when each snapshot was taken.
    snapshot_iterations_ : ndarray of shape (n_snapshots,)
        The number of optimizer iterations completed when each snapshot was
        taken: its position in ``learning_rate_history_``.
    snapshot_learning_rates_ : ndarray of shape (n_snapshots,)
        The learning rate of the last iteration before each snapshot.
    learning_rate_history_ : ndarray of shape (n_iterations,)
        The learning rate of every training iteration.
    loss_history_ : ndarray of shape (n_snapshots,)
        Mean training loss over the mini-batches of each cycle.
    snapshot_perturbed_ : ndarray of shape (n_snapshots,), dtype=bool
        Whether the warm restart before each snapshot's cycle shrank and
        perturbed the weights (see ``restart_loss_threshold``); False for the
        first snapshot, which no restart precedes.
    snapshot_train_loss_ : ndarray of shape (n_snapshots,)
        Log-loss of each snapshot alone on the training rows.
    snapshot_validation_loss_ : ndarray of shape (n_snapshots,) or None
        Log-loss of each snapshot alone on the held-out rows; None without
        ``validation_fraction``.
    snapshot_disagreement_ : ndarray of shape (n_snapshots, n_snapshots)
        Share of rows on which two snapshots predict different classes: on the
        held-out rows with ``validation_fraction``, else on the training rows.
        Members that never disagree cannot correct each other.
    averaged_weights_ : list of ndarray or None
        With ``method="swa"``, the weights of the averaged network that
        predicts; None otherwise.
    voting_weights_ : ndarray of shape (n_snapshots,) or None
        Non-negative weights summing to one that minimise the held-out log-loss
        of the weighted mean of all snapshots, used by
        ``member_weights="fitted"``; None without ``validation_fraction``.
    n_iter_ : int
        Number of epochs run.
    t_ : int
        Number of optimizer iterations (mini-batches) run.

    See Also
    --------
    SnapshotEnsembleClassifier.from_snapshot_dir : Load a fitted estimator from a
        snapshot directory.
    CyclicCosineAnnealing : The learning-rate schedule, as a Keras schedule.
    sklearn.neural_network.MLPClassifier : A single network, trained by scikit-learn.
    sklearn.ensemble.VotingClassifier : Soft voting over independently fitted models.

    References
    ----------
    .. [1] Huang, G., Li, Y., Pleiss, G., Liu, Z., Hopcroft, J. E. and Weinberger,
       K. Q. (2017). Snapshot Ensembles: Train 1, get M for free. ICLR.
       arXiv:1704.00109.
    .. [2] Loshchilov, I. and Hutter, F. (2017). SGDR: Stochastic Gradient Descent
       with Warm Restarts. ICLR. arXiv:1608.03983.
    .. [3] Garipov, T., Izmailov, P., Podoprikhin, D., Vetrov, D. and Wilson, A.
       G. (2018). Loss Surfaces, Mode Connectivity, and Fast Ensembling of DNNs.
       NeurIPS. arXiv:1802.10026.
    .. [4] Izmailov, P., Podoprikhin, D., Garipov, T., Vetrov, D. and Wilson, A.
       G. (2018). Averaging Weights Leads to Wider Optima and Better
       Generalization. UAI. arXiv:1803.05407.
    .. [5] Ash, J. T. and Adams, R. P. (2020). On Warm-Starting Neural Network
       Training. NeurIPS. arXiv:1910.08475.
    .. [6] Smith, L. N. (2017). Cyclical Learning Rates for Training Neural
       Networks. WACV. arXiv:1506.01186.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skl_snapshot import SnapshotEnsembleClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = make_pipeline(
    ...     StandardScaler(),
    ...     SnapshotEnsembleClassifier(epochs=40, n_cycles=4, random_state=0),
    ... ).fit(X, y)
    >>> clf[-1].n_snapshots_
    4
    >>> clf.predict_proba(X[:1]).shape
    (1, 3)
    """

    _parameter_constraints = {
        "model": [None, callable, keras.Model],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [str, callable],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "n_cycles": [Interval(Integral, 1, None, closed="left")],
        "lr_max": [Interval(Real, 0, None, closed="neither")],
        "lr_min": [Interval(Real, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_members": [None, Interval(Integral, 1, None, closed="left")],
        "method": [StrOptions(set(METHODS))],
        "restart_shrink": [Interval(Real, 0, 1, closed="right")],
        "restart_noise": [Interval(Real, 0, None, closed="left")],
        "restart_loss_threshold": [None, Interval(Real, 0, None, closed="neither")],
        "member_order": [StrOptions({"newest", "oldest", "best"})],
        "member_weights": [StrOptions({"uniform", "fitted"})],
        "validation_fraction": [None, Interval(Real, 0, 1, closed="neither")],
        "snapshot_dir": [None, str, os.PathLike],
        "in_memory": ["boolean"],
        "resume": ["boolean"],
        "overwrite": ["boolean"],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        model=None,
        *,
        hidden_layer_sizes=(50,),
        activation="relu",
        epochs=320,
        n_cycles=8,
        method="snapshot",
        restart_shrink=0.5,
        restart_noise=1.0,
        restart_loss_threshold=0.02,
        lr_max=0.05,
        lr_min=0.0,
        momentum=0.9,
        batch_size=32,
        n_members=None,
        member_order="newest",
        member_weights="uniform",
        validation_fraction=None,
        snapshot_dir=None,
        in_memory=True,
        resume=False,
        overwrite=False,
        warm_start=False,
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        self.model = model
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.epochs = epochs
        self.n_cycles = n_cycles
        self.method = method
        self.restart_shrink = restart_shrink
        self.restart_noise = restart_noise
        self.restart_loss_threshold = restart_loss_threshold
        self.lr_max = lr_max
        self.lr_min = lr_min
        self.momentum = momentum
        self.batch_size = batch_size
        self.n_members = n_members
        self.member_order = member_order
        self.member_weights = member_weights
        self.validation_fraction = validation_fraction
        self.snapshot_dir = snapshot_dir
        self.in_memory = in_memory
        self.resume = resume
        self.overwrite = overwrite
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        vars(self).update(kwargs)

    # -- parameters -------------------------------------------------------------

    @classmethod
    def _named_parameters(cls):
        return [
            name
            for name, parameter in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and parameter.kind != parameter.VAR_KEYWORD
        ]

    def _extra_parameter_names(self):
        """Names of the ``**kwargs`` given at construction or by ``set_params``."""
        named = set(self._named_parameters())
        return sorted(
            name
            for name in vars(self)
            if name not in named and not name.startswith("_") and not name.endswith("_")
        )

    def get_params(self, deep=True):
        """Get the parameters of this estimator, routed ones included.

        Parameters
        ----------
        deep : bool, default=True
            If True, also return the parameters of contained estimators.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)
        params.update(
            {name: getattr(self, name) for name in self._extra_parameter_names()}
        )
        return params

    def set_params(self, **params):
        """Set the parameters of this estimator.

        Routed parameters (``model__units``, ``optimizer__nesterov``, ...) may be
        set even if they were not given at construction.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : SnapshotEnsembleClassifier
            This estimator.
        """
        routed = {
            name: value
            for name, value in params.items()
            if name.split("__", 1)[0] in ROUTING_PREFIXES and "__" in name
        }
        for name, value in routed.items():
            setattr(self, name, value)
        others = {name: value for name, value in params.items() if name not in routed}
        extra = set(self._extra_parameter_names())
        for name in [name for name in others if name in extra]:
            setattr(self, name, others.pop(name))
        return super().set_params(**others)

    def _check_parameter_combinations(self, warm):
        sizes = np.atleast_1d(np.asarray(self.hidden_layer_sizes, dtype=object))
        if sizes.ndim != 1 or not all(
            isinstance(size, Integral) and not isinstance(size, bool) and size >= 1
            for size in sizes
        ):
            raise ValueError(
                "hidden_layer_sizes must be a sequence of ints >= 1. Got"
                f" hidden_layer_sizes={self.hidden_layer_sizes!r}."
            )
        if self.lr_min > self.lr_max:
            raise ValueError(
                "lr_min must be <= lr_max. Got"
                f" lr_min={self.lr_min!r} with lr_max={self.lr_max!r}."
            )
        if self.epochs < self.n_cycles:
            raise ValueError(
                "epochs must be >= n_cycles, so that every cycle has at least one"
                f" epoch. Got epochs={self.epochs} with n_cycles={self.n_cycles}."
            )
        if self.snapshot_dir is None:
            for name, value in (("in_memory", False), ("resume", True)):
                if bool(getattr(self, name)) == value:
                    raise ValueError(
                        f"{name}={value} needs a snapshot_dir to keep the snapshots"
                        " in. Got snapshot_dir=None."
                    )
        if self.method == "swa":
            self._check_averaged_voting("method='swa' predicts")
        if self.validation_fraction is None:
            for name, value in (
                ("member_order", "best"),
                ("member_weights", "fitted"),
            ):
                if getattr(self, name) == value:
                    raise ValueError(
                        f"{name}={value!r} is chosen on held-out rows, never on the"
                        " training rows: set validation_fraction (0.1, say). Got"
                        " validation_fraction=None."
                    )
        if not warm and self.n_members is not None and self.n_members > self.n_cycles:
            raise ValueError(
                "n_members must be <= n_cycles. Got"
                f" n_members={self.n_members} with n_cycles={self.n_cycles}."
            )
        for name in self._extra_parameter_names():
            prefix = name.split("__", 1)[0]
            if "__" in name and prefix not in ROUTING_PREFIXES:
                raise ValueError(
                    f"Unknown routing prefix {prefix!r} in parameter {name}. Routed"
                    f" parameters start with one of {', '.join(ROUTING_PREFIXES)}."
                )
        params = self.get_params()
        optimizer_params = routed_params(params, "optimizer")
        accepted = set(inspect.signature(keras.optimizers.SGD.__init__).parameters)
        accepted -= {"self", "kwargs"}
        for name in optimizer_params:
            if name not in accepted:
                raise TypeError(
                    f"optimizer__{name} is not an argument of keras.optimizers.SGD."
                    f" Accepted: {', '.join(sorted(accepted))}."
                )
        for name in routed_params(params, "fit"):
            if name not in FIT_ARGUMENTS:
                raise TypeError(
                    f"fit__{name} is not supported: snapshot training runs its own"
                    " compiled loop, not keras.Model.fit. Supported:"
                    f" {', '.join('fit__' + name for name in sorted(FIT_ARGUMENTS))}."
                )
        for name in ("learning_rate", "momentum"):
            if name in optimizer_params:
                owner = "lr_max" if name == "learning_rate" else "momentum"
                raise ValueError(
                    f"optimizer__{name} cannot be set: the snapshot schedule owns it."
                    f" Set {owner} instead. Got optimizer__{name}="
                    f"{optimizer_params[name]!r}."
                )

    # -- fitting ----------------------------------------------------------------

    def _builder(self):
        if self.model is None:
            return build_mlp
        if isinstance(self.model, keras.Model):
            template = self.model
            return lambda: keras.models.clone_model(template)
        return self.model

    def _builder_params(self):
        params = self.get_params()
        if self.model is None:
            params["model__hidden_layer_sizes"] = tuple(self.hidden_layer_sizes)
            params["model__activation"] = self.activation
        user_param_names = {
            name
            for name in self._extra_parameter_names()
            if "__" not in name and name != "loss"
        }
        return params, user_param_names

    def _build_network(self, meta, compile_kwargs):
        params, user_param_names = self._builder_params()
        builder = self._builder()
        if callable(builder) and not isinstance(builder, keras.Model):
            unknown = sorted(
                name for name in user_param_names if not _accepts(builder, name)
            )
            if unknown:
                raise TypeError(
                    f"The model builder does not accept the parameter {unknown[0]}"
                    f"={getattr(self, unknown[0])!r}. Pass builder arguments as"
                    f" model__{unknown[0]}, or check the parameter name."
                )
        network = build_network(builder, params, user_param_names, meta, compile_kwargs)
        if not isinstance(network, keras.Model):
            raise TypeError(
                "The model builder must return a keras.Model. Got"
                f" {type(network).__name__}."
            )
        return network

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train one network and keep a snapshot at the end of every cycle.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels: integers, strings or any hashable labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the loss; samples with weight zero are
            dropped.

        Returns
        -------
        self : SnapshotEnsembleClassifier
            The fitted estimator.
        """
        warm = self.warm_start and hasattr(self, "snapshot_weights_")
        self._check_parameter_combinations(warm)
        configure_tensorflow_threads()
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64], reset=not warm)
        check_classification_targets(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float32, ensure_non_negative=True
            )
            # scikit-learn's rule: a zero weight is the same as an absent row
            keep = sample_weight != 0
            X, y, sample_weight = X[keep], y[keep], sample_weight[keep]
        X = np.ascontiguousarray(X, dtype=np.float32)

        params = self.get_params()
        if warm:
            unknown = np.setdiff1d(np.unique(y), self.classes_)
            if unknown.size:
                raise ValueError(
                    "warm_start=True continues training on the classes of the first"
                    f" fit, {self.classes_.tolist()}. Got new classes in y:"
                    f" {unknown.tolist()}."
                )
            encoder, meta, loss = self._target_encoder, self._meta, self._loss
        else:
            loss = make_loss(params)
            encoder = ClassifierLabelEncoder(loss=loss).fit(y)
            if encoder.n_classes_ < 2:
                raise ValueError(
                    "SnapshotEnsembleClassifier needs samples of at least 2 classes"
                    " in y, but y contains only one class:"
                    f" {encoder.classes_[0].item()!r}."
                )
            meta = {
                "n_features_in_": X.shape[1],
                "X_shape_": X.shape,
                "X_dtype_": X.dtype,
                "target_type_": encoder._type_of_target(y),
                "y_dtype_": y.dtype,
                "y_ndim_": y.ndim,
                **encoder.get_metadata(),
            }

        seed = int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )
        held_out = None
        if self.validation_fraction is not None:
            (X, y, sample_weight), held_out = split_validation(
                X, y, sample_weight, self.validation_fraction, seed
            )
        batch_size = min(self.batch_size, X.shape[0])
        epochs_of_cycles = method_cycle_epochs(self.method, self.epochs, self.n_cycles)
        cycle_steps = steps_per_cycle(X.shape[0], batch_size, epochs_of_cycles)
        optimizer, schedule = make_optimizer(
            self.method,
            cycle_steps,
            self.lr_max,
            self.lr_min,
            self.momentum,
            routed_params(params, "optimizer"),
        )
        default_loss = "sparse_categorical_crossentropy"
        compile_kwargs = {"optimizer": optimizer, "loss": loss or default_loss}

        # The built-in network's training uses stateless random operations only.
        shared_activation = self._shared_training_activation(
            params, loss or default_loss
        )
        with (
            seeded(seed, tensorflow=shared_activation is None),
            retracing_warnings_silenced(),
        ):
            if warm:
                network = self._get_predictor().network
                self._load_member(network, self.n_snapshots_ - 1)
            else:
                network = self._build_network(meta, compile_kwargs)
                loss = loss or (network.loss if network.compiled else None)
                n_outputs = _output_units(network, X)
                if n_outputs not in (meta["n_classes_"], 1) or (
                    n_outputs == 1 and meta["n_classes_"] != 2
                ):
                    raise ValueError(
                        "The network must output one unit per class"
                        f" ({meta['n_classes_']} here), or one sigmoid unit for two"
                        f" classes. Got a network with {n_outputs} output units."
                    )
                if loss is None:
                    loss = default_loss if n_outputs > 1 else "binary_crossentropy"
                if is_one_hot_loss(loss) and not is_one_hot_loss(encoder.loss):
                    encoder = ClassifierLabelEncoder(loss=loss).fit(y)
            y_encoded = encoder.transform(y)
            fits = [dict(fit) for fit in self._fits] if warm else []
            records = [dict(record) for record in self._records] if warm else []
            epoch_offset = int(self.n_iter_) if warm else 0
            if warm and getattr(self, "_init_scales", None):
                init_scales = list(self._init_scales)
            else:
                # what a restart's noise is measured against (restart_noise)
                init_scales = [
                    float(np.std(variable.numpy()))
                    for variable in network.trainable_variables
                ]
            plan = {
                "method": self.method,
                "restart_shrink": float(self.restart_shrink),
                "restart_noise": float(self.restart_noise),
                "restart_loss_threshold": optional_float(self.restart_loss_threshold),
                "init_scales": init_scales,
                "epochs": int(self.epochs),
                "n_cycles": int(self.n_cycles),
                "cycle_epochs": [int(epochs) for epochs in epochs_of_cycles],
                "batch_size": int(batch_size),
                "lr_max": float(self.lr_max),
                "lr_min": float(self.lr_min),
                "momentum": float(self.momentum),
                "n_samples": int(X.shape[0]),
                "data_sha256": _fingerprint(X, y_encoded, sample_weight),
                "seed": seed,
                "first_snapshot": len(records),
                "epoch_offset": epoch_offset,
            }
            store = None
            if self.snapshot_dir is not None:
                store = SnapshotStore.open(
                    self.snapshot_dir,
                    manifest_header(self, network, meta, loss, encoder.classes_),
                    plan,
                    resume=self.resume,
                    overwrite=self.overwrite,
                    continues_run=self._run_id if warm else None,
                )
                if store.done_cycles:
                    # Continue the interrupted run as it was planned.
                    plan = store.plan
                    seed = plan["seed"]
                    store.restore(network, optimizer)
                fits = [dict(fit) for fit in store.manifest["fits"]]
                records = [ledger_record(r) for r in store.manifest["snapshots"]]
            else:
                fits.append(plan)
            run = train_snapshots(
                network,
                X,
                y_encoded,
                sample_weight,
                optimizer=optimizer,
                schedule=schedule,
                loss=loss,
                cycle_epochs=epochs_of_cycles,
                batch_size=batch_size,
                seed=seed,
                fit_params=routed_params(params, "fit"),
                verbose=self.verbose,
                first_cycle=0 if store is None else store.done_cycles,
                keep_weights=self.in_memory,
                on_snapshot=(
                    None
                    if store is None
                    else store.writer(network, optimizer, plan["epoch_offset"])
                ),
                built_in_activation=shared_activation,
                restart=self._restarter(network, plan),
                restart_first_cycle=warm,
                previous_loss=records[-1]["loss"] if records else None,
            )
        if run.diverged or not all(
            np.isfinite(array).all() for weights in run.weights for array in weights
        ):
            raise ValueError(
                "Training diverged: the loss or the weights became infinite or NaN"
                f" in cycle {len(run.losses)}. Lower lr_max (got lr_max="
                f"{self.lr_max!r}) or standardise the features."
            )
        if store is None:
            for epoch, rate, loss_value in zip(
                run.snapshot_epochs,
                run.snapshot_learning_rates,
                run.losses,
                strict=True,
            ):
                records.append(
                    {
                        "epoch": epoch_offset + int(epoch),
                        "learning_rate": float(rate),
                        "loss": float(loss_value),
                    }
                )
        else:
            records = [ledger_record(r) for r in store.manifest["snapshots"]]

        if not self.in_memory:
            snapshot_weights = store.lazy_weights()
        elif store is not None and store.done_cycles:
            earlier = store.manifest["snapshots"][: -len(run.weights) or None]
            snapshot_weights = read_snapshots(store.directory, earlier, network)
            snapshot_weights += run.weights
        else:
            snapshot_weights = (
                list(self.snapshot_weights_) if warm else []
            ) + run.weights

        self.classes_ = encoder.classes_
        self.snapshot_weights_ = snapshot_weights
        self._set_history(fits, records)
        self._meta = meta
        self._loss = loss
        self._target_encoder = encoder
        self._run_id = (
            store.manifest["run_id"] if store is not None else uuid.uuid4().hex
        )
        self._predictor = MemberPredictor(network)
        self._init_scales = list(plan["init_scales"])
        self.averaged_weights_ = None
        if self.method == "swa":
            self.averaged_weights_ = self._average_snapshots(network, X)
            if store is not None:
                store.record_averaged(network)
        evaluation = evaluate_members(
            lambda rows: self._snapshot_probas(rows, range(self.n_snapshots_)),
            self.classes_,
            (X, y, sample_weight),
            held_out,
        )
        vars(self).update(evaluation)
        if store is not None:
            store.record_evaluation(evaluation_to_json(evaluation))
        if self.verbose > 0:
            print(
                "\n".join(
                    member_report(
                        self.snapshot_train_loss_,
                        self.snapshot_validation_loss_,
                        self.snapshot_disagreement_,
                        self.snapshot_perturbed_,
                    )
                ),
                flush=True,
            )
        return self

    @staticmethod
    def _restarter(network, plan):
        """``restart(cycle, previous_loss)`` for ``train_snapshots``, or None if
        no restart of this plan can shrink and perturb the weights."""
        if not perturbs_at_restart(plan, previous_loss=0.0):
            return None

        def restart(cycle, previous_loss):
            if perturbs_at_restart(plan, previous_loss):
                seed = [plan["seed"], plan["first_snapshot"] + cycle]
                restart_weights(
                    network,
                    plan["init_scales"],
                    plan["restart_shrink"],
                    plan["restart_noise"],
                    seed,
                )

        return restart

    def _average_snapshots(self, network, X):
        """SWA: the mean of all snapshots' weights, BatchNormalization refitted."""
        snapshots = self.snapshot_weights_
        averaged = average_weights(snapshots[i] for i in range(self.n_snapshots_))
        network.set_weights(averaged)
        if recompute_batch_norm(network, X):
            averaged = [np.array(array) for array in network.get_weights()]
        return averaged

    def _shared_training_activation(self, params, loss):
        """The built-in network's activation when it can train through the
        shared compiled function (see ``train_snapshots``), else None."""
        if (
            self._built_in_activation(MLP_ACTIVATIONS)
            # the shared function knows nothing of tf.distribute
            and distribution_strategy() is None
            and loss == "sparse_categorical_crossentropy"
            and not routed_params(params, "optimizer")
        ):
            return self.activation
        return None

    def _set_history(self, fits, records):
        """Derive the history attributes from the fits' plans and the snapshots."""
        self._fits = fits
        self._records = records
        rates, snapshot_iterations, n_iter = [], [], 0
        boundaries = [fit["first_snapshot"] for fit in fits[1:]] + [len(records)]
        for fit, end in zip(fits, boundaries, strict=True):
            done = end - fit["first_snapshot"]
            steps = steps_per_cycle(
                fit["n_samples"], fit["batch_size"], fit["cycle_epochs"]
            )
            steps_before = sum(len(rate) for rate in rates)
            snapshot_iterations += list(steps_before + np.cumsum(steps[:done]))
            schedule = CycleSchedule(
                fit.get("method", "snapshot"), steps, fit["lr_max"], fit["lr_min"]
            )
            rates.append(schedule.rates(np.arange(sum(steps[:done]))))
            n_iter += sum(fit["cycle_epochs"][:done])
        self.snapshot_iterations_ = np.asarray(snapshot_iterations, dtype=int)
        self.n_snapshots_ = len(records)
        self.snapshot_epochs_ = np.asarray([r["epoch"] for r in records], dtype=int)
        self.snapshot_learning_rates_ = np.asarray(
            [r["learning_rate"] for r in records], dtype=float
        )
        self.loss_history_ = np.asarray([r["loss"] for r in records], dtype=float)
        # a restart comes before every snapshot but the very first
        self.snapshot_perturbed_ = np.asarray(
            [
                index > 0 and perturbs_at_restart(fit, records[index - 1]["loss"])
                for fit, end in zip(fits, boundaries, strict=True)
                for index in range(fit["first_snapshot"], end)
            ],
            dtype=bool,
        )
        self.learning_rate_history_ = np.concatenate(rates) if rates else np.empty(0)
        self.n_iter_ = int(n_iter)
        self.t_ = len(self.learning_rate_history_)

    def _load_member(self, network, index):
        """Put snapshot ``index``'s weights into ``network``."""
        weights = self.snapshot_weights_
        if isinstance(weights, SnapshotWeights):
            weights.load_into(network, index)
        else:
            network.set_weights(weights[index])

    @classmethod
    def from_snapshot_dir(cls, path, *, in_memory=True):
        """Load a fitted estimator from a snapshot directory written by ``fit``.

        Safe for directories from others: nothing is unpickled and no code from
        the directory runs. The manifest is JSON, the network is rebuilt from its
        Keras config with ``safe_mode`` (Lambda layers are refused), the weights
        are plain arrays, and every file's SHA-256 is checked before it is read.

        Parameters
        ----------
        path : str or path-like
            The snapshot directory.
        in_memory : bool, default=True
            Read all snapshots into memory now. False reads each one from disk
            when it votes, so that prediction needs the memory of about one
            network; only the newest file is read (and checked) now, the others
            when they vote.

        Returns
        -------
        estimator : SnapshotEnsembleClassifier
            A fitted estimator that predicts exactly as the one that wrote the
            directory.

        Raises
        ------
        ValueError
            If the directory is missing or empty, the manifest is not readable,
            a file is missing, truncated or corrupted, or the files do not match
            the manifest's architecture, features or classes. The message names
            the file.
        """
        return estimator_from_snapshot_dir(cls, path, in_memory=in_memory)

    # -- prediction -------------------------------------------------------------

    def _member_indices(self):
        """Indices of the voting snapshots, in ``member_order``."""
        validate_parameter_constraints(
            {
                name: self._parameter_constraints[name]
                for name in _PREDICTION_PARAMETERS
            },
            {name: getattr(self, name) for name in _PREDICTION_PARAMETERS},
            caller_name=type(self).__name__,
        )
        n_members = self.n_snapshots_ if self.n_members is None else self.n_members
        if n_members > self.n_snapshots_:
            raise ValueError(
                "n_members must be <= the number of snapshots. Got"
                f" n_members={n_members} with n_snapshots_={self.n_snapshots_}."
            )
        return self._ordered_snapshots()[:n_members]

    def _ordered_snapshots(self):
        """All snapshot indices, in ``member_order``."""
        if self.member_order == "best":
            losses = getattr(self, "snapshot_validation_loss_", None)
            if losses is None:
                raise ValueError(
                    "member_order='best' ranks the snapshots by their log-loss on"
                    " held-out rows, but this estimator was fitted with"
                    " validation_fraction=None. Refit with validation_fraction set,"
                    " or use member_order='newest'."
                )
            return [int(index) for index in np.argsort(losses, kind="stable")]
        indices = list(range(self.n_snapshots_))
        return indices[::-1] if self.member_order == "newest" else indices

    def _get_predictor(self):
        predictor = getattr(self, "_predictor", None)
        if predictor is None:
            # After unpickling: rebuild the architecture; the weights come from
            # the snapshots, so the builder's random initialisation is irrelevant.
            compile_kwargs = {"optimizer": keras.optimizers.SGD(), "loss": self._loss}
            network = self._build_network(self._meta, compile_kwargs)
            predictor = self._predictor = MemberPredictor(network)
        return predictor

    def predict_proba(self, X):
        """Average class probabilities of the voting snapshots (soft voting).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Mean of the members' probabilities; columns follow ``classes_``.
        """
        check_is_fitted(self)
        averaged = getattr(self, "averaged_weights_", None)
        if averaged is not None:
            return self._averaged_proba(averaged, X)
        members = self._member_indices()
        weights = self._vote_weights(members)
        X = self._validate_features(X)
        forward = self._numpy_forward()
        if forward is not None and isinstance(self.snapshot_weights_, list):
            return forward.mean_proba(
                [self.snapshot_weights_[i] for i in members], X, weights
            )
        # one member at a time: snapshots on disk are read as they vote
        *_, proba = self._running_means(self._snapshot_probas(X, members), weights)
        return proba

    def _check_averaged_voting(self, who):
        """Refuse voting parameters that an averaged (SWA) network ignores."""
        for name, value in (("n_members", None), ("member_weights", "uniform")):
            if getattr(self, name) != value:
                raise ValueError(
                    f"{who} with one network, the average of all snapshots, so"
                    f" {name} has no effect: leave it at {value!r}. Got"
                    f" {name}={getattr(self, name)!r}."
                )

    def _averaged_proba(self, averaged, X):
        """Probabilities of the averaged network (``method="swa"``)."""
        self._member_indices()  # validates the prediction parameters
        self._check_averaged_voting("fitted with method='swa', this estimator predicts")
        X = self._validate_features(X)
        forward = self._numpy_forward()
        if forward is not None:
            return forward.mean_proba([averaged], X)
        predictor = self._get_predictor()
        predictor.network.set_weights(averaged)
        with retracing_warnings_silenced():
            return predictor.predict_proba(X)

    def _vote_weights(self, indices):
        """Unnormalised voting weights of snapshots ``indices``; None if uniform."""
        if self.member_weights == "uniform":
            return None
        fitted = getattr(self, "voting_weights_", None)
        if fitted is None:
            raise ValueError(
                "member_weights='fitted' needs voting weights fitted on held-out"
                " rows, but this estimator was fitted with validation_fraction=None."
                " Refit with validation_fraction set, or use"
                " member_weights='uniform'."
            )
        weights = np.asarray(fitted)[list(indices)]
        # members the fit gave no weight vote equally if they are all that vote
        return weights if weights.sum() > 0 else None

    @staticmethod
    def _running_means(probas, weights):
        """Yield the (weighted) mean of the first k probabilities, k = 1, 2, ...

        The same operations, in the same order, as ``MLPForward.mean_proba``, so
        that the k-th mean equals ``predict_proba`` with ``n_members=k`` exactly.
        """
        total, weight_sum = None, 0.0
        for size, proba in enumerate(probas, start=1):
            if weights is not None:
                proba = weights[size - 1] * proba
                weight_sum += weights[size - 1]
            total = proba if total is None else total + proba
            yield total / (size if weights is None else weight_sum)

    def _validate_features(self, X):
        X = validate_data(self, X, dtype=[np.float32, np.float64], reset=False)
        return np.ascontiguousarray(X, dtype=np.float32)

    def _numpy_forward(self):
        """NumPy forward pass of the built-in network, or None where it cannot run.

        It needs the built-in MLP with a NumPy-supported activation; otherwise
        members go through the Keras network.
        """
        if self._built_in_activation(MLPForward.SUPPORTED_ACTIVATIONS):
            return MLPForward(self.activation)
        return None

    def _built_in_activation(self, supported):
        """Whether the network is the built-in MLP with an activation in
        ``supported`` (names)."""
        return (
            self.model is None
            and isinstance(self.activation, str)
            and self.activation in supported
        )

    def _snapshot_probas(self, X, indices):
        """Yield each snapshot's class probabilities on validated ``X``."""
        forward = self._numpy_forward()
        if forward is not None:
            for index in indices:
                yield forward.mean_proba([self.snapshot_weights_[index]], X)
            return
        predictor = self._get_predictor()
        for index in indices:
            self._load_member(predictor.network, index)
            with retracing_warnings_silenced():
                proba = predictor.predict_proba(X)
            yield proba

    def staged_predict_proba(self, X):
        """Ensemble probabilities as snapshots join, one at a time.

        The k-th result is the mean of the first k snapshots in ``member_order``:
        what ``predict_proba`` returns with ``n_members=k``. Every snapshot runs
        once, so all ensemble sizes cost what the largest one does. With
        ``method="swa"`` these are the members' votes, for comparison: the
        estimator itself predicts with their averaged weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Yields
        ------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities of the ensemble of the first k snapshots, for
            k = 1, ..., ``n_snapshots_``.
        """
        check_is_fitted(self)
        self._member_indices()  # validates member_order
        X = self._validate_features(X)
        order = self._ordered_snapshots()
        yield from self._running_means(
            self._snapshot_probas(X, order), self._vote_weights(order)
        )

    def staged_predict(self, X):
        """Ensemble predictions as snapshots join, one at a time.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Yields
        ------
        y : ndarray of shape (n_samples,)
            Predictions of the ensemble of the first k snapshots in
            ``member_order``, for k = 1, ..., ``n_snapshots_``.
        """
        for proba in self.staged_predict_proba(X):
            yield self.classes_[np.argmax(proba, axis=1)]

    def snapshot_scores(self, X, y, sample_weight=None):
        """Score each snapshot alone and each ensemble size, in one pass.

        Answers "how many snapshots should vote, and does the ensemble beat one
        network?" without refitting: for k = 1, ..., ``n_snapshots_`` it scores
        the k-th snapshot in ``member_order`` alone and the ensemble of the first
        k.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        scores : sklearn.utils.Bunch
            ``n_members`` (k), ``snapshot`` (index of the k-th snapshot, 0 being
            the oldest) and ``epoch`` (when it was taken), then
            ``single_accuracy`` and ``single_log_loss`` of that snapshot alone and
            ``ensemble_accuracy`` and ``ensemble_log_loss`` of the first k, each
            an array of length ``n_snapshots_``.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from skl_snapshot import SnapshotEnsembleClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = SnapshotEnsembleClassifier(epochs=30, n_cycles=3, random_state=0)
        >>> scores = clf.fit(X, y).snapshot_scores(X, y)
        >>> scores.snapshot.tolist()  # newest first
        [2, 1, 0]
        """
        check_is_fitted(self)
        self._member_indices()  # validates member_order
        X = self._validate_features(X)
        order = self._ordered_snapshots()
        labels = self.classes_
        columns = {name: [] for name in _SCORE_COLUMNS}
        singles = []
        means = self._running_means(
            _recorded(self._snapshot_probas(X, order), singles),
            self._vote_weights(order),
        )
        for mean in means:
            for kind, p in (("single", singles[-1]), ("ensemble", mean)):
                columns[f"{kind}_accuracy"].append(
                    accuracy_score(
                        y, labels[p.argmax(axis=1)], sample_weight=sample_weight
                    )
                )
                columns[f"{kind}_log_loss"].append(
                    log_loss(y, p, labels=labels, sample_weight=sample_weight)
                )
        return Bunch(
            n_members=np.arange(1, len(order) + 1),
            snapshot=np.asarray(order),
            epoch=self.snapshot_epochs_[order],
            **{name: np.asarray(values) for name, values in columns.items()},
        )

    def predict(self, X):
        """Class labels by soft voting of the chosen snapshots.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            The class with the highest mean probability, as given in ``y`` at fit.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy of the ensemble's predictions on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Mean accuracy of ``self.predict(X)`` with respect to ``y``.
        """
        return super().score(X, y, sample_weight=sample_weight)

    # -- pickling ---------------------------------------------------------------

    def __getstate__(self):
        # BaseEstimator may hand back the live __dict__: copy before removing.
        state = dict(super().__getstate__())
        # The live Keras network is rebuilt on demand; the pickle holds plain
        # NumPy weights only.
        state.pop("_predictor", None)
        return state


def _recorded(iterable, into):
    """Yield from ``iterable``, appending each item to the list ``into`` first."""
    for item in iterable:
        into.append(item)
        yield item


def _accepts(function, name):
    parameters = inspect.signature(function).parameters.values()
    return any(
        parameter.kind == parameter.VAR_KEYWORD
        or (parameter.name == name and parameter.kind != parameter.VAR_POSITIONAL)
        for parameter in parameters
    )


def _output_units(network, X):
    try:
        return int(network.outputs[0].shape[-1])
    except (AttributeError, IndexError, TypeError, ValueError):
        # a subclassed network has no symbolic outputs until it is called
        return int(network(X[:1], training=False).shape[-1])


def _fingerprint(X, y_encoded, sample_weight):
    """SHA-256 of the training data as the network sees it (resume checks it)."""
    digest = hashlib.sha256()
    for array in (X, y_encoded, sample_weight):
        if array is not None:
            array = np.ascontiguousarray(array)
            digest.update(str((array.dtype.str, array.shape)).encode())
            digest.update(array.tobytes())
    return digest.hexdigest()
