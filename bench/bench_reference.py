"""Fit time and accuracy of the tutorial's snapshot ensemble against skl_snapshot.

Both sides train the reference workload of :mod:`skl_snapshot._reference`
(``make_blobs`` with 3 centres, 100 training and 1000 test rows; Dense(50, relu)
then a softmax; SGD with momentum 0.9, batch 32; 500 epochs in 10 cycles of 50;
``lr_max=0.01``):

tutorial
    Plain Keras, as the snapshot-ensemble tutorials write it: one ``model.fit``
    of 500 epochs with a Python callback that sets the cosine-annealing rate at
    the start of every epoch and copies the weights at the end of every cycle.
skl_snapshot
    ``reference_classifier(random_state=seed).fit(X_train, y_train)``: the rate
    changes in-graph at every mini-batch and a whole cycle is one compiled call.

Only the ``fit`` call is timed. Before timing, each side fits once on a tiny
budget, so that TensorFlow's one-off start-up cost does not fall on whichever
side happens to run first. Seeds alternate between the two sides, so that load
from other processes hits both alike. The report gives the fit times (per seed
and median), their ratio, and the test accuracy of the last snapshot alone and
of the soft-voting ensemble of the last k snapshots, k = 1..10 (median over
seeds).

Run it from the repository root (about two minutes on two CPU cores)::

    python bench/bench_reference.py
    python bench/bench_reference.py --seeds 0 1 2 3 4 --output bench_reference.md

The two schedules are not identical: the tutorial's rate is constant within an
epoch, ours follows the cosine at every mini-batch. The accuracies show whether
that matters on this workload; the timings are what this script is for.
"""

import argparse
import math
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import sklearn
import tensorflow as tf
from _report import Report

from skl_snapshot._reference import (
    REFERENCE_PARAMS,
    load_reference_data,
    reference_classifier,
    snapshot_table,
)

EPOCHS = REFERENCE_PARAMS["epochs"]
N_CYCLES = REFERENCE_PARAMS["n_cycles"]
EPOCHS_PER_CYCLE = EPOCHS // N_CYCLES
LR_MAX = REFERENCE_PARAMS["lr_max"]
MOMENTUM = REFERENCE_PARAMS["momentum"]
BATCH_SIZE = REFERENCE_PARAMS["batch_size"]


# -- the tutorial's approach ----------------------------------------------------


def cosine_annealing(epoch, epochs_per_cycle, lr_max):
    """The tutorial's per-epoch rate: half a cosine from lr_max towards 0."""
    position = (epoch % epochs_per_cycle) / epochs_per_cycle
    return lr_max / 2 * (1 + math.cos(math.pi * position))


class SnapshotEnsembleCallback(keras.callbacks.Callback):
    """Set the rate before every epoch; copy the weights after every cycle."""

    def __init__(self, epochs_per_cycle, lr_max):
        super().__init__()
        self.epochs_per_cycle = epochs_per_cycle
        self.lr_max = lr_max
        self.snapshots = []

    def on_epoch_begin(self, epoch, logs=None):
        rate = cosine_annealing(epoch, self.epochs_per_cycle, self.lr_max)
        self.model.optimizer.learning_rate.assign(rate)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.epochs_per_cycle == 0:
            self.snapshots.append([w.copy() for w in self.model.get_weights()])


def build_tutorial_model():
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(50, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=LR_MAX, momentum=MOMENTUM),
        loss="sparse_categorical_crossentropy",
    )
    return model


def fit_tutorial(X, y, seed, epochs=EPOCHS, epochs_per_cycle=EPOCHS_PER_CYCLE):
    """Fit seconds, the snapshots (oldest first) and the model to load them in."""
    keras.utils.set_random_seed(seed)
    model = build_tutorial_model()
    callback = SnapshotEnsembleCallback(epochs_per_cycle, LR_MAX)
    start = time.perf_counter()
    model.fit(
        X, y, epochs=epochs, batch_size=BATCH_SIZE, verbose=0, callbacks=[callback]
    )
    seconds = time.perf_counter() - start
    return seconds, callback.snapshots, model


def tutorial_accuracies(model, snapshots, X, y):
    """Accuracy of the soft-voting ensemble of the last k snapshots, k = 1..M."""
    probas = []
    for weights in snapshots:
        model.set_weights(weights)
        probas.append(np.asarray(model(X, training=False)))
    return [
        float(np.mean(np.mean(probas[-k:], axis=0).argmax(axis=1) == y))
        for k in range(1, len(probas) + 1)
    ]


# -- skl_snapshot ---------------------------------------------------------------


def fit_ours(X, y, seed, **overrides):
    """Fit seconds and the fitted SnapshotEnsembleClassifier."""
    classifier = reference_classifier(random_state=seed, **overrides)
    start = time.perf_counter()
    classifier.fit(X, y)
    seconds = time.perf_counter() - start
    return seconds, classifier


def our_accuracies(classifier, X, y):
    """Accuracy of the soft-voting ensemble of the last k snapshots, k = 1..M."""
    rows = snapshot_table(classifier, X, y)
    return [row["ensemble_accuracy"] for row in rows]


# -- report ---------------------------------------------------------------------


def median_seconds(runs):
    return statistics.median(run["seconds"] for run in runs)


def median_accuracy(runs, k):
    """Median over seeds of the accuracy of the ensemble of the last k snapshots."""
    return statistics.median(run["ensemble"][k - 1] for run in runs)


def build_report(seeds, tutorial, ours, warm_up_seconds):
    ratio = median_seconds(tutorial) / median_seconds(ours)
    per_seed = list(zip(seeds, tutorial, ours, strict=True))

    report = Report()
    report.line("Snapshot ensemble on the reference workload: tutorial vs skl_snapshot")
    report.line(
        f"{EPOCHS} epochs in {N_CYCLES} cycles of {EPOCHS_PER_CYCLE}, lr_max={LR_MAX},"
        f" momentum {MOMENTUM}, batch {BATCH_SIZE}; 100 training, 1000 test rows."
    )
    report.line(
        f"Python {platform.python_version()}, TensorFlow {tf.__version__},"
        f" Keras {keras.__version__}, scikit-learn {sklearn.__version__},"
        f" {os.cpu_count()} CPUs."
    )
    report.line(
        "Warm-up: each side was fitted once on a tiny budget before timing"
        f" ({warm_up_seconds:.1f} s in all, not counted)."
    )

    report.heading("Fit time (seconds)")
    rows = [
        [seed, f"{a['seconds']:.2f}", f"{b['seconds']:.2f}"]
        + [f"{a['seconds'] / b['seconds']:.1f}x"]
        for seed, a, b in per_seed
    ]
    rows.append(
        ["median", f"{median_seconds(tutorial):.2f}", f"{median_seconds(ours):.2f}"]
        + [f"{ratio:.1f}x"]
    )
    report.table(["seed", "tutorial", "skl_snapshot", "ratio"], rows)

    report.heading("Test accuracy of the last snapshot alone")
    rows = [
        [seed, f"{a['ensemble'][0]:.3f}", f"{b['ensemble'][0]:.3f}"]
        for seed, a, b in per_seed
    ]
    rows.append(
        ["median", f"{median_accuracy(tutorial, 1):.3f}"]
        + [f"{median_accuracy(ours, 1):.3f}"]
    )
    report.table(["seed", "tutorial", "skl_snapshot"], rows)

    report.heading("Test accuracy of the ensemble of the last k snapshots")
    report.line(
        "Soft voting (mean of the snapshots' probabilities, then argmax);"
        f" median over seeds {', '.join(map(str, seeds))}."
    )
    n_snapshots = min(len(run["ensemble"]) for run in [*tutorial, *ours])
    rows = [
        [k, f"{median_accuracy(tutorial, k):.3f}", f"{median_accuracy(ours, k):.3f}"]
        for k in range(1, n_snapshots + 1)
    ]
    report.table(["k", "tutorial", "skl_snapshot"], rows)

    report.line()
    report.line(f"fit time ratio (tutorial / skl_snapshot): {ratio:.1f}x")
    return report


# -- main -----------------------------------------------------------------------


def warm_up(X, y):
    """Fit each side once on a tiny budget; return the seconds it took."""
    start = time.perf_counter()
    fit_tutorial(X, y, seed=0, epochs=2, epochs_per_cycle=1)
    fit_ours(X, y, seed=0, epochs=2, n_cycles=2)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0, 1, 2],
        help="random seeds, one fit per side each (default: 0 1 2)",
    )
    parser.add_argument(
        "--output", metavar="FILE", help="also write the report as Markdown"
    )
    args = parser.parse_args(argv)

    X_train, y_train, X_test, y_test = load_reference_data()
    warm_up_seconds = warm_up(X_train, y_train)

    tutorial, ours = [], []
    for seed in args.seeds:
        seconds, snapshots, model = fit_tutorial(X_train, y_train, seed)
        ensemble = tutorial_accuracies(model, snapshots, X_test, y_test)
        tutorial.append({"seconds": seconds, "ensemble": ensemble})
        print(f"seed {seed}: tutorial fit {seconds:.2f} s", flush=True)

        seconds, classifier = fit_ours(X_train, y_train, seed)
        ensemble = our_accuracies(classifier, X_test, y_test)
        ours.append({"seconds": seconds, "ensemble": ensemble})
        print(f"seed {seed}: skl_snapshot fit {seconds:.2f} s", flush=True)

    report = build_report(args.seeds, tutorial, ours, warm_up_seconds)
    print()
    report.emit(args.output)


if __name__ == "__main__":
    main()
