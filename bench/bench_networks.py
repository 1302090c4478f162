"""Cost and gain of n_networks: K networks trained side by side in one run.

Two parts, in one run:

time
    Fit wall time of ``SnapshotEnsembleClassifier(n_networks=K)`` for K in
    ``--networks`` (1, 2, 4, 8) at ``--rows`` (1e3, 1e4, 1e5) rows of a
    generated 20-feature, 3-class problem, a short budget (``--epochs`` 8 in 4
    cycles), for the built-in network (trained by the shared, stacked function)
    and for a custom builder of the same architecture (trained through Keras,
    K copies in one step). Each fit is timed after a warm-up fit of the same
    configuration (the shared function is then compiled), median of
    ``--repeats``. The report gives seconds, the ratio to K=1, and snapshots
    (members) per second of fit.
quality
    Test log-loss and accuracy on digits and a generated problem, half splits,
    ``--seeds`` seeds, default budget: the run's final network (n_members=1),
    the ensemble of one network's snapshots (K=1), and of K networks' snapshots
    (the same epochs), paired by seed.

Run it from the repository root::

    python bench/bench_networks.py
    python bench/bench_networks.py --rows 1000 10000 --repeats 1 --seeds 0 1
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from _report import Report, distribution_versions


def _problem(n_rows, seed=0):
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n_rows,
        n_features=20,
        n_informative=10,
        n_classes=3,
        random_state=seed,
    )
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    return X, y


def _custom_builder(meta):
    import keras

    return keras.Sequential(
        [
            keras.Input((meta["n_features_in_"],)),
            keras.layers.Dense(50, activation="relu"),
            keras.layers.Dense(meta["n_classes_"], activation="softmax"),
        ]
    )


def time_fit(n_networks, X, y, network, epochs, repeats):
    from skl_snapshot import SnapshotEnsembleClassifier

    def fit():
        estimator = SnapshotEnsembleClassifier(
            model=None if network == "built-in" else _custom_builder,
            n_networks=n_networks,
            epochs=epochs,
            n_cycles=4,
            random_state=0,
        )
        start = time.perf_counter()
        estimator.fit(X, y)
        return time.perf_counter() - start, estimator.n_snapshots_

    fit()  # warm-up: tracing and, for the built-in network, the shared function
    runs = [fit() for _ in range(repeats)]
    return statistics.median(seconds for seconds, _ in runs), runs[0][1]


def timing_part(args, report):
    report.heading("Fit wall time against the number of networks")
    report.line(
        f"make_classification, 20 features, 3 classes; {args.epochs} epochs in 4"
        f" cycles, batch 32, hidden (50,); median of {args.repeats} fits after a"
        " warm-up fit of the same configuration."
    )
    rows = []
    for network in ("built-in", "custom"):
        for n_rows in args.rows:
            X, y = _problem(n_rows)
            base = None
            for n_networks in args.networks:
                seconds, members = time_fit(
                    n_networks, X, y, network, args.epochs, args.repeats
                )
                base = seconds if base is None else base
                rows.append(
                    [
                        network,
                        f"{n_rows:,}",
                        n_networks,
                        f"{seconds:.2f}",
                        f"{seconds / base:.2f}x",
                        f"{members / seconds:.1f}",
                    ]
                )
                print(rows[-1], flush=True)
    report.table(["network", "rows", "K", "fit s", "vs K=1", "members per s"], rows)


def _quality_sets():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    generated = _problem(2000, seed=1)
    return {"digits": (X, y), "classification": generated}


def quality_part(args, report):
    from sklearn.metrics import accuracy_score, log_loss
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from skl_snapshot import SnapshotEnsembleClassifier

    report.heading("Test log-loss and accuracy: one network against K networks")
    report.line(
        "Default parameters but n_networks; stratified half splits that change"
        f" with the seed; seeds {', '.join(map(str, args.seeds))}; mean over seeds,"
        " and the share of seeds where the K-network ensemble has the lower"
        " log-loss than one network's ensemble."
    )
    rows = []
    for name, (X, y) in _quality_sets().items():
        results = {}
        for seed in args.seeds:
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=0.5, stratify=y, random_state=seed
            )
            scaler = StandardScaler().fit(X_train)
            X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
            for n_networks in args.networks:
                estimator = SnapshotEnsembleClassifier(
                    n_networks=n_networks, random_state=seed
                ).fit(X_train, y_train)
                proba = estimator.predict_proba(X_test)
                final = estimator.set_params(n_members=1).predict_proba(X_test)
                for label, p in (
                    (f"K={n_networks} ensemble", proba),
                    (f"K={n_networks} final network", final),
                ):
                    results.setdefault(label, []).append(
                        (
                            log_loss(y_test, p, labels=estimator.classes_),
                            accuracy_score(y_test, estimator.classes_[p.argmax(1)]),
                        )
                    )
        one = [loss for loss, _ in results[f"K={args.networks[0]} ensemble"]]
        for label, values in results.items():
            losses = [loss for loss, _ in values]
            wins = np.mean([a < b for a, b in zip(losses, one, strict=True)])
            rows.append(
                [
                    name,
                    label,
                    f"{np.mean(losses):.4f}",
                    f"{np.mean([acc for _, acc in values]):.4f}",
                    f"{wins:.0%}" if "ensemble" in label else "",
                ]
            )
            print(rows[-1], flush=True)
    report.table(
        ["data set", "model", "log-loss", "accuracy", "beats K=1 ensemble"], rows
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--no-quality", action="store_true")
    parser.add_argument("--output", help="also write the Markdown report here")
    args = parser.parse_args()
    report = Report()
    versions = distribution_versions(["tensorflow", "keras", "scikit-learn"])
    report.line(", ".join(f"{name} {version}" for name, version in versions.items()))
    if not args.no_timing:
        timing_part(args, report)
    if not args.no_quality:
        quality_part(args, report)
    report.emit(args.output)


if __name__ == "__main__":
    main()
