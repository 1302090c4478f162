"""The fast training path: one compiled Keras epoch per cycle.

Keras' ``fit`` pays tens of milliseconds of Python work per epoch. Running the
tutorial's 500 epochs one by one with a callback that sets the rate costs seconds
on a data set of 100 rows; here a whole cycle is one Keras epoch over a repeated,
reshuffled in-memory data set, executed in as few compiled calls as
``steps_per_execution`` allows, with the rate computed in-graph from the iteration
counter (:class:`~skl_snapshot.CyclicCosineAnnealing`).
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

# Arguments of ``Model.fit`` that the training loop owns; a ``fit__`` parameter may
# not override them.
RESERVED_FIT_ARGUMENTS = frozenset(
    {
        "x",
        "y",
        "batch_size",
        "epochs",
        "initial_epoch",
        "steps_per_epoch",
        "sample_weight",
        "shuffle",
        "verbose",
        "validation_split",
    }
)


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


def _groups_of_equal_cycles(cycle_steps):
    """Runs of consecutive cycles with the same length: ``[(length, count), ...]``."""
    groups = []
    for steps in cycle_steps:
        if groups and groups[-1][0] == steps:
            groups[-1][1] += 1
        else:
            groups.append([steps, 1])
    return groups


def _shuffled_batches(tensors, batch_size, seed, first_epoch):
    """Endless mini-batches of in-memory ``tensors``, a new permutation each epoch.

    The work is per batch, never per row: each epoch draws one permutation of
    the row indices (stateless, from ``seed`` and the epoch number, so that a
    resumed run draws the same orders as an uninterrupted one), cuts it into
    batches, and each batch is one gather from the data held once in memory.
    """
    n_samples = int(tensors[0].shape[0])
    n_full, remainder = divmod(n_samples, batch_size)

    def batches_of_epoch(epoch):
        keys = tf.random.stateless_uniform(
            [n_samples], seed=tf.stack([tf.constant(seed, tf.int64), epoch])
        )
        order = tf.argsort(keys)
        batches = tf.data.Dataset.from_tensor_slices(
            tf.reshape(order[: n_full * batch_size], [n_full, batch_size])
        )
        if remainder:
            batches = batches.concatenate(
                tf.data.Dataset.from_tensors(order[n_full * batch_size :])
            )
        return batches

    indices = tf.data.Dataset.range(first_epoch, 2**62).flat_map(batches_of_epoch)
    return indices.map(
        lambda index: tuple(tf.gather(tensor, index) for tensor in tensors),
        num_parallel_calls=None,
    ).prefetch(2)


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
    the same ``cycle_epochs``, data size and batch size. Each run of equally long
    cycles is one ``fit`` call in which a Keras epoch is one cycle; every epoch of
    data is a fresh permutation drawn from ``seed``.

    Cycles before ``first_cycle`` are skipped: the caller has restored the
    network and the optimizer (with its iteration counter) as they were after
    them. ``keep_weights`` and ``on_snapshot`` go to :class:`SnapshotRecorder`.
    """
    n_samples = X.shape[0]
    cycle_steps = steps_per_cycle(n_samples, batch_size, cycle_epochs)
    # One compiled call runs a whole cycle when all cycles are equally long; with a
    # longer last cycle, the largest step count that divides both.
    network.compile(
        optimizer=optimizer,
        loss=loss,
        steps_per_execution=math.gcd(*cycle_steps),
    )
    recorder = SnapshotRecorder(
        cycle_epochs,
        schedule,
        verbose=verbose,
        keep_weights=keep_weights,
        on_snapshot=on_snapshot,
        first_cycle=first_cycle,
    )
    fit_params = dict(fit_params)
    callbacks = [recorder, *(fit_params.pop("callbacks", None) or [])]

    tensors = tuple(
        tf.constant(array)
        for array in ((X, y) if sample_weight is None else (X, y, sample_weight))
    )
    cycle = first_cycle
    for steps, count in _groups_of_equal_cycles(cycle_steps[first_cycle:]):
        first_epoch = sum(cycle_epochs[:cycle])
        epochs_of_data = _shuffled_batches(tensors, batch_size, seed, first_epoch).take(
            count * steps
        )
        network.fit(
            epochs_of_data,
            initial_epoch=cycle,
            epochs=cycle + count,
            steps_per_epoch=steps,
            shuffle=False,
            verbose=0,
            callbacks=callbacks,
            **fit_params,
        )
        cycle += count
        if recorder.diverged:
            break

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
