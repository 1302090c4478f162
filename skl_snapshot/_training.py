"""The fast training path: one compiled call per cycle.

Keras' ``fit`` pays tens of milliseconds of Python work per epoch, and its data
pipeline per-row work. Running the tutorial's 500 epochs one by one with a callback
that sets the rate costs seconds on a data set of 100 rows. Here the training data
is held once in memory, every epoch draws one permutation of the row indices, each
mini-batch is one gather, and a whole cycle (all its epochs and mini-batches) runs
inside one compiled TensorFlow function. The rate is computed in-graph from the
optimizer's iteration counter (:class:`~skl_snapshot._schedules.CycleSchedule`).

Two functions do this. The built-in network trains through one compiled per
architecture and shared by every later fit in the process
(:func:`_shared_mlp_run`); any other network, and any fit under a
``tf.distribute`` strategy, through one traced for its fit
(:func:`_cycle_function`).
"""

import contextlib
import logging
import threading
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from ._callbacks import SnapshotRecorder
from ._network import WeightsOnlyNetwork
from ._parallel import distribution_strategy
from ._schedules import CycleSchedule

__all__ = [
    "MLP_ACTIVATIONS",
    "SnapshotRun",
    "make_optimizer",
    "retracing_warnings_silenced",
    "train_snapshots",
]

#: ``fit__`` parameters the training loop accepts.
FIT_ARGUMENTS = frozenset({"callbacks"})

#: Hidden-layer activations of the built-in network that the shared compiled
#: training function supports (see :func:`_shared_mlp_run`).
MLP_ACTIVATIONS = frozenset({"relu", "tanh", "sigmoid", "linear"})

#: Losses the shared compiled training function computes, by their Keras names:
#: a classifier's softmax cross-entropy, a regressor's squared error.
MLP_LOSSES = frozenset({"sparse_categorical_crossentropy", "mean_squared_error"})


class _RetracingFilter(logging.Filter):
    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


@contextlib.contextmanager
def retracing_warnings_silenced():
    """Drop TensorFlow's "triggered tf.function retracing" warnings meanwhile.

    Every fit builds a new network and so traces new functions; in a grid search
    TensorFlow counts those first traces as retracing of one function and warns,
    although nothing is traced twice for the same network.
    """
    logger = logging.getLogger("tensorflow")
    retracing_filter = _RetracingFilter()
    logger.addFilter(retracing_filter)
    try:
        yield
    finally:
        logger.removeFilter(retracing_filter)


@dataclass
class SnapshotRun:
    """What one training run produced."""

    weights: list
    snapshot_epochs: np.ndarray
    losses: np.ndarray
    snapshot_learning_rates: np.ndarray
    learning_rates: np.ndarray
    n_steps: int
    diverged: bool


def make_optimizer(
    method,
    cycle_steps,
    lr_max,
    lr_min,
    momentum,
    optimizer_params,
    clipnorm=None,
    shape="cosine",
):
    """SGD with momentum driven by the cyclic schedule of ``method`` (its cycles
    triangles with ``shape="triangular"``), each variable's gradient clipped to
    norm ``clipnorm`` (Keras' ``clipnorm``).

    Returns the optimizer and its :class:`~skl_snapshot._schedules.CycleSchedule`.
    """
    schedule = CycleSchedule(method, cycle_steps, lr_max, lr_min, shape=shape)
    if clipnorm is not None:
        optimizer_params = {**optimizer_params, "clipnorm": clipnorm}
    optimizer = keras.optimizers.SGD(
        learning_rate=schedule, momentum=momentum, **optimizer_params
    )
    return optimizer, schedule


def _cycle_function(
    networks, optimizer, tensors, batch_size, strategy=None, excluded=None
):
    """A compiled function that trains ``networks`` for a run of whole epochs.

    ``run(first_epoch, n_epochs, seed)`` trains epochs ``first_epoch`` to
    ``first_epoch + n_epochs - 1`` and returns the sum over their mini-batches of
    loss times batch size. Each epoch's order is a permutation drawn statelessly
    from ``seed`` and the epoch number, so a resumed run sees the same orders as
    an uninterrupted one; each mini-batch is one gather from the data held in
    memory.

    Under a ``tf.distribute`` ``strategy`` with several replicas, each
    mini-batch is split between the replicas (replica r takes rows r, r + R,
    ...); Keras scales each replica's loss by 1 / R and the optimizer sums the
    replicas' gradients, so a step follows the mean gradient of the whole
    mini-batch, as on one device.

    With several networks, each has its own data order (from ``seed + k``) and
    the step sums their losses, so that each network's gradient is the one it
    would have alone; the loss sums come back one per network. ``excluded``
    (networks, rows), if given, marks each network's fold (see
    :func:`_epoch_loop`).
    """
    n_samples = int(tensors[0].shape[0])
    step_loss = _keras_step(networks, optimizer, tensors, strategy)
    n_networks = len(networks) if len(networks) > 1 else None
    rows = (n_samples, batch_size)
    if excluded is not None:
        rows = (*rows, tf.constant(excluded, tf.float32))

    @tf.function(autograph=False)
    def run(first_epoch, n_epochs, seed):
        return _epoch_loop(
            rows,
            first_epoch,
            n_epochs,
            seed,
            lambda batch, _: step_loss(batch),
            n_networks=n_networks,
        )

    return run


def _keras_step(networks, optimizer, tensors, strategy):
    """``step_loss(indices)``: one Keras training step on the rows ``indices``,
    split between the replicas of ``strategy``; the batch's loss sum.

    With several networks, ``indices`` has one row of indices per network and
    the loss sums come back one per network.
    """
    variables = [v for network in networks for v in network.trainable_variables]

    def network_loss(network, indices):
        batch = [tf.gather(tensor, indices) for tensor in tensors]
        x, y = batch[0], batch[1]
        sample_weight = batch[2] if len(batch) == 3 else None
        y_pred = network(x, training=True)
        loss = network.compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
        )
        if loss.shape.rank:
            # a loss without reduction (reduction=None) gives one value per row
            # (weighted, if the rows are): their mean, as the default
            # "sum_over_batch_size" reduction takes it, so that lr_max means
            # the same whatever the loss
            loss = tf.reduce_mean(loss)
        rows = tf.cast(tf.shape(indices)[0], tf.float32)
        # the running loss sums are float32 whatever the network's floatx
        return loss, tf.cast(loss, tf.float32) * rows

    def train_step(indices):
        with tf.GradientTape() as tape:
            if len(networks) == 1:
                loss, loss_sum = network_loss(networks[0], indices)
            else:
                pairs = [
                    network_loss(network, indices[k])
                    for k, network in enumerate(networks)
                ]
                loss = tf.add_n([pair[0] for pair in pairs])
                loss_sum = tf.stack([pair[1] for pair in pairs])
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss_sum

    def replica_step(indices):
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync
        shard = indices[..., context.replica_id_in_sync_group :: replicas]
        # undo Keras' 1 / replicas loss scaling: the shard's loss sum
        return train_step(shard) * replicas

    if strategy is None or strategy.num_replicas_in_sync == 1:
        return train_step

    def step_loss(indices):
        per_replica = strategy.run(replica_step, args=(indices,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    return step_loss


def _epoch_loop(rows, first_epoch, n_epochs, seed, batch_loss, n_networks=None):
    """In a graph: train ``n_epochs`` epochs; the sum of the batches' loss sums.

    ``rows`` is ``(n_samples, batch_size)``, or ``(n_samples, batch_size,
    excluded)`` when cross-fitting. Epoch ``e`` visits the rows in a
    permutation drawn statelessly from ``seed`` and ``first_epoch + e``, so a
    resumed run sees the orders of an uninterrupted one.
    ``batch_loss(indices, step)`` trains on one mini-batch (``step`` counts the
    batches of this call) and returns its loss sum.

    With ``n_networks``, network k visits the rows in the permutation of
    ``seed + k``: ``indices`` has one row per network, and the loss sums are a
    vector, one per network. ``excluded`` (networks, n_samples) marks with 1 the
    rows a network must never train on (its fold): they sort after the others,
    and every epoch visits the first ``n_samples - max(excluded.sum(axis=1))``
    of a permutation, so that networks whose fold is a row smaller leave out a
    different random row each epoch.
    """
    n_samples, batch_size, *excluded = rows
    excluded = excluded[0] if excluded else None
    epoch_rows = _rows_per_epoch(n_samples, excluded)
    batches_per_epoch = (epoch_rows + batch_size - 1) // batch_size

    def permutation(seed, number, k=None):
        keys = tf.random.stateless_uniform(
            tf.reshape(n_samples, [1]), seed=tf.stack([seed, first_epoch + number])
        )
        if excluded is None:
            return tf.argsort(keys)
        # uniform keys lie in [0, 1): a network's fold sorts last
        return tf.argsort(keys + 2.0 * excluded[k])[:epoch_rows]

    def epoch(number, loss_sum):
        if n_networks is None:
            order = permutation(seed, number)
        else:
            order = tf.stack(
                [permutation(seed + k, number, k) for k in range(n_networks)]
            )
        first_batch = tf.cast(number, tf.int32) * batches_per_epoch

        def step(batch, loss_sum):
            start = batch * batch_size
            indices = order[..., start : tf.minimum(start + batch_size, epoch_rows)]
            return batch + 1, loss_sum + batch_loss(indices, first_batch + batch)

        _, loss_sum = tf.while_loop(
            lambda batch, _: batch < batches_per_epoch,
            step,
            [tf.constant(0), loss_sum],
        )
        return number + 1, loss_sum

    _, loss_sum = tf.while_loop(
        lambda number, _: number < n_epochs,
        epoch,
        [
            tf.constant(0, tf.int64),
            tf.constant(0.0) if n_networks is None else tf.zeros([n_networks]),
        ],
    )
    return loss_sum


def _rows_per_epoch(n_samples, excluded):
    """Rows an epoch visits: all, or with each network's fold ``excluded``, as
    many as the network with the largest fold has left."""
    if excluded is None:
        return n_samples
    fold_rows = tf.reduce_max(tf.reduce_sum(excluded, axis=1))
    return n_samples - tf.cast(fold_rows, tf.int32)


def _mlp_row_losses(loss, outputs, targets, stacked=False):
    """Each row's ``loss`` (one of ``MLP_LOSSES``) of the network's ``outputs``
    (of each network's, ``stacked`` along a leading axis)."""
    if loss == "mean_squared_error":
        # Keras' MeanSquaredError: the mean over the output columns
        return tf.reduce_mean(tf.square(outputs - targets), axis=-1)
    labels = tf.cast(targets, tf.int64)
    if labels.shape.rank == (3 if stacked else 2):
        labels = tf.squeeze(labels, axis=-1)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=outputs)


def _mlp_outputs(activation_function, weights, x, stacked=False):
    """The built-in network's output layer before its softmax, if any; with
    ``stacked`` weights (a leading network axis), every network's at once on its
    own rows ``x`` (networks, rows, features)."""
    n_layers = len(weights) // 2
    hidden = x
    for layer in range(n_layers):
        bias = weights[2 * layer + 1]
        if stacked:
            bias = tf.expand_dims(bias, 1)
        hidden = tf.add(tf.matmul(hidden, weights[2 * layer]), bias)
        if layer < n_layers - 1:
            hidden = activation_function(hidden)
    return hidden


def _sgd_updates(weights, momentums, gradients, rate, momentum):
    """Keras' SGD step on every variable: ``m = m * momentum - gradient * rate;
    variable += m`` (no ``momentums``: ``variable -= rate * gradient``). The fused
    kernels compute the same expressions in one operation each."""
    if not momentums:
        return [
            tf.raw_ops.ResourceApplyGradientDescent(
                var=variable.handle, alpha=rate, delta=gradient
            )
            for variable, gradient in zip(weights, gradients, strict=True)
        ]
    return [
        tf.raw_ops.ResourceApplyKerasMomentum(
            var=variable.handle,
            accum=accumulator.handle,
            lr=rate,
            grad=gradient,
            momentum=momentum,
        )
        for variable, accumulator, gradient in zip(
            weights, momentums, gradients, strict=True
        )
    ]


def _clipped(gradients, clipnorm, stacked):
    """Keras' ``clipnorm``: each variable's gradient scaled down to norm at most
    ``clipnorm`` (infinite: unclipped); ``stacked``, each network's slice on
    its own, as Keras clips each network's variables when they train apart."""
    clipped = []
    for gradient in gradients:
        axes = list(range(1, gradient.shape.rank)) if stacked else None
        norm = tf.sqrt(tf.reduce_sum(tf.square(gradient), axis=axes, keepdims=True))
        # min(1, c / norm) is 1 for c = inf and for norm = 0
        clipped.append(gradient * tf.minimum(1.0, clipnorm / norm))
    return clipped


def _mlp_train_step(activation_function, weighted, loss, stacked):
    """One SGD step of the built-in network (of each stacked network) on the
    rows ``indices``; the loss sum (one per network)."""

    def train_step(weights, momentums, data, indices, rate, momentum, clipnorm):
        batch = [tf.gather(tensor, indices) for tensor in data]
        with tf.GradientTape() as tape:
            outputs = _mlp_outputs(activation_function, weights, batch[0], stacked)
            losses = _mlp_row_losses(loss, outputs, batch[1], stacked)
            if weighted:
                losses = losses * batch[2]
            if stacked:
                # each network's mean loss; their sum leaves each gradient as
                # the network would have it alone
                rows = tf.cast(tf.shape(losses)[-1], losses.dtype)
                per_network = tf.math.divide_no_nan(
                    tf.reduce_sum(losses, axis=-1), rows
                )
                loss_value = tf.reduce_sum(per_network)
            else:
                rows = tf.cast(tf.size(losses), losses.dtype)
                loss_value = tf.math.divide_no_nan(tf.reduce_sum(losses), rows)
        gradients = _clipped(tape.gradient(loss_value, weights), clipnorm, stacked)
        updates = _sgd_updates(weights, momentums, gradients, rate, momentum)
        with tf.control_dependencies(updates):
            return per_network * rows if stacked else loss_value * rows

    return train_step


def _trace_mlp_cycle_function(activation, weighted, loss, n_networks=None):
    """The shared function of the built-in network; with ``n_networks``, of that
    many networks whose weights are stacked along a leading axis, trained side
    by side in the same operations (a batched ``matmul`` per layer), each on its
    own mini-batches, leaving out the rows of its fold marked in ``excluded``
    (zeros when not cross-fitting)."""
    train_step = _mlp_train_step(
        keras.activations.get(activation), weighted, loss, n_networks is not None
    )

    @tf.function(autograph=False)
    def run(
        weights,
        momentums,
        iterations,
        data,
        batch_size,
        first_epoch,
        n_epochs,
        seed,
        momentum,
        clipnorm,
        schedule,
        excluded=None,
    ):
        n_samples = tf.shape(data[0], out_type=tf.int32)[0]
        epoch_rows = _rows_per_epoch(n_samples, excluded)
        batches_per_epoch = (epoch_rows + batch_size - 1) // batch_size
        first_step = iterations.read_value()
        n_steps = tf.cast(n_epochs, tf.int32) * batches_per_epoch
        # one gather a step instead of a dozen operations
        steps = tf.cast(first_step + tf.range(tf.cast(n_steps, tf.int64)), tf.float32)
        rates = CycleSchedule.evaluate(keras.ops, steps, *schedule)
        loss_sum = _epoch_loop(
            (n_samples, batch_size) + (() if excluded is None else (excluded,)),
            first_epoch,
            n_epochs,
            seed,
            lambda batch, step: train_step(
                weights, momentums, data, batch, rates[step], momentum, clipnorm
            ),
            n_networks=n_networks,
        )
        with tf.control_dependencies([loss_sum]):
            iterations.assign_add(tf.cast(n_steps, iterations.dtype))
        return tf.identity(loss_sum)

    return run


def restart_weights(network, scales, shrink, noise, seed):
    """Shrink and perturb the trainable weights at a warm restart.

    ``w <- shrink * w + noise * scale * N(0, 1)``, with ``scale`` the standard
    deviation each variable had at initialisation (Ash & Adams 2020, "On
    Warm-Starting Neural Network Training"). A restart of the learning rate
    alone barely moves a network whose training loss is near zero (its
    gradients are), so its snapshots stay alike; shrinking and perturbing sends
    it towards another solution while keeping much of what it learned. The noise
    is drawn from ``seed``, so a resumed run restarts as an uninterrupted one.
    """
    rng = np.random.default_rng(seed)
    for variable, scale in zip(network.trainable_variables, scales, strict=True):
        value = np.asarray(variable.numpy())
        restarted = shrink * value.astype(np.float64)
        if noise and scale:
            restarted += noise * scale * rng.standard_normal(value.shape)
        variable.assign(restarted.astype(value.dtype))


def _shared_mlp_run(
    networks, optimizer, schedule, tensors, batch_size, activation, loss, excluded=None
):
    """``run(first_epoch, n_epochs, seed)`` for the built-in network, shared.

    Several networks train side by side on weights stacked along a leading axis
    (see :class:`_StackedNetworks`).

    :func:`_cycle_function` traces a new function for every network, which costs
    about a third of a second: more than the whole training of a small data set.
    The built-in network (:func:`~skl_snapshot.build_mlp`) has a known form, so its
    training step is written in TensorFlow operations on variables passed as
    arguments (:func:`_trace_mlp_cycle_function`), and one compiled function
    serves every fit of the same architecture in the process, whatever the number
    of rows, cycles or the hyper-parameters: the folds of a cross-validation, the
    candidates of a grid search, the members of a comparison. The operations are
    those Keras runs for that network, its ``loss`` (one of ``MLP_LOSSES``) and
    its SGD: a ``Dense`` layer's ``matmul`` and ``add``, the cross-entropy from the
    softmax's logits or the squared error of the linear output,
    ``m = m * momentum - gradient * rate`` then
    ``variable += m``, at the rate of the fit's
    :class:`~skl_snapshot._schedules.CycleSchedule` for the iteration counter.
    The cache holds no network or data, only graphs.
    """
    with_momentum = bool(optimizer.momentum)
    stacked = None
    if len(networks) == 1:
        variables = networks[0].trainable_variables
        weights = [variable.value for variable in variables]
        momentums = _momentum_variables(optimizer, variables) if with_momentum else []
    else:
        stacked = _StackedNetworks(networks, optimizer, with_momentum)
        weights, momentums = stacked.weights, stacked.momentums
    n_networks = len(networks) if stacked is not None else None
    arguments = {
        "batch_size": tf.constant(batch_size, tf.int32),
        "momentum": tf.constant(optimizer.momentum, tf.float32),
        # Keras' clipnorm, or none (an infinite norm leaves gradients as they are)
        "clipnorm": tf.constant(
            np.inf if optimizer.clipnorm is None else optimizer.clipnorm, tf.float32
        ),
        "schedule": tuple(tf.constant(value) for value in schedule.tensors()),
    }
    arguments["excluded"] = None
    if stacked is not None:
        # zeros unless cross-fitting: then every permutation is the plain one
        arguments["excluded"] = tf.constant(
            np.zeros((len(networks), len(tensors[0])), np.float32)
            if excluded is None
            else excluded,
            tf.float32,
        )
    key = (
        activation,
        loss,
        with_momentum,
        tuple(tuple(weight.shape) for weight in weights),
        tuple((tensor.dtype, tuple(tensor.shape[1:])) for tensor in tensors),
        n_networks,
    )
    shared = _shared_function(
        key,
        lambda: _trace_mlp_cycle_function(
            activation, len(tensors) == 3, loss, n_networks=n_networks
        ).get_concrete_function(
            weights,
            momentums,
            optimizer.iterations.value,
            **_mlp_run_signature(tensors, n_networks),
        ),
    )

    def run(first_epoch, n_epochs, seed):
        if stacked is not None:
            stacked.load()
        loss_sums = shared(
            weights,
            momentums,
            optimizer.iterations.value,
            tensors,
            first_epoch=first_epoch,
            n_epochs=n_epochs,
            seed=seed,
            **arguments,
        )
        if stacked is not None:
            stacked.store()
        return loss_sums

    return run


def _momentum_variables(optimizer, variables):
    """The TensorFlow variables of SGD's momentum for each of ``variables``."""
    return [
        optimizer.momentums[optimizer._get_variable_index(variable)].value
        for variable in variables
    ]


class _StackedNetworks:
    """K built-in networks' weights (and SGD's momentum) stacked layer by layer.

    Each layer's weights of the K networks become one variable with a leading
    axis of K, which the shared function trains in batched operations, each
    network on its own mini-batches (data order of ``seed + k``). ``load``
    fills the stacked weights from the networks before a call and ``store``
    writes them back after it, so that between cycles the networks hold the
    state: snapshots and restarts see them as if trained one by one.

    When every network is a Keras network (a snapshot directory saves each
    one's weights and the optimizer's state for resuming), the optimizer's
    momentum goes in and out with them. Otherwise the networks after the
    first are :class:`~skl_snapshot._network.WeightsOnlyNetwork`: nothing
    outside the fit reads the momentum, which then stays in the stacked
    variables from the first cycle to the last.
    """

    def __init__(self, networks, optimizer, with_momentum):
        self._networks = networks
        self._all_keras = all(isinstance(n, keras.Model) for n in networks)
        self._stored = None
        if not self._all_keras:
            self.weights = [tf.Variable(value) for value in _stacked(self._arrays())]
            self.momentums = (
                [tf.Variable(tf.zeros_like(w)) for w in self.weights]
                if with_momentum
                else []
            )
            return
        per_network = [
            [variable.value for variable in network.trainable_variables]
            for network in networks
        ]
        self.weights = [
            tf.Variable(tf.stack([variables[i] for variables in per_network]))
            for i in range(len(per_network[0]))
        ]
        self._pairs = [(self.weights, per_network)]
        self.momentums = []
        if with_momentum:
            self.momentums = [tf.Variable(tf.zeros_like(w)) for w in self.weights]
            sources = [
                _momentum_variables(optimizer, network.trainable_variables)
                for network in networks
            ]
            self._pairs.append((self.momentums, sources))

    def _arrays(self):
        return [
            [variable.numpy() for variable in network.trainable_variables]
            for network in self._networks
        ]

    def load(self):
        if not self._all_keras:
            held = self._arrays()
            if self._stored is not None and all(
                a is b
                for now, then in zip(held, self._stored, strict=True)
                for a, b in zip(now, then, strict=True)
            ):
                # the arrays the last store wrote, untouched by any restart
                return
            for variable, value in zip(self.weights, _stacked(held), strict=True):
                variable.assign(value)
            return
        for stacked, sources in self._pairs:
            _stack_into(stacked, sources)

    def store(self):
        if not self._all_keras:
            values = [variable.numpy() for variable in self.weights]
            for k, network in enumerate(self._networks):
                for variable, value in zip(
                    network.trainable_variables, values, strict=True
                ):
                    variable.assign(value[k])
            # a Keras network's numpy() is a new array at every call, so that
            # one loads again whatever happened
            self._stored = self._arrays()
            return
        for stacked, sources in self._pairs:
            _unstack_into(stacked, sources)


def _stacked(per_network):
    """Each layer's arrays of the networks (a list per network), stacked."""
    return [np.stack(layer) for layer in zip(*per_network, strict=True)]


# One graph each for every architecture: eager, the 2 x K x layers slices and
# assignments of a cycle cost about 25 ms, more than a small table's training.
@tf.function(autograph=False, reduce_retracing=True)
def _stack_into(stacked, sources):
    for i, variable in enumerate(stacked):
        variable.assign(tf.stack([source[i] for source in sources]))


@tf.function(autograph=False, reduce_retracing=True)
def _unstack_into(stacked, sources):
    for i, variable in enumerate(stacked):
        for source, value in zip(sources, tf.unstack(variable), strict=True):
            source[i].assign(value)


def _mlp_run_signature(tensors, n_networks=None):
    """The arguments of the shared function that vary between fits, as specs:
    any number of rows, cycles and any hyper-parameters share one graph."""
    vector = tf.TensorSpec([None], tf.float32)
    folds = {"excluded": None}
    if n_networks is not None:
        folds["excluded"] = tf.TensorSpec([n_networks, None], tf.float32)
    return {
        **folds,
        "data": tuple(
            tf.TensorSpec([None, *tensor.shape[1:]], tensor.dtype) for tensor in tensors
        ),
        "first_epoch": tf.TensorSpec([], tf.int64),
        "n_epochs": tf.TensorSpec([], tf.int64),
        "seed": tf.TensorSpec([], tf.int64),
        "batch_size": tf.TensorSpec([], tf.int32),
        "momentum": tf.TensorSpec([], tf.float32),
        "clipnorm": tf.TensorSpec([], tf.float32),
        "schedule": (vector, vector, tf.TensorSpec([], tf.float32), vector, vector),
    }


def _shared_function(key, trace):
    """The compiled function cached under ``key``, traced by ``trace()`` if
    absent; the cache keeps the most recently used."""
    with _SHARED_FUNCTIONS_LOCK:
        shared = _SHARED_FUNCTIONS.pop(key, None)
        if shared is None:
            shared = trace()
        # least recently used first
        _SHARED_FUNCTIONS[key] = shared
        while len(_SHARED_FUNCTIONS) > _SHARED_FUNCTIONS_MAX:
            _SHARED_FUNCTIONS.pop(next(iter(_SHARED_FUNCTIONS)))
    return shared


# Compiled training functions of the built-in network, by architecture. Each
# costs about 5 MB of resident memory (its graphs with their gradients), so the
# cache keeps the 8 most recently used: the folds and repeated candidates of one
# architecture reuse theirs, while a grid over many architectures holds bounded
# memory (bench/bench_memory_growth.py: 32 entries grew a process by 104 MB over
# 20 fits of new architectures, 2 entries by 19 MB, plain Keras by 64 MB).
_SHARED_FUNCTIONS = {}
_SHARED_FUNCTIONS_MAX = 8
_SHARED_FUNCTIONS_LOCK = threading.Lock()


def train_snapshots(
    networks,
    X,
    y,
    sample_weight,
    *,
    optimizer,
    schedule,
    loss,
    plan,
    fit_params,
    verbose,
    first_cycle,
    keep_weights,
    on_snapshot,
    built_in_activation,
    restart,
    restart_first_cycle,
    previous_loss,
    excluded=None,
):
    """Train ``networks`` side by side and take a snapshot of each per cycle.

    ``plan`` (a :class:`~skl_snapshot._plan.FitPlan`) gives the cycles, the batch
    size and the seed; ``optimizer`` comes from :func:`make_optimizer` with
    ``schedule``, built for the same cycles, data size and batch size. Each
    cycle is one call of a compiled function (:func:`_cycle_function`); Keras
    callbacks (the snapshot recorder and the user's ``fit__callbacks``) see one
    epoch per cycle.

    Cycles before ``first_cycle`` are skipped: the caller has restored the
    network and the optimizer (with its iteration counter) as they were after
    them. ``keep_weights`` and ``on_snapshot`` go to :class:`SnapshotRecorder`.

    ``built_in_activation`` says that ``network`` is the built-in MLP with that
    hidden activation, trained with a loss of ``MLP_LOSSES`` and a plain SGD (no
    ``optimizer__`` arguments): it then trains through the shared function of
    :func:`_shared_mlp_run` instead of a newly traced one.

    ``restart(cycle, previous_losses, networks)``, if given, is called before
    every cycle but the first (and before the first too with
    ``restart_first_cycle``): the warm restarts of ``networks``, those that
    train (see below). ``previous_losses`` holds each network's mean training
    loss over the cycle before; for the first cycle run here, the caller's
    ``previous_loss`` (those of the last cycle of an interrupted or earlier fit,
    or None).

    When the networks after the first are weights only
    (:class:`~skl_snapshot._network.WeightsOnlyNetwork`, see
    :class:`_StackedNetworks`) and no user callback looks at the first one
    during training, the first trains as its weights too, and its Keras network
    gets them once, at the end: between cycles the stacked weights then go out
    to arrays alone, and come back in only after a restart changed them.

    ``excluded`` (networks, rows), if given, marks with 1 the rows of each
    network's fold, which it never trains on (cross-fitting).

    The snapshots of a cycle follow the order of ``networks``.
    """
    network = networks[0]
    cycle_epochs = list(plan.cycle_epochs)
    user_callbacks = list(fit_params.get("callbacks") or [])
    training = networks
    if isinstance(networks[-1], WeightsOnlyNetwork) and not user_callbacks:
        training = [WeightsOnlyNetwork(network.get_weights()), *networks[1:]]
    run = _cycle_runner(
        networks,
        optimizer,
        schedule,
        loss,
        (X, y) if sample_weight is None else (X, y, sample_weight),
        plan.batch_size,
        built_in_activation,
        excluded,
        training=training,
    )
    recorder = SnapshotRecorder(
        cycle_epochs,
        # NumPy's formula: evaluating the Keras schedule eagerly after every cycle
        # costs about 10 ms a call
        schedule.rates,
        verbose=verbose,
        keep_weights=keep_weights,
        on_snapshot=on_snapshot,
        first_cycle=first_cycle,
        networks=training,
    )
    # the user's callbacks see the first network, and each cycle as an epoch
    callbacks = keras.callbacks.CallbackList(
        [recorder, *user_callbacks],
        model=network,
        epochs=len(cycle_epochs),
    )
    network.stop_training = False
    callbacks.on_train_begin()
    for cycle in range(first_cycle, len(cycle_epochs)):
        if restart is not None and (cycle > 0 or restart_first_cycle):
            restart(cycle, previous_loss, training)
        callbacks.on_epoch_begin(cycle)
        previous_loss = _run_cycle(run, cycle_epochs, cycle, plan.seed, plan.epoch_rows)
        # the user's callbacks see the networks' mean loss
        logs = {"loss": float(np.mean(previous_loss)), "losses": previous_loss}
        callbacks.on_epoch_end(cycle, logs)
        if network.stop_training:
            break
    if training[0] is not network:
        network.set_weights(training[0].get_weights())
    callbacks.on_train_end()
    return _snapshot_run(recorder, optimizer, schedule, cycle_epochs, first_cycle)


def _run_cycle(run, cycle_epochs, cycle, seed, epoch_rows):
    """Train cycle ``cycle``; each network's mean training loss over it."""
    loss_sums = run(
        tf.constant(sum(cycle_epochs[:cycle]), tf.int64),
        tf.constant(cycle_epochs[cycle], tf.int64),
        tf.constant(seed, tf.int64),
    )
    rows_seen = cycle_epochs[cycle] * epoch_rows
    return [float(value) / rows_seen for value in np.atleast_1d(loss_sums)]


def _cycle_runner(
    networks,
    optimizer,
    schedule,
    loss,
    arrays,
    batch_size,
    built_in_activation,
    excluded=None,
    training=None,
):
    """``run(first_epoch, n_epochs, seed)`` training ``networks`` on ``arrays``:
    the shared function of the built-in network, or one traced for these.
    ``training`` (the built-in network only) holds the networks as they train,
    if not ``networks`` themselves (see :func:`train_snapshots`)."""
    # weights-only networks (see _StackedNetworks) have no optimizer state
    keras_networks = [n for n in networks if isinstance(n, keras.Model)]
    for network in keras_networks:
        # compile only attaches the loss (for compute_loss) and the optimizer
        network.compile(optimizer=optimizer, loss=loss)
    if not optimizer.built:
        optimizer.build(all_variables(keras_networks))
    tensors = tuple(tf.constant(array) for array in arrays)
    if built_in_activation is None:
        return _cycle_function(
            networks,
            optimizer,
            tensors,
            batch_size,
            distribution_strategy(),
            excluded,
        )
    return _shared_mlp_run(
        training or networks,
        optimizer,
        schedule,
        tensors,
        batch_size,
        built_in_activation,
        loss,
        excluded,
    )


def all_variables(networks):
    """The trainable variables of ``networks``, in order: what the optimizer of
    networks trained side by side holds state for."""
    return [
        variable for network in networks for variable in network.trainable_variables
    ]


def _snapshot_run(recorder, optimizer, schedule, cycle_epochs, first_cycle):
    """What :func:`train_snapshots` returns, from its recorder."""
    n_steps = int(optimizer.iterations.numpy())
    n_networks = len(recorder.networks)
    done = len(recorder.losses) // n_networks
    return SnapshotRun(
        weights=recorder.weights,
        snapshot_epochs=np.repeat(
            np.cumsum(cycle_epochs)[first_cycle : first_cycle + done], n_networks
        ),
        losses=np.asarray(recorder.losses),
        snapshot_learning_rates=np.asarray(recorder.learning_rates),
        learning_rates=schedule.rates(np.arange(n_steps)),
        n_steps=n_steps,
        diverged=recorder.diverged,
    )
