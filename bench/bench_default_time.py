"""Fit wall time of the defaults against MLPClassifier()'s defaults (issue 14).

Both estimators with their default parameters, behind a ``StandardScaler``, on
three data sets side by side in one run:

- the reference workload of :mod:`skl_snapshot._reference` (100 training rows of
  ``make_blobs``);
- ``load_digits``, the training half of a stratified half split (898 rows);
- 100,000 rows of ``make_classification`` (20 features, 3 classes).

Each fit is timed after one warm-up fit of ours on the same data (it compiles
the shared training function once per process, as every later fit reuses it);
median of ``--repeats`` (one on the 100,000 rows unless ``--large-repeats``).
The ratio above 1 says how many times slower ours is. Test log-loss is printed
beside the time, on the held-out half (the reference's 1,000 test rows).

    python bench/bench_default_time.py
"""

import argparse
import os
import statistics
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits, make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import log_loss  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skl_snapshot import SnapshotEnsembleClassifier  # noqa: E402
from skl_snapshot._reference import load_reference_data  # noqa: E402


def datasets():
    yield "reference (100 rows)", load_reference_data()
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.5, stratify=y, random_state=0
    )
    yield "digits (898 rows)", (X_train, y_train, X_test, y_test)
    X, y = make_classification(
        n_samples=110_000,
        n_features=20,
        n_informative=10,
        n_classes=3,
        random_state=0,
    )
    yield (
        "generated (100,000 rows)",
        (X[:100_000], y[:100_000], X[100_000:], y[100_000:]),
    )


def timed_fit(model, X, y):
    pipeline = make_pipeline(StandardScaler(), model)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.fit(X, y)
    return time.perf_counter() - start, pipeline


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--large-repeats", type=int, default=1)
    args = parser.parse_args()
    print("| data set | ours s | MLPClassifier() s | ratio | ours LL | MLP LL |")
    print("|---|---|---|---|---|---|")
    for name, (X_train, y_train, X_test, y_test) in datasets():
        repeats = args.large_repeats if len(y_train) > 10_000 else args.repeats
        timed_fit(SnapshotEnsembleClassifier(epochs=7), X_train[:200], y_train[:200])
        results = {}
        for label, make in (
            ("ours", lambda seed: SnapshotEnsembleClassifier(random_state=seed)),
            ("mlp", lambda seed: MLPClassifier(random_state=seed)),
        ):
            seconds, losses = [], []
            for seed in range(repeats):
                elapsed, pipeline = timed_fit(make(seed), X_train, y_train)
                seconds.append(elapsed)
                losses.append(log_loss(y_test, pipeline.predict_proba(X_test)))
            results[label] = (statistics.median(seconds), float(np.mean(losses)))
        ours, mlp = results["ours"], results["mlp"]
        print(
            f"| {name} | {ours[0]:.2f} | {mlp[0]:.2f} | {ours[0] / mlp[0]:.2f}x"
            f" | {ours[1]:.4f} | {mlp[1]:.4f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
