"""Snapshot ensembles inside a user's own ``keras.Model.fit``.

:class:`SnapshotEnsembleCallback` is glue over what the estimators use: the
cycle schedule of :mod:`._schedules` (installed on the optimizer for the length
of the fit and evaluated in-graph at every mini-batch), the shrink-and-perturb
restart of :mod:`._training`, the :class:`~._callbacks.SnapshotRecorder` that
copies each cycle's weights to the host, and the crash-safe snapshot directory
of :mod:`._persistence`, written in the estimators' format so that
``from_snapshot_dir`` loads it as a fitted estimator.
"""

import inspect
import math
import numbers
import os
import uuid

import keras
import numpy as np
import tensorflow as tf

from ._callbacks import SnapshotRecorder
from ._persistence import SnapshotStore, architecture_of, labels_to_json, versions
from ._plan import FitPlan
from ._schedules import CycleSchedule, cycle_epochs
from ._training import restart_weights

__all__ = ["SnapshotEnsembleCallback"]

SCHEDULES = ("cosine", "triangular")
TASKS = ("classification", "regression")


@keras.saving.register_keras_serializable(package="skl_snapshot")
class ShiftedSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``schedule(step - offset)``: a schedule that starts at iteration ``offset``
    of an optimizer that may have trained before (internal)."""

    def __init__(self, schedule, offset=0):
        self.schedule = schedule
        self.offset = int(offset)

    def __call__(self, step):
        step = keras.ops.cast(step, "int64") - self.offset
        return self.schedule(keras.ops.maximum(step, 0))

    def get_config(self):
        return {
            "schedule": keras.saving.serialize_keras_object(self.schedule),
            "offset": self.offset,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["schedule"] = keras.saving.deserialize_keras_object(config["schedule"])
        return cls(**config)


def _positive_int(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an int >= 1. Got {name}={value!r}.")
    return int(value)


def _finite_float(name, value, low, high=math.inf):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        bounds = f"in [{low}, {high}]" if math.isfinite(high) else f">= {low}"
        raise ValueError(
            f"{name} must be a finite number {bounds}. Got {name}={value!r}."
        )
    return float(value)


def keras_schedule(shape, cycle_steps, lr_max, lr_min):
    """The Keras schedule of cycles of ``cycle_steps`` iterations each.

    Equal cosine cycles are exactly Keras' ``CosineDecayRestarts`` (with
    ``t_mul=1``, ``m_mul=1`` and ``alpha=lr_min / lr_max``), which is then used;
    cycles of different lengths (``t_mult > 1``, rounded to whole epochs so that
    every cycle ends where Keras ends an epoch) and triangular ones are
    :class:`~skl_snapshot._schedules.CycleSchedule`'s.
    """
    if shape == "cosine" and len(set(cycle_steps)) == 1:
        return keras.optimizers.schedules.CosineDecayRestarts(
            initial_learning_rate=lr_max,
            first_decay_steps=int(cycle_steps[0]),
            t_mul=1.0,
            m_mul=1.0,
            alpha=lr_min / lr_max,
        )
    return CycleSchedule("snapshot", cycle_steps, lr_max, lr_min, shape=shape)


class SnapshotEnsembleCallback(keras.callbacks.Callback):
    """Snapshot ensembles in a plain ``keras.Model.fit``.

    Pass it to ``model.fit(x, y, epochs=epochs, callbacks=[callback])`` of any
    compiled Keras model. For the length of the fit it installs a cyclic
    learning rate on the model's optimizer, evaluated in-graph from the
    optimizer's iteration counter, so the rate changes at every mini-batch with
    no Python work per batch; the optimizer's own learning rate is put back when
    the fit ends. At the end of every cycle it copies the weights to host NumPy
    arrays (a snapshot) and, if asked, writes them to a crash-safe
    ``snapshot_dir`` that ``SnapshotEnsembleClassifier.from_snapshot_dir`` or
    ``SnapshotEnsembleRegressor.from_snapshot_dir`` loads as a fitted estimator.
    :meth:`predict_ensemble` averages the snapshots' outputs.

    Parameters
    ----------
    epochs : int
        Epochs of the fit; ``model.fit`` must be called with the same number.
    n_cycles : int
        Number of cycles, hence of snapshots; at most ``epochs``.
    lr_max : float
        Learning rate at the start (cosine) or at the peak (triangular) of every
        cycle.
    lr_min : float, default=0.0
        Learning rate at the end of every cycle, where the snapshot is taken.
    t_mult : float >= 1, default=1.0
        How much longer each cycle is than the one before (SGDR's ``T_mult``):
        the epochs are split as :func:`~skl_snapshot.cycle_epochs` splits them.
        1 gives the equal cycles of Huang et al. (2017).
    schedule : {"cosine", "triangular"}, default="cosine"
        The shape of a cycle. ``"cosine"``: the rate falls from ``lr_max`` to
        ``lr_min`` along half a cosine, then restarts (SGDR). ``"triangular"``:
        it rises linearly from ``lr_min`` to ``lr_max`` over the first half of
        the cycle and falls back over the second (Smith 2017's triangular
        cyclical rate).
    restart_shrink : float in [0, 1], default=1.0
        At every restart (each cycle end but the last), multiply the trainable
        weights by this factor. 1 with ``restart_noise=0`` restarts the rate
        alone, as the paper does.
    restart_noise : float >= 0, default=0.0
        At every restart, add Gaussian noise of this many times each variable's
        standard deviation at the start of the fit (shrink and perturb, Ash &
        Adams 2020; the estimators' ``restart_*`` parameters).
    snapshot_dir : str, path-like or None, default=None
        Also write every snapshot to this directory as it is taken, in the
        estimators' crash-safe format. The model must be one Keras can describe
        as a config (Sequential or functional, not subclassed), with one input
        of shape ``(batch, n_features)`` and one output; ``task`` and
        ``classes`` say what the outputs mean.
    task : {"classification", "regression"} or None, default=None
        What the directory holds: ``"classification"`` (the outputs are class
        probabilities, one column per class of ``classes``, or one sigmoid
        column for two classes) or ``"regression"`` (the outputs are the
        predictions, unscaled). None: classification when ``classes`` is given,
        else regression.
    classes : array-like of shape (n_classes,) or None, default=None
        The labels of the output columns, in order; needed for a
        classification directory.
    overwrite : bool, default=False
        Whether ``snapshot_dir`` may replace a run that is already there (only
        files of the directory format are ever removed).
    seed : int, default=0
        Seed of the restart noise.
    verbose : int, default=0
        If > 0, print one line per finished cycle.

    Attributes
    ----------
    snapshot_weights_ : list of list of ndarray
        One entry per snapshot, oldest first: the model's weights as
        ``model.get_weights()`` lists them.
    snapshot_epochs_ : ndarray of shape (n_snapshots,)
        The epoch (1-based count of epochs run) at which each snapshot was taken.
    snapshot_losses_ : ndarray of shape (n_snapshots,)
        Mean training loss over the epochs of each snapshot's cycle.
    cycle_epochs_ : list of int
        Epochs of each cycle.
    learning_rate_history_ : ndarray of shape (n_iterations,)
        The learning rate of every mini-batch of the fit, as the schedule
        computes it in-graph.
    steps_per_epoch_ : int
        Mini-batches per epoch of the fit.

    See Also
    --------
    SnapshotEnsembleClassifier : The same ensembles as a scikit-learn estimator.
    cyclic_cosine_annealing : The cosine schedule as a NumPy function.

    References
    ----------
    .. [1] Huang, G. et al. (2017). Snapshot Ensembles: Train 1, get M for free.
       ICLR. arXiv:1704.00109.
    .. [2] Loshchilov, I. and Hutter, F. (2017). SGDR: Stochastic Gradient Descent
       with Warm Restarts. ICLR. arXiv:1608.03983.
    .. [3] Smith, L. N. (2017). Cyclical Learning Rates for Training Neural
       Networks. WACV. arXiv:1506.01186.

    Examples
    --------
    >>> import keras, numpy as np
    >>> from skl_snapshot import SnapshotEnsembleCallback
    >>> X = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    >>> y = (X[:, 0] > 0).astype("int64")
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2,
    ...     activation="softmax")])
    >>> model.compile(optimizer=keras.optimizers.SGD(momentum=0.9),
    ...     loss="sparse_categorical_crossentropy")
    >>> callback = SnapshotEnsembleCallback(epochs=6, n_cycles=3, lr_max=0.1)
    >>> _ = model.fit(X, y, epochs=6, batch_size=16, verbose=0,
    ...     callbacks=[callback])
    >>> callback.snapshot_epochs_.tolist()
    [2, 4, 6]
    >>> callback.predict_ensemble(X).shape
    (64, 2)
    """

    def __init__(
        self,
        epochs,
        n_cycles,
        lr_max,
        lr_min=0.0,
        *,
        t_mult=1.0,
        schedule="cosine",
        restart_shrink=1.0,
        restart_noise=0.0,
        snapshot_dir=None,
        task=None,
        classes=None,
        overwrite=False,
        seed=0,
        verbose=0,
    ):
        super().__init__()
        self.epochs = epochs
        self.n_cycles = n_cycles
        self.lr_max = lr_max
        self.lr_min = lr_min
        self.t_mult = t_mult
        self.schedule = schedule
        self.restart_shrink = restart_shrink
        self.restart_noise = restart_noise
        self.snapshot_dir = snapshot_dir
        self.task = task
        self.classes = classes
        self.overwrite = overwrite
        self.seed = seed
        self.verbose = verbose
        # checked here so that a mistake shows when the callback is made, and
        # again when a fit starts (the attributes may have been changed)
        self._check_parameters()

    # -- parameters -------------------------------------------------------------

    def _check_parameters(self):
        epochs = _positive_int("epochs", self.epochs)
        n_cycles = _positive_int("n_cycles", self.n_cycles)
        lr_max = _finite_float("lr_max", self.lr_max, 0.0)
        if not lr_max > 0:
            raise ValueError(f"lr_max must be > 0. Got lr_max={self.lr_max!r}.")
        lr_min = _finite_float("lr_min", self.lr_min, 0.0, lr_max)
        _finite_float("restart_shrink", self.restart_shrink, 0.0, 1.0)
        _finite_float("restart_noise", self.restart_noise, 0.0)
        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"schedule must be one of {SCHEDULES}. Got schedule={self.schedule!r}."
            )
        if not isinstance(self.seed, numbers.Integral) or isinstance(self.seed, bool):
            raise ValueError(f"seed must be an int. Got seed={self.seed!r}.")
        lengths = cycle_epochs(epochs, n_cycles, self.t_mult)
        if self.task not in (None, *TASKS):
            raise ValueError(
                f"task must be None or one of {TASKS}. Got task={self.task!r}."
            )
        task = self._task()
        if self.snapshot_dir is not None and not isinstance(
            self.snapshot_dir, str | os.PathLike
        ):
            raise ValueError(
                "snapshot_dir must be None, a str or a path-like object. Got"
                f" snapshot_dir={self.snapshot_dir!r}."
            )
        if task == "classification":
            if self.classes is None:
                raise ValueError(
                    "task='classification' needs the classes, the labels of the"
                    " output columns in order. Got classes=None."
                )
            classes = np.asarray(self.classes)
            if (
                classes.ndim != 1
                or len(classes) < 2
                or len(np.unique(classes)) < len(classes)
            ):
                raise ValueError(
                    "classes must be a 1-D sequence of at least two distinct labels."
                    f" Got classes={self.classes!r}."
                )
        elif self.classes is not None:
            raise ValueError(
                "classes are the labels of a classifier's output columns; a"
                f" regression has none. Got classes={self.classes!r} with"
                " task='regression'."
            )
        return lengths, lr_max, lr_min

    def _task(self):
        if self.task is not None:
            return self.task
        return "classification" if self.classes is not None else "regression"

    # -- Keras hooks ------------------------------------------------------------

    def on_train_begin(self, logs=None):
        lengths, lr_max, lr_min = self._check_parameters()
        params = self.params or {}
        if params.get("epochs") is not None and params["epochs"] != self.epochs:
            raise ValueError(
                "model.fit must run the callback's epochs: its schedule ends after"
                f" epochs={self.epochs}. Got model.fit(epochs={params['epochs']})."
            )
        steps = params.get("steps")
        if not steps:
            raise ValueError(
                "SnapshotEnsembleCallback needs the number of mini-batches per"
                " epoch to place the cycles, and Keras does not know it for this"
                " input: pass steps_per_epoch to model.fit (or a tf.data.Dataset"
                " of known cardinality)."
            )
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            raise ValueError(
                "SnapshotEnsembleCallback needs a compiled model: call"
                " model.compile(optimizer=..., loss=...) before model.fit."
            )
        self.steps_per_epoch_ = int(steps)
        self.cycle_epochs_ = list(lengths)
        cycle_steps = [epochs * self.steps_per_epoch_ for epochs in lengths]
        self._schedule = keras_schedule(self.schedule, cycle_steps, lr_max, lr_min)
        self._first_step = int(optimizer.iterations.numpy())
        self._saved_rate = optimizer._learning_rate
        self._optimizer = optimizer
        # the train function was traced (or is to be traced) with the old rate;
        # Keras calls model.train_function afresh every step, so a new one
        # takes over from the first step
        optimizer._learning_rate = ShiftedSchedule(self._schedule, self._first_step)
        self.model.make_train_function(force=True)

        self.snapshot_weights_ = []
        self._epoch_losses = []
        self._cycle_ends = np.cumsum(lengths)
        self._init_scales = [
            float(np.std(variable.numpy()))
            for variable in self.model.trainable_variables
        ]
        self._store = self._open_directory(lr_max, lr_min, lengths)
        self._recorder = SnapshotRecorder(
            lengths,
            self._rate_at,
            verbose=self.verbose,
            on_snapshot=None if self._store is None else self._store_writer(),
        )
        self._recorder.set_model(self.model)
        self._started = False

    def _rate_at(self, absolute_step):
        return float(self._schedule(max(absolute_step - self._first_step, 0)))

    def on_epoch_begin(self, epoch, logs=None):
        if not self._started:
            self._started = True
            if epoch != 0:
                self._put_back()
                raise ValueError(
                    "SnapshotEnsembleCallback places its cycles from epoch 0: it"
                    f" cannot join a fit that starts at initial_epoch={epoch}."
                )

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self._epoch_losses.append(float(logs.get("loss", math.nan)))
        done = epoch + 1
        cycles = np.flatnonzero(self._cycle_ends == done)
        if not len(cycles):
            return
        cycle = int(cycles[0])
        first = int(self._cycle_ends[cycle - 1]) if cycle else 0
        loss = float(np.mean(self._epoch_losses[first:done]))
        self._recorder.on_epoch_end(cycle, {"loss": loss})
        if cycle + 1 < len(self._cycle_ends) and not self._recorder.diverged:
            if self.restart_shrink != 1 or self.restart_noise:
                restart_weights(
                    self.model,
                    self._init_scales,
                    float(self.restart_shrink),
                    float(self.restart_noise),
                    seed=[int(self.seed), cycle],
                )

    def _put_back(self):
        """The optimizer's own rate back; the directory's lock released."""
        self._optimizer._learning_rate = self._saved_rate
        # a later fit without the callback must not run the cycle schedule
        self.model.train_function = None
        if self._store is not None:
            self._store.close()
            self._store = None

    def on_train_end(self, logs=None):
        optimizer = self._optimizer
        self._put_back()
        steps = int(optimizer.iterations.numpy()) - self._first_step
        self.learning_rate_history_ = (
            np.asarray(
                self._schedule(np.arange(steps, dtype=np.int64)), dtype=np.float64
            )
            if steps
            else np.zeros(0)
        )
        self.snapshot_weights_ = self._recorder.weights
        self.snapshot_losses_ = np.asarray(self._recorder.losses)
        self.snapshot_epochs_ = np.asarray(
            self._cycle_ends[: len(self._recorder.weights)], dtype=np.int64
        )

    # -- the snapshot directory -------------------------------------------------

    def _open_directory(self, lr_max, lr_min, lengths):
        if self.snapshot_dir is None:
            return None
        header = self._manifest_header(lr_max, lr_min)
        momentum = getattr(self.model.optimizer, "momentum", None)
        plan = FitPlan(
            epochs=int(self.epochs),
            n_cycles=int(self.n_cycles),
            cycle_epochs=[int(value) for value in lengths],
            # Keras' batches may come from anywhere: the plan counts each
            # mini-batch as a row, which gives the fit's iterations per epoch
            batch_size=1,
            lr_max=lr_max,
            lr_min=lr_min,
            n_samples=self.steps_per_epoch_,
            seed=int(self.seed),
            momentum=None if momentum is None else float(momentum),
            restart_shrink=float(self.restart_shrink),
            restart_noise=float(self.restart_noise),
            init_scales=self._init_scales,
        )
        return SnapshotStore.open(
            self.snapshot_dir, header, plan, resume=False, overwrite=self.overwrite
        )

    def _store_writer(self):
        return self._store.writer([self.model], self.model.optimizer, epoch_offset=0)

    def _manifest_header(self, lr_max, lr_min):
        model = self.model
        architecture = architecture_of(model)
        if architecture is not None:
            # the network alone: a loaded estimator trains with its own SGD, and
            # rebuilding the user's optimizer would allocate its variables
            architecture.pop("compile_config", None)
        inputs = getattr(model, "inputs", None) or []
        outputs = getattr(model, "outputs", None) or []
        if architecture is None or len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(
                "snapshot_dir writes the estimators' directory format, which"
                " describes the network by its Keras config: it needs a Sequential"
                " or functional model with one input and one output. Got"
                f" {type(model).__name__} with {len(inputs)} input(s) and"
                f" {len(outputs)} output(s)."
            )
        if len(inputs[0].shape) != 2 or inputs[0].shape[-1] is None:
            raise ValueError(
                "snapshot_dir needs a model whose input has shape (batch,"
                f" n_features), as the estimators take. Got input shape"
                f" {tuple(inputs[0].shape)}."
            )
        units = outputs[0].shape[-1]
        task = self._task()
        loss = getattr(model, "loss", None)
        loss_name = loss if isinstance(loss, str) else getattr(loss, "name", None)
        header = {
            "run_id": uuid.uuid4().hex,
            "versions": versions(),
            "task": task,
            "architecture": architecture,
            "n_features_in": int(inputs[0].shape[-1]),
            "feature_names_in": None,
            "loss": str(loss_name or "loss"),
            "estimator_params": {
                "built_in_network": False,
                "epochs": int(self.epochs),
                "n_cycles": int(self.n_cycles),
                "t_mult": float(self.t_mult),
                "lr_max": lr_max,
                "lr_min": lr_min,
                "n_networks": 1,
                "cross_fit": False,
                "validation_fraction": None,
                "member_order": "newest",
                "member_weights": "uniform",
                "restart_shrink": float(self.restart_shrink),
                "restart_noise": float(self.restart_noise),
                "restart_loss_threshold": None,
            },
        }
        if task == "classification":
            classes = np.asarray(self.classes)
            accepted = (2, 1) if len(classes) == 2 else (len(classes),)
            if units not in accepted:
                raise ValueError(
                    f"classes has {len(classes)} labels, but the model has {units}"
                    " output units: a classifier's outputs are one probability per"
                    " class (or one sigmoid unit for two classes)."
                )
            header["classes"] = labels_to_json(classes)
        else:
            header["classes"] = None
            header["estimator_params"]["normalize_y"] = False
            header["target"] = {
                "mean": [0.0] * int(units),
                "scale": [1.0] * int(units),
                "y_ndim": 1 if units == 1 else 2,
            }
        return header

    # -- prediction -------------------------------------------------------------

    def predict_ensemble(self, x, n_members=None, batch_size=256):
        """The mean of the newest ``n_members`` snapshots' outputs.

        Every snapshot runs on each batch inside one compiled function (Keras'
        ``stateless_call`` with the snapshot's weights): no ``Model.predict``
        per member, and the model's own weights are left as they are.

        Parameters
        ----------
        x : array-like, tensor, dict of arrays or tf.data.Dataset
            The inputs, as the model takes them; a dataset yields batches of
            inputs, or tuples whose first element holds the inputs.
        n_members : int or None, default=None
            How many of the newest snapshots vote; None: all.
        batch_size : int, default=256
            Rows per batch when ``x`` is not a dataset.

        Returns
        -------
        outputs : ndarray
            The averaged outputs, one row per input row.
        """
        weights = getattr(self, "snapshot_weights_", None)
        if not weights:
            raise ValueError(
                "This SnapshotEnsembleCallback holds no snapshot yet: pass it to"
                " model.fit and let at least one cycle finish."
            )
        if n_members is None:
            n_members = len(weights)
        if (
            not isinstance(n_members, numbers.Integral)
            or isinstance(n_members, bool)
            or not 1 <= n_members <= len(weights)
        ):
            raise ValueError(
                f"n_members must be None or an int in [1, {len(weights)}], the"
                f" number of snapshots. Got n_members={n_members!r}."
            )
        _positive_int("batch_size", batch_size)
        members = weights[len(weights) - n_members :]
        stacked = [
            tf.constant(np.stack([member[index] for member in members]))
            for index in range(len(members[0]))
        ]
        function = self._ensemble_function()
        outputs = [
            function(batch, stacked).numpy() for batch in _batches(x, batch_size)
        ]
        return np.concatenate(outputs, axis=0)

    def _ensemble_function(self):
        """The compiled mean of the members' outputs on one batch, kept per
        model; one trace serves any number of members and batch shape."""
        model = self.model
        cached = getattr(self, "_ensemble", None)
        if cached is not None and cached[0] is model:
            return cached[1]
        position = {id(variable): i for i, variable in enumerate(model.weights)}
        trainable = [position[id(v)] for v in model.trainable_variables]
        frozen = [position[id(v)] for v in model.non_trainable_variables]

        # stateless_call hands its keywords to call() as they are, where
        # Model.__call__ would drop a training argument call() does not take
        parameters = inspect.signature(model.call).parameters
        inference = {"training": False} if "training" in parameters else {}

        def member_output(stacked, member, x):
            output, _ = model.stateless_call(
                [stacked[i][member] for i in trainable],
                [stacked[i][member] for i in frozen],
                x,
                **inference,
            )
            return tf.cast(output, tf.float64)

        @tf.function(autograph=False, reduce_retracing=True)
        def mean_output(x, stacked):
            n_members = tf.shape(stacked[0])[0]
            first = member_output(stacked, 0, x)
            _, total = tf.while_loop(
                lambda member, _: member < n_members,
                lambda member, total: (
                    member + 1,
                    total + member_output(stacked, member, x),
                ),
                [tf.constant(1), first],
            )
            return total / tf.cast(n_members, tf.float64)

        self._ensemble = (model, mean_output)
        return mean_output


def _batches(x, batch_size):
    """Batches of inputs from a dataset (its first elements) or from arrays."""
    if isinstance(x, tf.data.Dataset):
        for element in x:
            yield element[0] if isinstance(element, tuple) else element
        return
    if isinstance(x, dict):
        columns = {name: np.asarray(value) for name, value in x.items()}
        n_rows = len(next(iter(columns.values())))
        for start in range(0, n_rows, batch_size):
            yield {
                name: value[start : start + batch_size]
                for name, value in columns.items()
            }
        return
    array = x if tf.is_tensor(x) else np.asarray(x)
    for start in range(0, int(array.shape[0]), batch_size):
        yield array[start : start + batch_size]
