"""The fast training path: one compiled call per cycle.

Keras' ``fit`` pays tens of milliseconds of Python work per epoch, and its data
pipeline per-row work. Running the tutorial's 500 epochs one by one with a callback
that sets the rate costs seconds on a data set of 100 rows. Here the training data
is held once in memory, every epoch draws one permutation of the row indices, each
mini-batch is one gather, and a whole cycle (all its epochs and mini-batches) runs
inside one compiled TensorFlow function, traced once per fit. The rate is computed
in-graph from the optimizer's iteration counter
(:class:`~skl_snapshot.CyclicCosineAnnealing`).
"""

import contextlib
import logging
import math
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from ._callbacks import SnapshotRecorder
from ._schedules import CyclicCosineAnnealing, cyclic_cosine_annealing

__all__ = [
    "SnapshotRun",
    "make_optimizer",
    "retracing_warnings_silenced",
    "train_snapshots",
]

#: ``fit__`` parameters the training loop accepts.
FIT_ARGUMENTS = frozenset({"callbacks"})


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


def steps_per_cycle(n_samples, batch_size, cycle_epochs):
    """Number of optimizer iterations of each cycle."""
    batches_per_epoch = math.ceil(n_samples / batch_size)
    return [epochs * batches_per_epoch for epochs in cycle_epochs]


def make_optimizer(cycle_steps, lr_max, lr_min, momentum, optimizer_params):
    """SGD with momentum driven by the cyclic cosine schedule.

    Returns the optimizer and its schedule.
    """
    schedule = CyclicCosineAnnealing(cycle_steps, lr_max=lr_max, lr_min=lr_min)
    optimizer = keras.optimizers.SGD(
        learning_rate=schedule, momentum=momentum, **optimizer_params
    )
    return optimizer, schedule


def _cycle_function(network, optimizer, tensors, batch_size):
    """A compiled function that trains ``network`` for a run of whole epochs.

    ``run(first_epoch, n_epochs, seed)`` trains epochs ``first_epoch`` to
    ``first_epoch + n_epochs - 1`` and returns the sum over their mini-batches of
    loss times batch size. Each epoch's order is a permutation drawn statelessly
    from ``seed`` and the epoch number, so a resumed run sees the same orders as
    an uninterrupted one; each mini-batch is one gather from the data held in
    memory.
    """
    n_samples = int(tensors[0].shape[0])
    batches_per_epoch = math.ceil(n_samples / batch_size)
    variables = network.trainable_variables

    def train_step(indices):
        batch = [tf.gather(tensor, indices) for tensor in tensors]
        x, y = batch[0], batch[1]
        sample_weight = batch[2] if len(batch) == 3 else None
        with tf.GradientTape() as tape:
            y_pred = network(x, training=True)
            loss = network.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss * tf.cast(tf.shape(indices)[0], loss.dtype)

    def epoch(first_epoch, seed, number, loss_sum):
        keys = tf.random.stateless_uniform(
            [n_samples], seed=tf.stack([seed, first_epoch + number])
        )
        order = tf.argsort(keys)

        def step(batch, loss_sum):
            start = batch * batch_size
            indices = order[start : tf.minimum(start + batch_size, n_samples)]
            return batch + 1, loss_sum + train_step(indices)

        _, loss_sum = tf.while_loop(
            lambda batch, _: batch < batches_per_epoch,
            step,
            [tf.constant(0), loss_sum],
        )
        return number + 1, loss_sum

    @tf.function(autograph=False)
    def run(first_epoch, n_epochs, seed):
        _, loss_sum = tf.while_loop(
            lambda number, _: number < n_epochs,
            lambda number, loss_sum: epoch(first_epoch, seed, number, loss_sum),
            [tf.constant(0, tf.int64), tf.constant(0.0)],
        )
        return loss_sum

    return run


def train_snapshots(
    network,
    X,
    y,
    sample_weight,
    *,
    optimizer,
    schedule,
    loss,
    cycle_epochs,
    batch_size,
    seed,
    fit_params,
    verbose=0,
    first_cycle=0,
    keep_weights=True,
    on_snapshot=None,
):
    """Train ``network`` and take one snapshot per cycle.

    ``optimizer`` comes from :func:`make_optimizer` with ``schedule``, built for
    the same ``cycle_epochs``, data size and batch size. Each cycle is one call of
    a compiled function (:func:`_cycle_function`); Keras callbacks (the snapshot
    recorder and the user's ``fit__callbacks``) see one epoch per cycle.

    Cycles before ``first_cycle`` are skipped: the caller has restored the
    network and the optimizer (with its iteration counter) as they were after
    them. ``keep_weights`` and ``on_snapshot`` go to :class:`SnapshotRecorder`.
    """
    n_samples = X.shape[0]
    cycle_steps = steps_per_cycle(n_samples, batch_size, cycle_epochs)
    # compile only attaches the loss (for compute_loss) and the optimizer
    network.compile(optimizer=optimizer, loss=loss)
    if not optimizer.built:
        optimizer.build(network.trainable_variables)
    recorder = SnapshotRecorder(
        cycle_epochs,
        schedule,
        verbose=verbose,
        keep_weights=keep_weights,
        on_snapshot=on_snapshot,
        first_cycle=first_cycle,
    )
    callbacks = keras.callbacks.CallbackList(
        [recorder, *(fit_params.get("callbacks") or [])],
        model=network,
        epochs=len(cycle_epochs),
    )
    tensors = tuple(
        tf.constant(array)
        for array in ((X, y) if sample_weight is None else (X, y, sample_weight))
    )
    run = _cycle_function(network, optimizer, tensors, batch_size)

    network.stop_training = False
    callbacks.on_train_begin()
    for cycle in range(first_cycle, len(cycle_epochs)):
        callbacks.on_epoch_begin(cycle)
        loss_sum = run(
            tf.constant(sum(cycle_epochs[:cycle]), tf.int64),
            tf.constant(cycle_epochs[cycle], tf.int64),
            tf.constant(seed, tf.int64),
        )
        mean_loss = float(loss_sum) / (cycle_epochs[cycle] * n_samples)
        callbacks.on_epoch_end(cycle, {"loss": mean_loss})
        if network.stop_training:
            break
    callbacks.on_train_end()

    n_steps = int(optimizer.iterations.numpy())
    return SnapshotRun(
        weights=recorder.weights,
        snapshot_epochs=np.cumsum(cycle_epochs)[
            first_cycle : first_cycle + len(recorder.losses)
        ],
        losses=np.asarray(recorder.losses),
        snapshot_learning_rates=np.asarray(recorder.learning_rates),
        learning_rates=cyclic_cosine_annealing(
            np.arange(n_steps), cycle_steps, schedule.lr_max, schedule.lr_min
        ),
        n_steps=n_steps,
        diverged=recorder.diverged,
    )
