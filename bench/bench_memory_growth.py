"""Memory growth of a process that fits many different architectures.

A grid search over ``hidden_layer_sizes`` fits one new architecture after
another in the same worker process. This script fits ``--fits`` distinct
architectures (one or two hidden layers of varying widths) in a fresh process
for each approach, side by side in one run:

ours
    ``SnapshotEnsembleClassifier(hidden_layer_sizes=h, epochs, n_cycles)``
    ``.fit(X, y)`` then ``predict_proba``, the estimator dropped after each fit.
keras
    The same network built with ``keras.Sequential``, compiled with SGD, trained
    with ``model.fit(epochs=epochs, batch_size=32, verbose=0)`` and
    ``model.predict``, the model dropped after each fit: what a user without us
    would run.

Each child reads its resident memory (``/proc/self/statm``) after its imports
and after every fit, and reports the growth from the end of the 10th fit (when
the allocators and TensorFlow's own caches have warmed up) to the last, and in
all. The report gives both approaches and their ratio.

Run it from the repository root (about two minutes on two CPU cores)::

    python bench/bench_memory_growth.py
    python bench/bench_memory_growth.py --fits 100 --output growth.md
"""

import argparse
import gc
import json
import os
import platform
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from _report import Report

WARM_UP = 10
EPOCHS = 8
N_CYCLES = 4


def architectures(n_fits):
    """``n_fits`` distinct hidden-layer tuples."""
    shapes = []
    width = 4
    while len(shapes) < n_fits:
        shapes.append((width,))
        if len(shapes) < n_fits:
            shapes.append((width, max(2, width // 2)))
        width += 3
    return shapes


def rss_mb():
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _data():
    import numpy as np
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=400, n_features=10, n_informative=6, n_classes=3, random_state=0
    )
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    return X, y


def fit_ours(hidden, X, y):
    from skl_snapshot import SnapshotEnsembleClassifier

    estimator = SnapshotEnsembleClassifier(
        hidden_layer_sizes=hidden, epochs=EPOCHS, n_cycles=N_CYCLES, random_state=0
    )
    estimator.fit(X, y).predict_proba(X)


def fit_keras(hidden, X, y):
    import keras

    layers = [keras.Input((X.shape[1],))]
    layers += [keras.layers.Dense(units, activation="relu") for units in hidden]
    layers.append(keras.layers.Dense(3, activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
        loss="sparse_categorical_crossentropy",
    )
    model.fit(X, y, epochs=EPOCHS, batch_size=32, verbose=0)
    model.predict(X, verbose=0)


def child(approach, n_fits):
    import keras  # noqa: F401  (imports before the first reading)

    import skl_snapshot  # noqa: F401

    X, y = _data()
    fit = {"ours": fit_ours, "keras": fit_keras}[approach]
    readings = [rss_mb()]
    for hidden in architectures(n_fits):
        fit(hidden, X, y)
        gc.collect()
        readings.append(rss_mb())
    print(json.dumps(readings))


def run_child(approach, n_fits):
    result = subprocess.run(
        [sys.executable, __file__, "--child", approach, "--fits", str(n_fits)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=100)
    parser.add_argument("--output", help="also write the Markdown report here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.fits)
        return
    if args.fits <= WARM_UP:
        parser.error(f"--fits must exceed the {WARM_UP} warm-up fits")
    results = {
        approach: run_child(approach, args.fits) for approach in ("ours", "keras")
    }
    report = Report()
    report.heading("Memory growth over fits of distinct architectures")
    report.line(
        f"{args.fits} fits of distinct architectures (one or two hidden layers),"
        f" {EPOCHS} epochs each, 400 rows x 10 features, in a fresh process per"
        f" approach; resident memory (MB) after the imports, after fit {WARM_UP}"
        " and after the last fit. Python "
        f"{platform.python_version()}, {platform.machine()}."
    )
    rows = []
    growth = {}
    for approach, readings in results.items():
        growth[approach] = readings[-1] - readings[WARM_UP]
        rows.append(
            [
                approach,
                f"{readings[0]:.0f}",
                f"{readings[WARM_UP]:.0f}",
                f"{readings[-1]:.0f}",
                f"{growth[approach]:.0f}",
                f"{readings[-1] - readings[0]:.0f}",
            ]
        )
    report.table(
        [
            "approach",
            "after imports",
            f"after fit {WARM_UP}",
            "after the last fit",
            f"growth after fit {WARM_UP}",
            "growth in all",
        ],
        rows,
    )
    ratio = growth["ours"] / growth["keras"] if growth["keras"] > 0 else float("nan")
    report.line(
        f"Growth after the warm-up, ours / plain Keras: {ratio:.2f}x"
        f" ({growth['ours']:.0f} MB against {growth['keras']:.0f} MB)."
    )
    report.emit(args.output)


if __name__ == "__main__":
    main()
