"""Ensemble inference: skl_snapshot's predict_proba against scikit-learn MLPs.

A snapshot ensemble of M members must predict at the cost of the arithmetic, not
of M framework calls. This script times, side by side in one run,
``SnapshotEnsembleClassifier.predict_proba`` with 1, 5 and 10 voting members
against the same number of ``MLPClassifier.predict_proba`` calls with the same
hidden layer (Dense(100) on 20 features, 2 classes): the latency on 1,000 rows
(median of many calls) and the time on 1,000,000 rows (median of a few).

Run it from the repository root::

    python bench/bench_inference.py [--output FILE]
"""

import argparse
import os
import platform
import statistics
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from _report import Report  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

import skl_snapshot  # noqa: E402
from skl_snapshot import SnapshotEnsembleClassifier  # noqa: E402

MEMBERS = (1, 5, 10)
HIDDEN = (100,)


def median_time(function, repeats):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def fitted_models(X, y):
    ours = SnapshotEnsembleClassifier(
        hidden_layer_sizes=HIDDEN, epochs=10, n_cycles=10, random_state=0
    ).fit(X, y)
    mlps = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in range(max(MEMBERS)):
            mlps.append(
                MLPClassifier(
                    hidden_layer_sizes=HIDDEN, max_iter=5, random_state=seed
                ).fit(X, y)
            )
    return ours, mlps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="also write the report as Markdown")
    parser.add_argument(
        "--large-rows", type=int, default=1_000_000, help="rows of the large input"
    )
    args = parser.parse_args(argv)

    X, y = make_classification(
        n_samples=2000, n_features=20, n_informative=10, random_state=0
    )
    ours, mlps = fitted_models(X, y)
    rng = np.random.default_rng(0)
    small = rng.normal(size=(1000, 20))
    large = rng.normal(size=(args.large_rows, 20))

    rows = []
    for members in MEMBERS:
        ours.set_params(n_members=members)
        chosen = mlps[:members]

        def ours_small():
            ours.predict_proba(small)

        def mlps_small(chosen=chosen):
            for mlp in chosen:
                mlp.predict_proba(small)

        def ours_large():
            ours.predict_proba(large)

        def mlps_large(chosen=chosen):
            for mlp in chosen:
                mlp.predict_proba(large)

        ours_small()  # warm-up: first call builds caches
        mlps_small()
        timing = {
            "ours_small": median_time(ours_small, 50),
            "mlps_small": median_time(mlps_small, 50),
            "ours_large": median_time(ours_large, 3),
            "mlps_large": median_time(mlps_large, 3),
        }
        rows.append((members, timing))
        print(f"{members} members done", flush=True)

    report = Report()
    report.heading("Ensemble inference: predict_proba, skl_snapshot vs MLPClassifier")
    report.line(
        f"Dense{HIDDEN} on 20 features, 2 classes. {platform.platform()},"
        f" {os.cpu_count()} CPUs; Python {platform.python_version()},"
        f" skl_snapshot {skl_snapshot.__version__}, scikit-learn {sklearn.__version__},"
        f" NumPy {np.__version__}."
    )
    report.line(
        "MLPClassifier column: that many separate MLPClassifier.predict_proba calls."
        " Ratio above 1: skl_snapshot is faster."
    )
    report.table(
        [
            "members",
            "1k rows ours (ms)",
            "1k rows MLPs (ms)",
            "ratio",
            f"{args.large_rows:,} rows ours (s)",
            "MLPs (s)",
            "ratio",
        ],
        [
            [
                members,
                f"{t['ours_small'] * 1e3:.2f}",
                f"{t['mlps_small'] * 1e3:.2f}",
                f"{t['mlps_small'] / t['ours_small']:.2f}x",
                f"{t['ours_large']:.3f}",
                f"{t['mlps_large']:.3f}",
                f"{t['mlps_large'] / t['ours_large']:.2f}x",
            ]
            for members, t in rows
        ],
    )
    report.emit(args.output)


if __name__ == "__main__":
    main()
