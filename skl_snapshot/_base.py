"""The task-neutral core of the snapshot ensembles.

:class:`BaseSnapshotEnsemble` holds what the classifier and the regressor share:
their parameters and constraints, the scikeras-style routing, the staged ``fit``,
member ordering and voting, the evaluation of the snapshots, snapshot
directories and pickling. A task differs only through a few hooks, in the manner
of scikit-learn's ``BaseMultilayerPerceptron``: how the target is validated,
encoded and decoded, which loss and output layer the built-in network has, how a
member's raw output becomes a vote, and how the votes are scored.
"""

import hashlib
import inspect
import os
import threading
import uuid
import warnings
from abc import ABCMeta, abstractmethod
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

import keras
import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.multiclass import type_of_target
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
    WeightsOnlyNetwork,
    average_weights,
    build_mlp,
    fresh_initial_weights,
    one_thread_pools,
    recompute_batch_norm,
)
from ._parallel import configure_tensorflow_threads, distribution_strategy
from ._persistence import SnapshotStore, SnapshotWeights
from ._plan import FitPlan, cross_fit_folds, rows_per_epoch, steps_per_cycle
from ._quiet import tensorflow_set_up_quietly
from ._schedules import METHODS, CycleSchedule, method_cycle_epochs
from ._scikeras import (
    COMPILE_KWARGS,
    ROUTING_PREFIXES,
    build_network,
    check_callbacks,
    check_scikeras_parameters,
    chosen_loss,
    make_callbacks,
    make_compile_kwargs,
    make_loss,
    optimizer_arguments,
    routed_params,
    seeded,
)
from ._sklearn_callbacks import CallbackSupportMixin, CycleTasks, has_callbacks
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
    MLP_LOSSES,
    make_optimizer,
    restart_weights,
    retracing_warnings_silenced,
    train_snapshots,
)

__all__ = ["DOCS_URL", "BaseSnapshotEnsemble", "extended_signature"]

#: Where the documentation is published (pyproject.toml's Documentation URL):
#: the HTML repr links each estimator to its page of the API reference there.
DOCS_URL = "https://skl-snapshot.readthedocs.io/en/latest/"

# A fit seeds Python's, NumPy's and TensorFlow's global generators while it
# builds and trains (``seeded``), and Keras numbers layers per process: fits in
# threads of one process take turns, so that each gives what it gives alone.
_FIT_LOCK = threading.RLock()

#: Default ``clipnorm``: the norm each variable's gradient is clipped to. Far
#: above what a healthy fit's gradients reach (it leaves them unchanged there),
#: it stops the runaway steps that diverged on wide one-hot tables (user
#: guide, "Why these defaults").
CLIPNORM = 20.0


def extended_signature(init, **parameters):
    """The signature of ``init`` with keyword-only ``parameters`` (name=default)
    added before its ``**kwargs``.

    A subclass whose ``__init__(self, model=None, *, new=default, **kwargs)``
    passes the base's parameters on sets this as its ``__signature__``: the
    base's parameters are then listed once, while ``get_params``, ``clone``,
    the estimator's repr, ``inspect`` and the API reference see every parameter
    by name with its default.
    """
    signature = inspect.signature(init)
    named = [
        parameter
        for parameter in signature.parameters.values()
        if parameter.kind != parameter.VAR_KEYWORD
    ]
    rest = [
        parameter
        for parameter in signature.parameters.values()
        if parameter.kind == parameter.VAR_KEYWORD
    ]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
        for name, default in parameters.items()
    ]
    return signature.replace(parameters=[*named, *added, *rest])


# Parameters that act at prediction time and are checked again there, since
# ``set_params`` on a fitted estimator may change them without refitting.
_PREDICTION_PARAMETERS = ("n_members", "member_order", "member_weights")


@dataclass
class _Fit:
    """What the stages of one ``fit`` hand to each other."""

    X: np.ndarray
    y: np.ndarray
    sample_weight: Any
    warm: bool
    params: dict
    y_format: Any = None
    target: Any = None
    meta: dict = None
    loss: Any = None
    seed: int = 0
    held_out: Any = None
    cross_fit: bool = False
    folds: Any = None
    batch_size: int = 0
    cycle_epochs: list = field(default_factory=list)
    networks: list = field(default_factory=list)
    optimizer: Any = None
    schedule: Any = None
    network: Any = None
    y_encoded: Any = None
    plan: FitPlan = None
    fits: list = field(default_factory=list)
    records: list = field(default_factory=list)
    store: Any = None
    callback_context: Any = None


class BaseSnapshotEnsemble(CallbackSupportMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of the snapshot ensembles; use the classifier or the regressor.

    Subclasses set ``_task`` (the word a snapshot directory records),
    ``_default_loss`` (a Keras loss name), ``_softmax_output`` (whether the
    built-in network ends in a softmax) and ``_stratified_validation``, and
    implement the target hooks below.
    """

    _task = None
    _default_loss = None
    #: The keys of a builder's ``compile_kwargs`` (scikeras' attribute).
    _compile_kwargs = COMPILE_KWARGS

    # scikit-learn's HTML repr links an estimator of this package to its page
    # in our API reference (Sphinx autosummary's generated/<module>.<name>.html)
    _doc_link_module = "skl_snapshot"
    _doc_link_template = DOCS_URL + "generated/{estimator_module}.{estimator_name}.html"
    _softmax_output = True
    _stratified_validation = False

    _parameter_constraints = {
        "model": [None, callable, keras.Model],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [str, callable],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "n_cycles": [Interval(Integral, 1, None, closed="left")],
        "t_mult": [Interval(Real, 1, None, closed="left")],
        "schedule": [StrOptions({"cosine", "triangular"})],
        "n_networks": [Interval(Integral, 1, None, closed="left")],
        "cross_fit": ["boolean", StrOptions({"auto"})],
        "lr_max": [Interval(Real, 0, None, closed="neither")],
        "lr_min": [Interval(Real, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "clipnorm": [None, Interval(Real, 0, np.inf, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_members": [None, Interval(Integral, 1, None, closed="left")],
        "method": [StrOptions(set(METHODS))],
        "restart_shrink": [Interval(Real, 0, 1, closed="right")],
        "restart_noise": [Interval(Real, 0, None, closed="left")],
        "restart_loss_threshold": [None, Interval(Real, 0, None, closed="neither")],
        "member_order": [StrOptions({"newest", "oldest", "best"})],
        "member_weights": [StrOptions({"auto", "uniform", "fitted"})],
        "linear_member": ["boolean"],
        "validation_fraction": [None, Interval(Real, 0, 1, closed="neither")],
        "snapshot_dir": [None, str, os.PathLike],
        "in_memory": ["boolean"],
        "resume": ["boolean"],
        "overwrite": ["boolean"],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        # a name, a function or a Keras loss object, checked when it is made
        "loss": "no_validation",
    }

    def __init__(
        self,
        model=None,
        *,
        loss=None,
        hidden_layer_sizes=(50,),
        activation="relu",
        epochs=128,
        n_cycles=7,
        t_mult=2.0,
        schedule="cosine",
        n_networks=4,
        cross_fit="auto",
        method="snapshot",
        restart_shrink=0.5,
        restart_noise=1.0,
        restart_loss_threshold=0.02,
        lr_max=0.05,
        lr_min=0.0,
        momentum=0.9,
        clipnorm=CLIPNORM,
        batch_size=32,
        n_members=None,
        member_order="newest",
        member_weights="auto",
        linear_member=True,
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
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.epochs = epochs
        self.n_cycles = n_cycles
        self.t_mult = t_mult
        self.schedule = schedule
        self.n_networks = n_networks
        self.cross_fit = cross_fit
        self.method = method
        self.restart_shrink = restart_shrink
        self.restart_noise = restart_noise
        self.restart_loss_threshold = restart_loss_threshold
        self.lr_max = lr_max
        self.lr_min = lr_min
        self.momentum = momentum
        self.clipnorm = clipnorm
        self.batch_size = batch_size
        self.n_members = n_members
        self.member_order = member_order
        self.member_weights = member_weights
        self.linear_member = linear_member
        self.validation_fraction = validation_fraction
        self.snapshot_dir = snapshot_dir
        self.in_memory = in_memory
        self.resume = resume
        self.overwrite = overwrite
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        # Routed and builder parameters are kept apart from the attributes: a
        # public attribute that no __init__ names is, to scikit-learn, state
        # set in __init__ (check_no_attributes_set_in_init). get_params and
        # set_params see them, and so does attribute access.
        self._extra_params = dict(kwargs)

    # -- parameters -------------------------------------------------------------

    @classmethod
    def _named_parameters(cls):
        """The named parameters of every ``__init__`` from ``cls`` up to this
        base, in order of first appearance.

        A subclass written the scikeras way, ``__init__(self, model=None,
        split=True, **kwargs)`` passing ``**kwargs`` on, keeps the base's
        parameters as named parameters: they are not mistaken for a builder's
        extra arguments, and ``get_params`` and ``clone`` still see them.
        """
        names = {}
        for klass in cls.__mro__:
            if not (
                isinstance(klass, type)
                and issubclass(klass, BaseSnapshotEnsemble)
                and "__init__" in vars(klass)
            ):
                continue
            for name, parameter in inspect.signature(klass.__init__).parameters.items():
                if name != "self" and parameter.kind not in (
                    parameter.VAR_KEYWORD,
                    parameter.VAR_POSITIONAL,
                ):
                    names.setdefault(name, None)
        return list(names)

    @classmethod
    def _get_param_names(cls):
        # scikit-learn reads only cls.__init__; see _named_parameters
        return sorted(cls._named_parameters())

    def _extra_parameter_names(self):
        """Names of the ``**kwargs`` given at construction or by ``set_params``."""
        return sorted(vars(self).get("_extra_params", {}))

    def __getattr__(self, name):
        # only called when normal lookup fails: the extra parameters by name
        attribute = getattr(type(self), name, None)
        if isinstance(attribute, property):
            # a property that raised AttributeError (NotFittedError is one):
            # let its own error through rather than "no attribute"
            return attribute.fget(self)
        extra = vars(self).get("_extra_params") if not name.startswith("_") else None
        if extra is not None and name in extra:
            return extra[name]
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {name!r}"
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
        params.update(vars(self).get("_extra_params", {}))
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
        self : object
            This estimator.
        """
        routed = {
            name: value
            for name, value in params.items()
            if name.split("__", 1)[0] in ROUTING_PREFIXES and "__" in name
        }
        extra = vars(self).setdefault("_extra_params", {})
        extra.update(routed)
        others = {name: value for name, value in params.items() if name not in routed}
        for name in [name for name in others if name in extra]:
            extra[name] = others.pop(name)
        return super().set_params(**others)

    def _check_parameter_combinations(self, warm):
        """Refuse parameter values that are valid alone but not together."""
        self._check_network_and_budget()
        self._check_voting_parameters(warm)
        self._check_routed_parameters()

    def _check_network_and_budget(self):
        sizes = np.atleast_1d(np.asarray(self.hidden_layer_sizes, dtype=object))
        if sizes.ndim != 1 or not all(
            isinstance(size, Integral) and not isinstance(size, bool) and size >= 1
            for size in sizes
        ):
            raise ValueError(
                "hidden_layer_sizes must be a sequence of ints >= 1. Got"
                f" hidden_layer_sizes={self.hidden_layer_sizes!r}."
            )
        if self.schedule == "triangular" and self.method != "snapshot":
            raise ValueError(
                "schedule='triangular' shapes the cycles of method='snapshot';"
                " fge and swa have their own cycles. Got"
                f" schedule={self.schedule!r} with method={self.method!r}."
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

    def _check_voting_parameters(self, warm):
        if self.method == "swa":
            self._check_averaged_voting("method='swa' predicts")
        fits = getattr(self, "_fits", None)
        if warm and fits and fits[-1].n_networks != self.n_networks:
            raise ValueError(
                "warm_start=True continues the fitted networks, so n_networks"
                f" must stay {fits[-1].n_networks}. Got"
                f" n_networks={self.n_networks}."
            )
        if self.cross_fit is True:
            if self.n_networks < 2 or self.validation_fraction is not None:
                raise ValueError(
                    "cross_fit=True holds out fold k of the rows from network k, so"
                    " it needs n_networks >= 2 and no validation_fraction. Got"
                    f" n_networks={self.n_networks} with validation_fraction="
                    f"{self.validation_fraction!r}."
                )
        n_snapshots = self.n_cycles * self.n_networks
        if not warm and self.n_members is not None and self.n_members > n_snapshots:
            raise ValueError(
                "n_members must be <= n_cycles * n_networks, the number of"
                f" snapshots. Got n_members={self.n_members} with"
                f" n_cycles={self.n_cycles} and n_networks={self.n_networks}."
            )

    def _check_held_out_voting(self, remedy):
        for name, value in (("member_order", "best"), ("member_weights", "fitted")):
            if getattr(self, name) == value:
                raise ValueError(
                    f"{name}={value!r} is chosen on held-out rows, never on the"
                    f" training rows: {remedy}."
                )

    def _check_routed_parameters(self):
        check_scikeras_parameters(
            self._extra_parameter_names(), self._builder(), type(self).__name__
        )
        params = self.get_params()
        optimizer_params, nested = optimizer_arguments(params)
        accepted = set(inspect.signature(keras.optimizers.SGD.__init__).parameters)
        accepted -= {"self", "kwargs"}
        if nested:
            warnings.warn(
                f"optimizer__{nested[0]} reaches no object: it would be an argument"
                f" of optimizer__{nested[0].split('__')[0]}, and no argument of"
                " keras.optimizers.SGD that we let you set takes an object. It is"
                " not used.",
                UserWarning,
                stacklevel=3,
            )
        for name in optimizer_params:
            if name not in accepted:
                raise TypeError(
                    f"optimizer__{name} is not an argument of keras.optimizers.SGD."
                    f" Accepted: {', '.join(sorted(accepted))}."
                )
        for name in routed_params(params, "fit"):
            if name.split("__")[0] not in FIT_ARGUMENTS:
                raise TypeError(
                    f"fit__{name} is not supported: snapshot training runs its own"
                    " compiled loop, not keras.Model.fit. Supported:"
                    f" {', '.join('fit__' + name for name in sorted(FIT_ARGUMENTS))}."
                )
        check_callbacks(params)  # refuses what is not a callback, before training
        # optimizer argument: (the parameter that owns it, why)
        owned = {
            "learning_rate": ("lr_max", "the snapshot schedule owns it"),
            "momentum": ("momentum", "the snapshot schedule owns it"),
            "clipnorm": ("clipnorm", "the estimator's parameter of that name owns it"),
        }
        for name, (owner, why) in owned.items():
            if name in optimizer_params:
                raise ValueError(
                    f"optimizer__{name} cannot be set: {why}. Set {owner} instead."
                    f" Got optimizer__{name}={optimizer_params[name]!r}."
                )
        for name in ("clipvalue", "global_clipnorm"):
            if name in optimizer_params and self.clipnorm is not None:
                raise ValueError(
                    f"optimizer__{name} clips the gradients as clipnorm does, and"
                    " Keras takes only one rule: set clipnorm=None to use it."
                    f" Got optimizer__{name}={optimizer_params[name]!r} with"
                    f" clipnorm={self.clipnorm!r}."
                )

    # -- task hooks -------------------------------------------------------------

    @abstractmethod
    def _fit_target(self, y, loss, y_format):
        """The fitted target encoder of a first fit on validated ``y``.

        ``y_format`` is what :meth:`_target_rows` said of the targets as given.

        It has ``transform(y)`` (the targets the network trains on) and
        ``get_metadata()`` (what a builder's ``meta`` learns of the target).
        """

    @abstractmethod
    def _check_warm_target(self, y):
        """Refuse targets that a warm start cannot continue on."""

    @abstractmethod
    def _adapt_to_network(self, network, n_outputs, loss, target, y):
        """Check the network's output width; return the ``(loss, target)`` to use.

        ``loss`` is the user's or the compiled network's loss, or None.
        """

    @abstractmethod
    def _vote(self, output):
        """A member's vote from its network output, (n_samples, n_units)."""

    @abstractmethod
    def _new_evaluation(self, y, sample_weight):
        """An empty member evaluation (see ``_members``) for targets ``y``."""

    @abstractmethod
    def _set_target_state(self, target):
        """Set the fitted attributes that describe the target."""

    @abstractmethod
    def _target_record(self, target):
        """The manifest entries that describe the fitted ``target`` encoder."""

    @classmethod
    @abstractmethod
    def _target_from_manifest(cls, manifest, where):
        """The fitted target encoder described by a manifest; ``where`` names it
        in errors."""

    @abstractmethod
    def _vote_scores(self, y, vote, sample_weight):
        """The scores of one vote on true targets ``y``, by metric name."""

    def _check_target_input(self, y):
        """Refuse targets before scikit-learn's validation; a hook."""

    @abstractmethod
    def _fit_linear(self, X, y, sample_weight, start=None):
        """``(weights, model)``: the linear member fitted on these rows, as
        ``[kernel, bias]`` (float32, one layer into the vote's units), and the
        fitted model, which a later fit may ``start`` from; ``(None, None)`` if
        it cannot be fitted."""

    @abstractmethod
    def _keras_wrapper_target(self, target, y):
        """The targets keras.wrappers hands a builder ``model(X, y)``: for
        validated ``y``, or one row of the right shape when ``y`` is None."""

    def _target_rows(self, y):
        """``(y, y_format)``: the targets as scikit-learn validates them, and
        how they were given if predictions must be given back so (a
        classifier's one-hot rows), else None; a hook."""
        return y, None

    def _task_sample_weight(self, y, sample_weight):
        """The rows' weights as the task wants them (a classifier's
        ``class_weight``); a hook."""
        return sample_weight

    _validate_y_options = {}

    # -- fitting ----------------------------------------------------------------

    def _builder(self):
        if self.model is None:
            # scikeras' other convention: a subclass that defines
            # _keras_build_fn builds its network with it
            custom = getattr(self, "_keras_build_fn", None)
            return build_mlp if custom is None else custom
        if isinstance(self.model, keras.Model):
            template = self.model
            return lambda: keras.models.clone_model(template)
        return self.model

    def _has_built_in_network(self):
        """Whether the network is the built-in MLP (no ``model``, and no
        scikeras-style ``_keras_build_fn``)."""
        return self._builder() is build_mlp

    def _builder_params(self):
        params = self.get_params()
        if self._has_built_in_network():
            params["model__hidden_layer_sizes"] = tuple(self.hidden_layer_sizes)
            params["model__activation"] = self.activation
        user_param_names = {
            name
            for name in self._extra_parameter_names()
            # compile_kwargs' entries and the callbacks are not the builder's
            if "__" not in name and name not in {*COMPILE_KWARGS, "callbacks"}
        }
        return params, user_param_names

    def _build_network(self, meta, compile_kwargs, target, X=None, y=None):
        """A network from the builder. ``X`` and ``y`` (the training rows, or a
        one-row stand-in when rebuilding for prediction) reach a builder in
        keras.wrappers' convention, ``model(X, y, **kwargs)``."""
        params, user_param_names = self._builder_params()
        meta = {**meta, **_encoder_metadata(meta, target)}
        builder = self._builder()
        if X is None:
            X = np.zeros((1, meta["n_features_in_"]), np.float32)
        data = (X, self._keras_wrapper_target(target, y))
        if callable(builder) and not isinstance(builder, keras.Model):
            unknown = sorted(
                name for name in user_param_names if not _accepts(builder, name)
            )
            if unknown:
                raise TypeError(
                    f"The model builder does not accept the parameter {unknown[0]}"
                    f"={params[unknown[0]]!r}. Pass builder arguments as"
                    f" model__{unknown[0]}, or check the parameter name."
                )
        network = build_network(
            builder, params, user_param_names, meta, compile_kwargs, data
        )
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
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets: class labels for the classifier, numbers for the regressor.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the loss; samples with weight zero are
            dropped. Each row's loss is multiplied by its weight and a batch's
            loss is their mean, so weights averaging far above one raise the
            effective learning rate, as in ``SGDClassifier``: rescale them to a
            mean of about one.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        warm = self.warm_start and hasattr(self, "snapshot_weights_")
        self._check_parameter_combinations(warm)
        with tensorflow_set_up_quietly():
            configure_tensorflow_threads(small_network=self._has_built_in_network())
        fit = self._validated_fit(X, y, sample_weight, warm)
        fit.callback_context = self._begin_callback_task(fit)
        self._prepare_target(fit)
        self._hold_out(fit)
        self._prepare_optimizer(fit)
        # The built-in network's training uses stateless random operations only.
        shared_activation = self._shared_training_activation(fit.params, fit.loss)
        try:
            with (
                _FIT_LOCK,
                seeded(fit.seed, tensorflow=shared_activation is None),
                retracing_warnings_silenced(),
            ):
                self._prepare_network(fit, shared_activation)
                self._plan_fit(fit)
                self._open_store(fit)
                run = self._train(fit, shared_activation)
            self._check_run(run, len(fit.networks))
            self._record_fit(fit, run)
            self._finish_fit(fit)
            if fit.callback_context is not None:
                fit.callback_context.call_on_fit_task_end(
                    estimator=self, **self._callback_data(fit)
                )
        finally:
            if fit.store is not None:
                fit.store.close()  # the directory's lock
        return self

    def _validated_fit(self, X, y, sample_weight, warm):
        """Stage 1: the validated training rows, zero-weight rows dropped."""
        self._check_target_input(y)
        y, y_format = self._target_rows(y)
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float32, np.float64],
            reset=not warm,
            **self._validate_y_options,
        )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float32, ensure_non_negative=True
            )
        sample_weight = self._task_sample_weight(y, sample_weight)
        if sample_weight is not None:
            # scikit-learn's rule: a zero weight is the same as an absent row
            keep = sample_weight != 0
            X, y, sample_weight = X[keep], y[keep], sample_weight[keep]
        return _Fit(
            _float32_rows(X), y, sample_weight, warm, self.get_params(), y_format
        )

    def _prepare_target(self, fit):
        """Stage 2: the target encoder, the builder's ``meta`` and the loss."""
        if fit.warm:
            self._check_warm_target(fit.y)
            fit.target, fit.meta, fit.loss = (
                self._target_encoder,
                self._meta,
                self._loss,
            )
        else:
            fit.loss = make_loss(fit.params)
            fit.target = self._fit_target(fit.y, fit.loss, fit.y_format)
            fit.meta = {
                "n_features_in_": fit.X.shape[1],
                "X_shape_": fit.X.shape,
                "X_dtype_": fit.X.dtype,
                "y_dtype_": fit.y.dtype,
                "y_ndim_": fit.y.ndim,
                "target_type_": type_of_target(fit.y, input_name="y"),
                **fit.target.get_metadata(),
            }
        fit.seed = int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )

    def _hold_out(self, fit):
        """Stage 3: set ``validation_fraction`` of the rows aside, or decide to
        cross-fit (the folds are dealt in ``_train``, from the run's seed)."""
        n_samples = fit.X.shape[0]
        fit.cross_fit = self.n_networks >= 2 and (
            self.cross_fit is True
            or (
                self.cross_fit == "auto"
                and self.validation_fraction is None
                and n_samples >= 2 * self.n_networks
            )
        )
        if fit.cross_fit and n_samples < self.n_networks:
            # a network whose fold is empty has no out-of-fold predictions
            raise ValueError(
                "cross_fit=True holds out fold k of the rows from network k, so it"
                " needs at least one training row per network. Got"
                f" {n_samples} rows with n_networks={self.n_networks}."
            )
        if fit.warm and self._fits[-1].cross_fit != fit.cross_fit:
            raise ValueError(
                "warm_start=True continues the fitted networks on their folds, so"
                " cross-fitting must stay as it was (the fitted networks were"
                f"{'' if self._fits[-1].cross_fit else ' not'} cross-fitted). Got"
                f" cross_fit={self.cross_fit!r} with {n_samples} rows."
            )
        if not fit.cross_fit and self.validation_fraction is None:
            self._check_held_out_voting(
                "set validation_fraction (0.1, say) or cross-fit several networks"
                " (n_networks=4). Got validation_fraction=None and no cross-fitting"
                f" (cross_fit={self.cross_fit!r}, n_networks={self.n_networks},"
                f" {n_samples} rows)"
            )
        if self.validation_fraction is not None:
            (fit.X, fit.y, fit.sample_weight), fit.held_out = split_validation(
                fit.X,
                fit.y,
                fit.sample_weight,
                self.validation_fraction,
                fit.seed,
                stratify=self._stratified_validation,
            )

    def _prepare_optimizer(self, fit):
        """Stage 4: the cycles, and SGD driven by their schedule."""
        # cross-fitting: each network trains on the rows outside its fold
        epoch_rows = rows_per_epoch(fit.X.shape[0], self.n_networks, fit.cross_fit)
        fit.batch_size = min(self.batch_size, epoch_rows)
        fit.cycle_epochs = method_cycle_epochs(
            self.method, self.epochs, self.n_cycles, self.t_mult
        )
        cycle_steps = steps_per_cycle(epoch_rows, fit.batch_size, fit.cycle_epochs)
        fit.optimizer, fit.schedule = make_optimizer(
            self.method,
            cycle_steps,
            self.lr_max,
            self.lr_min,
            self.momentum,
            optimizer_arguments(fit.params)[0],
            clipnorm=None if self.clipnorm is None else float(self.clipnorm),
            shape=self.schedule,
        )

    def _prepare_network(self, fit, shared_activation=None):
        """Stage 5: the networks, new or (warm start) the fitted ones continued.

        ``fit.network`` is the first of the ``n_networks`` networks: the one the
        directory's architecture and the predictor describe. The built-in
        network trained in memory through the shared function
        (``shared_activation``) needs the others only as their weights
        (:class:`~skl_snapshot._network.WeightsOnlyNetwork`), drawn as building
        them would draw them; a snapshot directory saves each network's weights
        and the optimizer state with Keras, so it gets Keras networks.
        """
        # the loss as the user gave it, None when not given, as scikeras hands
        # it to builders (which then choose their output, a sigmoid unit say)
        compile_kwargs = make_compile_kwargs(fit.params, fit.optimizer)
        if fit.warm:
            fit.network = self._get_predictor().network
        else:
            fit.network = self._build_network(
                fit.meta, compile_kwargs, fit.target, fit.X, fit.y
            )
            loss = chosen_loss(
                fit.loss, fit.network.loss if fit.network.compiled else None
            )
            fit.loss, fit.target = self._adapt_to_network(
                fit.network, _output_units(fit.network, fit.X), loss, fit.target, fit.y
            )
        # each network its own initialisation, drawn after the first's
        if (
            shared_activation is not None
            and self.snapshot_dir is None
            and not isinstance(
                getattr(self, "snapshot_weights_", None), SnapshotWeights
            )
        ):
            fit.networks = [fit.network] + [
                WeightsOnlyNetwork(fresh_initial_weights(fit.network))
                for _ in range(self.n_networks - 1)
            ]
        else:
            fit.networks = [fit.network] + [
                self._build_network(fit.meta, compile_kwargs, fit.target, fit.X, fit.y)
                for _ in range(self.n_networks - 1)
            ]
        if fit.warm:
            # the networks continue from the newest cycle's snapshots
            first = self.n_snapshots_ - self.n_networks
            for k, network in enumerate(fit.networks):
                self._load_member(network, first + k)
        fit.y_encoded = fit.target.transform(fit.y)

    def _plan_fit(self, fit):
        """Stage 6: the plan of this fit, which resume matching and the manifest
        record."""
        warm = fit.warm
        fit.fits = list(self._fits) if warm else []
        fit.records = [dict(record) for record in self._records] if warm else []
        init_scales = self._fits[-1].init_scales if warm else None
        if not init_scales:
            # what a restart's noise is measured against (restart_noise)
            init_scales = [
                float(np.std(variable.numpy()))
                for variable in fit.network.trainable_variables
            ]
        fit.plan = FitPlan(
            method=self.method,
            schedule=self.schedule,
            restart_shrink=float(self.restart_shrink),
            restart_noise=float(self.restart_noise),
            restart_loss_threshold=optional_float(self.restart_loss_threshold),
            init_scales=init_scales,
            epochs=int(self.epochs),
            n_cycles=int(self.n_cycles),
            cycle_epochs=[int(epochs) for epochs in fit.cycle_epochs],
            batch_size=int(fit.batch_size),
            lr_max=float(self.lr_max),
            lr_min=float(self.lr_min),
            momentum=float(self.momentum),
            # as the optimizer clips (optimizer__clipnorm is refused)
            clipnorm=fit.optimizer.clipnorm,
            n_samples=int(fit.X.shape[0]),
            data_sha256=_fingerprint(fit.X, fit.y_encoded, fit.sample_weight),
            seed=fit.seed,
            first_snapshot=len(fit.records),
            epoch_offset=int(self.n_iter_) if warm else 0,
            n_networks=int(self.n_networks),
            cross_fit=bool(fit.cross_fit),
        )

    def _open_store(self, fit):
        """Stage 7: the snapshot directory, resumed where it stopped if asked."""
        if self.snapshot_dir is None:
            fit.fits.append(fit.plan)
            return
        header = manifest_header(self, fit.network, fit.meta, fit.loss)
        header.update(self._target_record(fit.target))
        fit.store = SnapshotStore.open(
            self.snapshot_dir,
            header,
            fit.plan,
            resume=self.resume,
            overwrite=self.overwrite,
            continues_run=self._run_id if fit.warm else None,
        )
        if fit.store.done_cycles:
            # Continue the interrupted run as it was planned.
            fit.plan = fit.store.plan
            fit.seed = fit.plan.seed
            fit.store.restore(fit.networks, fit.optimizer)
        fit.fits = fit.store.plans
        fit.records = [ledger_record(r) for r in fit.store.manifest["snapshots"]]

    def _fold_groups(self, y):
        """What cross-fitting stratifies on: a classifier's labels."""
        if self._stratified_validation and np.ndim(y) == 1:
            return np.unique(y, return_inverse=True)[1]
        return None

    def _begin_callback_task(self, fit):
        """The fit's task for scikit-learn's callbacks, one subtask a cycle."""
        context = self._init_callback_context(max_subtasks=int(self.n_cycles))
        if context is not None:
            context.call_on_fit_task_begin(estimator=self, **self._callback_data(fit))
        return context

    @staticmethod
    def _callback_data(fit):
        weights = fit.sample_weight
        metadata = None if weights is None else {"sample_weight": weights}
        return {"X": fit.X, "y": fit.y, "metadata": metadata}

    def _fit_params_with_callbacks(self, fit):
        """The routed ``fit__*`` parameters, the cycles' reporter added to the
        Keras callbacks when scikit-learn callbacks are set."""
        callbacks = make_callbacks(fit.params)
        if fit.callback_context is not None and has_callbacks(self):
            callbacks.append(
                CycleTasks(self, fit.callback_context, **self._callback_data(fit))
            )
        return {**routed_params(fit.params, "fit"), "callbacks": callbacks}

    def _train(self, fit, shared_activation):
        """Stage 8: run the cycles."""
        store = fit.store
        excluded = None
        if fit.cross_fit:
            # dealt from the run's first seed, so that a warm start or a resumed
            # run keeps every network off the same fold
            fit.folds = cross_fit_folds(
                self.n_networks,
                fit.fits[0].seed,
                groups=self._fold_groups(fit.y),
                n_samples=fit.X.shape[0],
            )
            excluded = np.equal.outer(np.arange(self.n_networks), fit.folds)
            excluded = excluded.astype(np.float32)
        return train_snapshots(
            fit.networks,
            fit.X,
            fit.y_encoded,
            fit.sample_weight,
            optimizer=fit.optimizer,
            schedule=fit.schedule,
            loss=fit.loss,
            plan=fit.plan,
            fit_params=self._fit_params_with_callbacks(fit),
            verbose=self.verbose,
            first_cycle=0 if store is None else store.done_cycles,
            keep_weights=self.in_memory,
            on_snapshot=(
                None
                if store is None
                else store.writer(fit.networks, fit.optimizer, fit.plan.epoch_offset)
            ),
            built_in_activation=shared_activation,
            restart=self._restarter(fit.plan),
            restart_first_cycle=fit.warm,
            previous_loss=(
                [record["loss"] for record in fit.records[-self.n_networks :]]
                if fit.records
                else None
            ),
            excluded=excluded,
        )

    def _record_fit(self, fit, run):
        """Set the fitted state from what the run trained."""
        self._set_fitted_state(
            target=fit.target,
            meta=fit.meta,
            loss=fit.loss,
            network=fit.network,
            snapshot_weights=self._collected_weights(fit, run),
            fits=fit.fits,
            records=self._collected_records(fit, run),
            run_id=(
                fit.store.manifest["run_id"]
                if fit.store is not None
                else uuid.uuid4().hex
            ),
        )

    def _check_run(self, run, n_networks):
        if run.diverged or not all(
            np.isfinite(array).all() for weights in run.weights for array in weights
        ):
            raise ValueError(
                "Training diverged: the loss or the weights became infinite or NaN"
                f" in cycle {len(run.losses) // n_networks}. Lower"
                f" lr_max (got lr_max={self.lr_max!r}) or clipnorm (got clipnorm="
                f"{self.clipnorm!r}), or standardise the features."
            )

    def _collected_records(self, fit, run):
        """The ledger of every snapshot, earlier fits' included."""
        if fit.store is not None:
            return [ledger_record(r) for r in fit.store.manifest["snapshots"]]
        records = list(fit.records)
        for epoch, rate, loss_value in zip(
            run.snapshot_epochs, run.snapshot_learning_rates, run.losses, strict=True
        ):
            records.append(
                {
                    "epoch": fit.plan.epoch_offset + int(epoch),
                    "learning_rate": float(rate),
                    "loss": float(loss_value),
                }
            )
        return records

    def _collected_weights(self, fit, run):
        """Every snapshot's weights: in memory, or read from disk on demand."""
        store = fit.store
        if not self.in_memory:
            return store.lazy_weights()
        if store is not None and store.done_cycles:
            earlier = store.manifest["snapshots"][: -len(run.weights) or None]
            return read_snapshots(store.directory, earlier, fit.network) + run.weights
        previous = list(self.snapshot_weights_) if fit.warm else []
        return previous + run.weights

    def _finish_fit(self, fit):
        """Stage 9: average (SWA), evaluate the snapshots, record and report."""
        if self.method == "swa":
            averaged = self._average_snapshots(fit.network, fit.X)
            # one network: its weight list; several: one weight list each
            self.averaged_weights_ = averaged[0] if len(averaged) == 1 else averaged
            if fit.store is not None:
                fit.store.record_averaged(fit.network, averaged)
        with one_thread_pools():
            linear, held_out_output = self._fit_linear_member(fit)
        evaluation = evaluate_members(
            lambda rows: self._snapshot_votes(rows, range(self.n_snapshots_)),
            self._new_evaluation,
            (fit.X, fit.y, fit.sample_weight),
            fit.held_out,
            folds=fit.folds,
            extra=held_out_output,
        )
        evaluation["linear_member_"] = linear
        vars(self).update(evaluation)
        if fit.store is not None:
            fit.store.record_evaluation(evaluation_to_json(evaluation))
        if self.verbose > 0:
            report = member_report(
                self.snapshot_train_loss_,
                self.snapshot_validation_loss_,
                self.snapshot_disagreement_,
                self.snapshot_perturbed_,
            )
            print("\n".join(report), flush=True)

    def _fit_linear_member(self, fit):
        """``(weights, output)``: the linear member fitted on every training row,
        as a one-layer weight list, and its output on the held-out rows (out of
        fold when cross-fitting, each fold's from a model fitted without it); or
        ``(None, None)`` without held-out rows, with ``linear_member=False``,
        with ``method="swa"`` or where a fold's model cannot be fitted (a class
        missing from its rows)."""
        if not self.linear_member or self.method == "swa":
            return None, None
        if fit.folds is None and fit.held_out is None:
            return None, None
        rows = (fit.X, fit.y, fit.sample_weight)
        weights, model = self._fit_linear(*rows)
        if weights is None:
            return None, None
        if fit.held_out is not None:
            return weights, linear_output(weights, fit.held_out[0], self._task)
        output = None
        for k in range(int(fit.folds.max()) + 1):
            outside = fit.folds != k
            # each fold's model starts from the model of every row: its convex
            # loss has one minimum, which it reaches in a few iterations
            fold_weights, _ = self._fit_linear(*_rows_where(rows, outside), model)
            if fold_weights is None:
                return None, None
            fold_output = linear_output(fold_weights, fit.X[~outside], self._task)
            if output is None:
                output = np.empty((len(fit.X), fold_output.shape[1]))
            output[~outside] = fold_output
        return weights, output

    def _set_fitted_state(
        self,
        *,
        target,
        meta,
        loss,
        network,
        snapshot_weights,
        fits,
        records,
        run_id,
        averaged_weights=None,
        evaluation=None,
    ):
        """Set every fitted attribute: the one place, for ``fit`` and
        ``from_snapshot_dir`` alike."""
        self._set_target_state(target)
        self._target_encoder = target
        self._meta = meta
        self._loss = loss
        self.snapshot_weights_ = snapshot_weights
        self._set_history(fits, records)
        self._run_id = run_id
        # Members vote through the one Keras network by loading their weights
        # into it: one member at a time, whatever the number of threads.
        self._network_lock = threading.RLock()
        self._predictor = MemberPredictor(network)
        self.averaged_weights_ = averaged_weights
        if evaluation is not None:
            vars(self).update(evaluation)

    @staticmethod
    def _restarter(plan):
        """``restart(cycle, previous_losses, networks)`` for
        ``train_snapshots``, or None if no restart of this plan can shrink and
        perturb the weights.

        Each network restarts on its own previous loss, with noise drawn from
        the index its snapshot of this cycle will have.
        """
        if not plan.perturbs_at_restart(previous_loss=0.0):
            return None

        def restart(cycle, previous_losses, networks):
            losses = previous_losses or [None] * len(networks)
            for k, (network, loss) in enumerate(zip(networks, losses, strict=True)):
                if plan.perturbs_at_restart(loss):
                    restart_weights(
                        network,
                        plan.init_scales,
                        plan.restart_shrink,
                        plan.restart_noise,
                        [plan.seed, plan.first_snapshot + cycle * len(networks) + k],
                    )

        return restart

    def _average_snapshots(self, network, X):
        """SWA: the mean of each network's snapshots' weights (one average per
        network), BatchNormalization refitted; a list of weight lists."""
        snapshots = self.snapshot_weights_
        n_networks = self._fits[-1].n_networks
        averages = []
        for k in range(n_networks):
            indices = range(k, self.n_snapshots_, n_networks)
            averaged = average_weights(snapshots[i] for i in indices)
            network.set_weights(averaged)
            if recompute_batch_norm(network, X):
                averaged = [np.array(array) for array in network.get_weights()]
            averages.append(averaged)
        return averages

    def _averaged_networks(self):
        """The averaged networks' weight lists (``method="swa"``)."""
        averaged = self.averaged_weights_
        return [averaged] if self._fits[-1].n_networks == 1 else list(averaged)

    def _shared_training_activation(self, params, loss):
        """The built-in network's activation when it can train through the
        shared compiled function (see ``train_snapshots``), else None."""
        if (
            self._built_in_activation(MLP_ACTIVATIONS)
            # the shared function knows nothing of tf.distribute
            and distribution_strategy() is None
            and (loss or self._default_loss) == self._default_loss
            and self._default_loss in MLP_LOSSES
            and not routed_params(params, "optimizer")
        ):
            return self.activation
        return None

    def _set_history(self, fits, records):
        """Derive the history attributes from the fits' plans and the snapshots."""
        self._fits = fits
        self._records = records
        rates, snapshot_iterations, n_iter = [], [], 0
        boundaries = [fit.first_snapshot for fit in fits[1:]] + [len(records)]
        for fit, end in zip(fits, boundaries, strict=True):
            # each cycle gave one snapshot per network
            done = (end - fit.first_snapshot) // fit.n_networks
            steps = fit.cycle_steps
            steps_before = sum(len(rate) for rate in rates)
            snapshot_iterations += list(
                np.repeat(steps_before + np.cumsum(steps[:done]), fit.n_networks)
            )
            schedule = CycleSchedule(
                fit.method, steps, fit.lr_max, fit.lr_min, shape=fit.schedule
            )
            rates.append(schedule.rates(np.arange(sum(steps[:done]))))
            n_iter += sum(fit.cycle_epochs[:done])
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
                # the network's snapshot of the cycle before
                index >= fit.n_networks
                and fit.perturbs_at_restart(records[index - fit.n_networks]["loss"])
                for fit, end in zip(fits, boundaries, strict=True)
                for index in range(fit.first_snapshot, end)
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
        estimator : object
            A fitted estimator of this class that predicts exactly as the one
            that wrote the directory.

        Raises
        ------
        SnapshotDirectoryError
            A ``ValueError``: if the directory is missing or empty, the manifest
            is not readable, was written by the other task's estimator (a
            classifier's directory loaded as a regressor, say), a file is
            missing, truncated or corrupted, or the files do not match the
            manifest's architecture, features or targets. The message names the
            file.
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
                    "member_order='best' ranks the snapshots by their loss on"
                    " held-out rows, but this estimator was fitted without them"
                    " (validation_fraction=None and no cross-fitting). Refit with"
                    " validation_fraction set or n_networks >= 2,"
                    " or use member_order='newest'."
                )
            return [int(index) for index in np.argsort(losses, kind="stable")]
        if self.member_order == "oldest":
            return list(range(self.n_snapshots_))
        return self._ordered_snapshots_by_age()

    def _get_predictor(self):
        """The Keras network members vote through; hold ``_network_lock``."""
        predictor = getattr(self, "_predictor", None)
        if predictor is None:
            # After unpickling: rebuild the architecture; the weights come from
            # the snapshots, so the builder's random initialisation is irrelevant.
            compile_kwargs = make_compile_kwargs(
                self.get_params(), keras.optimizers.SGD()
            )
            with _FIT_LOCK:
                network = self._build_network(
                    self._meta, compile_kwargs, self._target_encoder
                )
            predictor = self._predictor = MemberPredictor(network)
        return predictor

    @property
    def model_(self):
        """The Keras network, holding the newest snapshot's weights.

        scikeras' ``model_``: the network to inspect (``summary()``), copy or
        save. The ensemble votes by loading each member's weights into this
        one network, so every read of ``model_`` loads the newest snapshot
        (the first network's final snapshot) again; predict with the estimator,
        which uses every member.
        """
        check_is_fitted(self)
        newest = self._ordered_snapshots_by_age()[0]
        with self._network_lock:
            network = self._get_predictor().network
            self._load_member(network, newest)
        return network

    @property
    def target_encoder_(self):
        """The fitted target encoder (scikeras' ``target_encoder_``): the
        classes and how they are encoded, or a regressor's target scaling."""
        check_is_fitted(self)
        return self._target_encoder

    def _ordered_snapshots_by_age(self):
        """Snapshot indices, newest cycle first; within a cycle, the networks
        in order."""
        n_networks = self._fits[-1].n_networks
        return sorted(
            range(self.n_snapshots_),
            key=lambda index: (-(index // n_networks), index),
        )

    def _mean_vote(self, X):
        """The (weighted) mean vote of the voting members on ``X``, validated.

        Classifier votes are probabilities; regressor votes are values in the
        network's units.
        """
        return _finite_votes(self._unchecked_mean_vote(X))

    def _unchecked_mean_vote(self, X):
        check_is_fitted(self)
        averaged = getattr(self, "averaged_weights_", None)
        if averaged is not None:
            return self._averaged_vote(averaged, X)
        members = self._member_indices()
        weights = self._vote_weights(members)
        X = self._validate_features(X)
        forward = self._numpy_forward()
        if forward is not None and isinstance(self.snapshot_weights_, list):
            mean = forward.mean_output(
                [self.snapshot_weights_[i] for i in members], X, weights
            )
        else:
            # one member at a time: snapshots on disk are read as they vote
            *_, mean = self._running_means(self._snapshot_votes(X, members), weights)
        return self._with_linear_member(mean, X, members)

    def _linear_vote_weight(self):
        """The linear member's voting weight, or None if it does not vote: it
        votes with the fitted voting weights (``member_weights`` "auto" or
        "fitted"), and only if the held-out rows gave it a share."""
        linear = getattr(self, "linear_member_", None)
        weight = getattr(self, "linear_weight_", None)
        if (
            linear is None
            or not weight
            or self.member_weights == "uniform"
            or getattr(self, "voting_weights_", None) is None
        ):
            return None
        return weight

    def _mixed_vote_weights(self, members):
        """The fitted weights of snapshots ``members`` followed by the linear
        member's, as they mix when it votes; None when it does not."""
        weight = self._linear_vote_weight()
        if weight is None:
            return None
        return [*np.asarray(self.voting_weights_)[list(members)], weight]

    def _with_linear_member(self, mean, X, members, linear=None):
        """``mean``, the vote of snapshots ``members``, mixed with the linear
        member's vote (``linear``, computed if None) as the fitted weights say:
        ``(W mean + w linear) / (W + w)``, W the members' fitted weights."""
        mixed = self._mixed_vote_weights(members)
        if mixed is None:
            return mean
        if linear is None:
            linear = linear_output(self.linear_member_, X, self._task)
        members_weight, weight = float(np.sum(mixed[:-1])), mixed[-1]
        return (members_weight * mean + weight * linear) / (members_weight + weight)

    def _check_averaged_voting(self, who):
        """Refuse voting parameters that an averaged (SWA) network ignores."""
        for name, allowed in (
            ("n_members", (None,)),
            ("member_weights", ("auto", "uniform")),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{who} with one network, the average of all snapshots, so"
                    f" {name} has no effect: leave it at {allowed[0]!r}. Got"
                    f" {name}={getattr(self, name)!r}."
                )

    def _voting_networks(self):
        """The weight lists that vote, and their unnormalised voting weights
        (None: uniform), as ``_unchecked_mean_vote`` averages them; for exports."""
        check_is_fitted(self)
        if getattr(self, "averaged_weights_", None) is not None:
            return self._checked_averaged_networks(), None
        members = self._member_indices()
        networks = [self.snapshot_weights_[i] for i in members]
        mixed = self._mixed_vote_weights(members)
        if mixed is None:
            return networks, self._vote_weights(members)
        # the linear member is a one-layer network of the vote's units
        return [*networks, self.linear_member_], mixed

    def _checked_averaged_networks(self):
        """The averaged networks that vote, once the prediction parameters are
        checked against an averaged (SWA) fit."""
        self._member_indices()  # validates the prediction parameters
        self._check_averaged_voting("fitted with method='swa', this estimator predicts")
        return self._averaged_networks()

    def _averaged_vote(self, averaged, X):
        """The mean vote of the averaged networks (``method="swa"``): one per
        network trained."""
        networks = self._checked_averaged_networks()
        X = self._validate_features(X)
        forward = self._numpy_forward()
        if forward is not None:
            return forward.mean_output(networks, X)
        votes = []
        for weights in networks:
            with self._network_lock:
                predictor = self._get_predictor()
                predictor.network.set_weights(weights)
                with retracing_warnings_silenced():
                    votes.append(self._vote(predictor.predict(X)))
        *_, mean = self._running_means(votes, None)
        return mean

    def _vote_weights(self, indices):
        """Unnormalised voting weights of snapshots ``indices``; None if uniform."""
        if self.member_weights == "uniform":
            return None
        fitted = getattr(self, "voting_weights_", None)
        if fitted is None and self.member_weights == "auto":
            return None
        if fitted is None:
            raise ValueError(
                "member_weights='fitted' needs voting weights fitted on held-out"
                " rows, but this estimator was fitted without held-out rows"
                " (validation_fraction=None and no cross-fitting). Refit with"
                " validation_fraction set or n_networks >= 2, or use"
                " member_weights='uniform'."
            )
        weights = np.asarray(fitted)[list(indices)]
        # members the fit gave no weight vote equally if they are all that vote
        return weights if weights.sum() > 0 else None

    @staticmethod
    def _running_means(votes, weights):
        """Yield the (weighted) mean of the first k votes, k = 1, 2, ...

        The same operations, in the same order, as ``MLPForward.mean_output``,
        so that the k-th mean equals the prediction with ``n_members=k`` exactly.
        """
        total, plain_total, weight_sum = None, None, 0.0
        for size, vote in enumerate(votes, start=1):
            plain_total = vote if plain_total is None else plain_total + vote
            if weights is None:
                yield plain_total / size
                continue
            weighted = weights[size - 1] * vote
            weight_sum += weights[size - 1]
            total = weighted if total is None else total + weighted
            # members the fit gave no weight vote equally if they are all that
            # vote, as ``_vote_weights`` decides for a prediction
            yield total / weight_sum if weight_sum > 0 else plain_total / size

    def _validate_features(self, X):
        X = validate_data(self, X, dtype=[np.float32, np.float64], reset=False)
        return _float32_rows(X)

    def _numpy_forward(self):
        """NumPy forward pass of the built-in network, or None where it cannot run.

        It needs the built-in MLP with a NumPy-supported activation; otherwise
        members go through the Keras network.
        """
        if self._built_in_activation(MLPForward.SUPPORTED_ACTIVATIONS):
            return MLPForward(self.activation, softmax=self._softmax_output)
        return None

    def _built_in_activation(self, supported):
        """Whether the network is the built-in MLP with an activation in
        ``supported`` (names)."""
        return (
            self._has_built_in_network()
            and isinstance(self.activation, str)
            and self.activation in supported
        )

    def _snapshot_votes(self, X, indices):
        """Yield each snapshot's vote on validated ``X``."""
        forward = self._numpy_forward()
        if forward is not None:
            for index in indices:
                yield _finite_votes(
                    forward.mean_output([self.snapshot_weights_[index]], X)
                )
            return
        for index in indices:
            with self._network_lock:
                predictor = self._get_predictor()
                self._load_member(predictor.network, index)
                with retracing_warnings_silenced():
                    vote = self._vote(predictor.predict(X))
            yield _finite_votes(vote)

    def _staged_votes(self, X):
        """Yield the mean vote of the first k snapshots in ``member_order``."""
        check_is_fitted(self)
        self._member_indices()  # validates member_order
        X = self._validate_features(X)
        order = self._ordered_snapshots()
        yield from self._blended_running_means(X, order)

    def _blended_running_means(self, X, order, singles=None):
        """The running means of the snapshots ``order`` on validated ``X``, each
        mixed with the linear member as a prediction with that many members.
        Each snapshot's own vote is appended to ``singles`` if given."""
        linear = None
        if self._linear_vote_weight() is not None:
            linear = linear_output(self.linear_member_, X, self._task)
        votes = self._snapshot_votes(X, order)
        if singles is not None:
            votes = _recorded(votes, singles)
        means = self._running_means(votes, self._vote_weights(order))
        for size, mean in enumerate(means, start=1):
            yield self._with_linear_member(mean, X, order[:size], linear)

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
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        scores : sklearn.utils.Bunch
            ``n_members`` (k), ``snapshot`` (index of the k-th snapshot, 0 being
            the oldest) and ``epoch`` (when it was taken), then for each metric
            ``single_<metric>`` of that snapshot alone and ``ensemble_<metric>``
            of the first k, each an array of length ``n_snapshots_``. The
            classifier's metrics are ``accuracy`` and ``log_loss``, the
            regressor's ``r2`` and ``mse``.
        """
        check_is_fitted(self)
        self._member_indices()  # validates member_order
        X = self._validate_features(X)
        order = self._ordered_snapshots()
        columns = {}
        singles = []
        means = self._blended_running_means(X, order, singles)
        for mean in means:
            for kind, vote in (("single", singles[-1]), ("ensemble", mean)):
                scores = self._vote_scores(y, vote, sample_weight)
                for metric, value in scores.items():
                    columns.setdefault(f"{kind}_{metric}", []).append(value)
        return Bunch(
            n_members=np.arange(1, len(order) + 1),
            snapshot=np.asarray(order),
            epoch=self.snapshot_epochs_[order],
            **{name: np.asarray(values) for name, values in columns.items()},
        )

    # -- pickling ---------------------------------------------------------------

    def __getstate__(self):
        # BaseEstimator may hand back the live __dict__: copy before removing.
        state = dict(super().__getstate__())
        # The live Keras network is rebuilt on demand; the pickle holds plain
        # NumPy weights only.
        state.pop("_predictor", None)
        state.pop("_network_lock", None)
        # scikeras' meta holds NumPy dtypes: kept as their names, so that the
        # state is our own types, arrays and plain values (skops trusts those)
        if "_meta" in state:
            state["_meta"] = {
                key: {"numpy_dtype": value.str}
                if isinstance(value, np.dtype)
                else value
                for key, value in state["_meta"].items()
            }
        # a loss named by a string is kept as that name, not as the Keras
        # function it resolves to (rebuilt on load, as fit resolved it)
        if (
            state.get("_loss") is not None
            and isinstance(state.get("loss"), str)
            and not any(key.startswith("loss__") for key in state)
        ):
            state["_loss"] = {"keras_loss": state["loss"]}
        return state

    def __setstate__(self, state):
        state = dict(state)
        if "_extra_params" not in state:
            # pickled before the extra parameters were kept apart: they were
            # the public attributes that no __init__ names and no fit set
            named = set(self._named_parameters())
            state["_extra_params"] = {
                name: state.pop(name)
                for name in list(state)
                if name not in named
                and not name.startswith("_")
                and not name.endswith("_")
            }
        loss = state.get("_loss")
        if isinstance(loss, dict) and set(loss) == {"keras_loss"}:
            state["_loss"] = make_loss({"loss": loss["keras_loss"]})
        if "_meta" in state:
            state["_meta"] = {
                key: np.dtype(value["numpy_dtype"])
                if isinstance(value, dict) and set(value) == {"numpy_dtype"}
                else value
                for key, value in state["_meta"].items()
            }
        super().__setstate__(state)
        if "snapshot_weights_" in state:
            self._network_lock = threading.RLock()


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _rows_where(rows, mask):
    """``(X, y, sample_weight)`` rows where ``mask`` holds."""
    X, y, sample_weight = rows
    return X[mask], y[mask], None if sample_weight is None else sample_weight[mask]


def linear_output(weights, X, task):
    """The linear member's vote on float32 ``X``: class probabilities (a softmax
    of its one layer) or values in the network's units."""
    forward = MLPForward("linear", softmax=task == "classification")
    return _finite_votes(forward.member_output(weights, X))


def _encoder_metadata(meta, target):
    """scikeras' ``feature_encoder_`` and ``target_encoder_`` entries of a
    builder's ``meta``: the identity on the float32 features (the network gets
    them as they are), and the fitted target encoder. Only builders see them;
    they are not kept in the estimator's state."""
    n_features = meta.get("n_features_in_", 1)
    features = FunctionTransformer().fit(np.zeros((1, n_features), np.float32))
    return {"feature_encoder_": features, "target_encoder_": target}


def _float32_rows(X):
    """Validated ``X`` in float32, the precision the network computes in;
    values float32 cannot hold are refused rather than turned into infinities."""
    if X.dtype != np.float32 and X.size:
        # the extremes, without an absolute-value copy of X on every call
        largest = max(abs(float(X.max())), abs(float(X.min())))
        if largest > _FLOAT32_MAX:
            raise ValueError(
                "X holds values beyond float32's range, in which the network"
                f" computes (|x| <= {_FLOAT32_MAX:.4g}). Got a value of magnitude"
                f" {largest:.4g}. Rescale the features, for example with"
                " StandardScaler."
            )
    return np.ascontiguousarray(X, dtype=np.float32)


def _finite_votes(votes):
    """``votes``, refused if float32 overflowed inside the network."""
    if not np.isfinite(votes).all():
        raise ValueError(
            "The network's output on X is not finite: float32 overflowed inside"
            " the network, which happens when X lies far outside the range of"
            " the training data. Scale X as the training data was scaled."
        )
    return votes


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
