"""Running inside parallel workers and under tf.distribute strategies.

A grid search with ``n_jobs=2`` runs fits in two worker processes at once. Each
worker's TensorFlow would otherwise size its thread pools to the whole machine,
so the workers fight over the cores. joblib (loky workers) and Dask (nanny
workers) tell each worker its share of the machine through ``OMP_NUM_THREADS``;
TensorFlow does not read it, so the first fit in a process bounds TensorFlow's
pools to that share. Without a share, a first fit of the built-in network sets
one intra-op thread (see :func:`configure_tensorflow_threads`).
``SKL_SNAPSHOT_TF_THREADS`` overrides it, and a process that configured
TensorFlow's threads itself, or already ran TensorFlow, keeps what it has.
"""

import os
import threading

import tensorflow as tf

__all__ = [
    "THREADS_VARIABLE",
    "configure_tensorflow_threads",
    "distribution_strategy",
    "tensorflow_thread_budget",
]

#: Environment variable that sets the TensorFlow threads of a process.
THREADS_VARIABLE = "SKL_SNAPSHOT_TF_THREADS"

_configured = False
_lock = threading.Lock()


def tensorflow_thread_budget(environ=None):
    """Threads this process's TensorFlow should use, or None for its default.

    ``SKL_SNAPSHOT_TF_THREADS`` if set, else ``OMP_NUM_THREADS`` (the share of
    the machine joblib and Dask give each worker), else None. In the process
    that started a Dask ``LocalCluster``, whose environment the cluster sets to
    its workers' ``OMP_NUM_THREADS``, None.

    Raises
    ------
    ValueError
        If ``SKL_SNAPSHOT_TF_THREADS`` is not a positive integer.
    """
    environ = os.environ if environ is None else environ
    value = environ.get(THREADS_VARIABLE, "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(
                f"{THREADS_VARIABLE} must be a positive integer. Got"
                f" {THREADS_VARIABLE}={value!r}."
            )
        return int(value)
    if environ.get("__DASK_PARENT_PID") == str(os.getpid()):
        # Starting a LocalCluster writes its workers' OMP_NUM_THREADS=1 into the
        # environment of the process that started it, which is no worker.
        return None
    value = environ.get("OMP_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) >= 1:
        return int(value)
    return None


def configure_tensorflow_threads(small_network=False):
    """Bound TensorFlow's thread pools to this process's budget, once.

    Does nothing if the pools were configured by the user, or if TensorFlow
    already started (its pools can then no longer change). Without a budget
    (see :func:`tensorflow_thread_budget`), a first fit of the built-in network
    (``small_network``) sets one intra-op thread and leaves the inter-op pool to
    TensorFlow: its operations on mini-batches of 32 rows take microseconds, and
    splitting each between threads costs more than it saves. Several networks
    trained side by side suffer most: on 10,000 rows of 20 features, eight
    stacked networks fitted in 0.89 s against 2.09 s with TensorFlow's default
    pools, one network in 0.33 s against 0.39 s (``bench/bench_networks.py``,
    2 cores). Otherwise, with no budget, nothing changes. Returns the intra-op
    thread count set, or None.
    """
    global _configured
    with _lock:
        if _configured:
            return None
        budget = tensorflow_thread_budget()
        threading_config = tf.config.threading
        if budget is None and not small_network:
            # a later fit of the built-in network may still configure them
            return None
        _configured = True
        if threading_config.get_intra_op_parallelism_threads():
            return None
        try:
            threading_config.set_intra_op_parallelism_threads(budget or 1)
            if budget and not threading_config.get_inter_op_parallelism_threads():
                threading_config.set_inter_op_parallelism_threads(budget)
        except RuntimeError:
            # TensorFlow is already running in this process
            return None
        return budget


def distribution_strategy():
    """The tf.distribute strategy ``fit`` runs under, or None outside any scope."""
    if not tf.distribute.has_strategy():
        return None
    return tf.distribute.get_strategy()
