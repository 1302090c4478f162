"""Test RMSE and R² of the snapshot ensemble regressor against one network and M.

Two parts. The quality part fits, for each data set and seed, seven methods on
the training split and scores them on the test split (RMSE, R², the coverage
of the ensemble's spread, fit seconds). Each is a
``Pipeline(StandardScaler(), model)``, or for the real tables of
``bench/_datasets.py`` that are installed (``pip install ".[bench]"``: numeric
and categorical columns, missing values) ``Pipeline(impute/scale/one-hot,
model)``; the targets are left as they are (the snapshot networks standardise
them inside ``fit``, ``normalize_y=True``); Ridge() is the linear baseline. The methods:

ensemble
    ``SnapshotEnsembleRegressor(**params, random_state=seed)``, ``params`` from
    ``--params`` (default ``{}``: the library's defaults), scored by its
    ``predict``: the mean of the snapshots that vote under those parameters.
single
    The final network of the same run: its newest snapshot alone, read from
    ``snapshot_scores`` (which scores every snapshot alone) without refitting.
    Its fit seconds are the ensemble's.
independent
    M = ``min(n_snapshots_, 8)`` networks trained independently, each a
    ``SnapshotEnsembleRegressor`` with the same parameters but one network
    (``n_networks=1``, no folds) and ``n_cycles=1`` (annealed over the whole
    epoch budget) and seed ``seed * 1000 + m + 1``, m = 0..M-1; their
    predictions are averaged: a deep ensemble. "one independent" is the first
    of them alone: one network trained with the same budget.
MLPRegressor
    scikit-learn's with its default settings and ``random_state=seed`` (it does
    not standardise the targets).
HistGradientBoostingRegressor
    scikit-learn's with its default settings and ``random_state=seed``; one
    model per output (``MultiOutputRegressor``) on the two-output data set.
    Fitted on one OpenMP thread, which gives the same model: after a
    TensorFlow fit in the same process, its threads contend with TensorFlow's
    and a fit of a fraction of a second can take half a minute.

The data sets, all generated or shipped with scikit-learn: ``load_diabetes``
(442 rows, target 25 to 346), ``make_friedman1(n_samples=1000, noise=1.0)``,
``make_friedman2(n_samples=1000, noise=10)`` (target up to about 1,750),
``make_friedman3(n_samples=1000, noise=0.1)``, ``make_regression(n_samples=1000,
n_features=20, n_informative=10, noise=10)``, ``make_sparse_uncorrelated(
n_samples=1000)`` and the same ``make_regression`` with ``n_targets=2``; every
generator with ``random_state=0``, so the rows are fixed, and every set split in
halves with ``random_state=seed``, so the split changes with the seed.

RMSE is the square root of the mean squared error over every test row and
output; R² is scikit-learn's ``r2_score``, averaged over the outputs. Coverage
is the share of test values (rows times outputs) whose truth lies within the
mean ± 2 standard deviations of the members: the ensemble's
``predict(X, return_std=True)``, and the spread of the M independent networks.
It measures how far the members' disagreement tracks the error; the members
share one training set, so it is no calibrated predictive interval.

The report gives, per data set, the mean and standard deviation over seeds of
each method's RMSE and R², the coverages and the median fit seconds; the paired
difference ensemble - single in RMSE with a two-sided Wilcoxon signed-rank test
and the number of runs where the ensemble's RMSE is lower; the ensemble's mean
RMSE against MLPRegressor's and HistGradientBoostingRegressor's; then the
acceptance checks, with PASS or FAIL: the ensemble's RMSE below its own final
network's in at least 80% of all runs, and its mean RMSE no worse than
MLPRegressor's on more than half of the data sets.

The timing part fits, on 10,000 rows of ``make_regression(n_features=20)``
(standardised features and targets), ``SnapshotEnsembleRegressor(
hidden_layer_sizes=(100,), epochs=E, batch_size=B, random_state=0)`` with
``n_cycles=1`` and with the default number of cycles (at most E), against
``MLPRegressor(hidden_layer_sizes=(100,), solver="sgd", momentum=0.9,
learning_rate_init=lr_max, max_iter=E, tol=0, n_iter_no_change=E + 1,
early_stopping=False, batch_size=B)``, which so runs all E epochs at the
constant rate ``lr_max`` (the ensemble's default peak rate), for B = 200 and 32:
the median fit seconds over repeats and the ratio ours / MLP. Each of ours is
fitted once on a tiny budget before it is timed, so that the timings leave out
compiling the training function. ``--no-timing`` skips this part.

Run it from the repository root (a run of every method takes 1.5 to 3 seconds
on two CPU cores with the library's defaults, so 20 seeds of the seven data
sets take about seven minutes, the timing part under one more); ``--report-from``
rebuilds the report from a ``--raw`` file without fitting anything::

    python bench/bench_regression.py --output regression.md --raw regression.json
    python bench/bench_regression.py --report-from regression.json
    python bench/bench_regression.py --seeds 0 --datasets diabetes friedman1 \\
        --params '{"epochs": 16, "n_cycles": 2}' --timing-epochs 2 \\
        --timing-repeats 1
"""

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import _datasets
import numpy as np
from _report import Report
from bench_memory import cpu_model
from bench_quality import (
    MAX_INDEPENDENT,
    QUIET_PARAMETERS,
    fit_timed,
    format_p,
    front,
    independent_params,
    mean_std,
    parse_params,
    values,
    verdict,
    versions,
    wilcoxon_p,
)
from sklearn.base import clone
from sklearn.datasets import (
    load_diabetes,
    make_friedman1,
    make_friedman2,
    make_friedman3,
    make_regression,
    make_sparse_uncorrelated,
)
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.multioutput import MultiOutputRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skl_snapshot import SnapshotEnsembleRegressor

DATASETS = {
    "diabetes": "load_diabetes (442 rows, 10 features)",
    "friedman1": "make_friedman1(n_samples=1000, noise=1.0)",
    "friedman2": "make_friedman2(n_samples=1000, noise=10)",
    "friedman3": "make_friedman3(n_samples=1000, noise=0.1)",
    "regression": "make_regression(1000 rows, 20 features, 10 informative, noise 10)",
    "sparse_uncorrelated": "make_sparse_uncorrelated(n_samples=1000)",
    "regression_2_outputs": "make_regression as above with n_targets=2",
}
#: Real tables with categorical columns and missing values, shipped inside the
#: packages of the bench extra (bench/_datasets.py): those installed here, behind
#: the same impute/scale/one-hot preprocessing as every method.
TABLES = [name for name in _datasets.available("regression") if name not in DATASETS]
DATASETS.update({name: f"bench/_datasets.py: {name}" for name in TABLES})

METHODS = {
    "ensemble": "snapshot ensemble",
    "single": "final single network",
    "independent": "M independent networks",
    "independent_one": "one independent network",
    "mlp": "MLPRegressor()",
    "hgb": "HistGradientBoostingRegressor()",
    "ridge": "Ridge()",
}

#: Acceptance targets (see the report's Acceptance section).
TARGET_SHARE_LOWER_RMSE = 0.80
TARGET_BEST_BASELINE_RATIO = 1.05
TARGET_SHARE_CLOSE_TO_BEST = 0.80

#: Half-width of the interval whose coverage is reported, in standard deviations.
COVERAGE_STDS = 2

TIMING_ROWS = 10_000
TIMING_FEATURES = 20
TIMING_HIDDEN = (100,)
TIMING_BATCHES = (200, 32)
TIMING_MOMENTUM = 0.9


# -- data -------------------------------------------------------------------------


def load_dataset(name, seed):
    """``(X_train, y_train, X_test, y_test)`` of a data set for one seed."""
    if name in TABLES:
        X, y, _ = _datasets.load(name)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.5, random_state=seed
        )
        return X_train, y_train, X_test, y_test
    if name == "diabetes":
        X, y = load_diabetes(return_X_y=True)
    elif name == "friedman1":
        X, y = make_friedman1(n_samples=1000, noise=1.0, random_state=0)
    elif name == "friedman2":
        X, y = make_friedman2(n_samples=1000, noise=10, random_state=0)
    elif name == "friedman3":
        X, y = make_friedman3(n_samples=1000, noise=0.1, random_state=0)
    elif name == "sparse_uncorrelated":
        X, y = make_sparse_uncorrelated(n_samples=1000, random_state=0)
    else:
        X, y = make_regression(
            n_samples=1000,
            n_features=20,
            n_informative=10,
            noise=10,
            n_targets=2 if name == "regression_2_outputs" else 1,
            random_state=0,
        )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.5, random_state=seed
    )
    return X_train, y_train, X_test, y_test


# -- methods ----------------------------------------------------------------------


def snapshot_pipeline(params, seed, X):
    return make_pipeline(
        front(X), SnapshotEnsembleRegressor(**params, random_state=seed)
    )


def rmse(y_true, y_pred):
    """Root of the mean squared error over every row and output."""
    return float(np.sqrt(mean_squared_error(y_true, y_pred)))


def scores(y_test, prediction, seconds):
    return {
        "rmse": rmse(y_test, prediction),
        "r2": float(r2_score(y_test, prediction)),
        "fit_seconds": seconds,
    }


def coverage(y_test, mean, std):
    """Share of test values within ``mean ± COVERAGE_STDS * std``; None without std."""
    if std is None:
        return None
    inside = np.abs(np.asarray(y_test) - mean) <= COVERAGE_STDS * std
    return float(np.mean(inside))


def predict_with_std(pipeline, X_test):
    """The ensemble's mean and the members' standard deviation (None for one).

    ``return_std=True`` refuses an ensemble of one voting network (one cycle,
    ``n_members=1`` or ``method="swa"`` in ``--params``); those runs get no
    coverage.
    """
    regressor = pipeline[-1]
    if (
        regressor.n_snapshots_ == 1
        or regressor.n_members == 1
        or regressor.method == "swa"
    ):
        return pipeline.predict(X_test), None
    return pipeline.predict(X_test, return_std=True)


def newest_snapshot_scores(pipeline, X_test, y_test):
    """RMSE and R² of the fitted pipeline's newest snapshot alone.

    ``snapshot_scores`` scores every snapshot alone, listed in ``member_order``;
    the newest has the highest index, whatever that order is. Its MSE is
    averaged over the outputs, as ``rmse`` squares.
    """
    regressor = pipeline[-1]
    found = regressor.snapshot_scores(pipeline[:-1].transform(X_test), y_test)
    rows = np.flatnonzero(found.snapshot == regressor.n_snapshots_ - 1)
    if len(rows) != 1:
        raise RuntimeError(
            "snapshot_scores must list the newest snapshot exactly once. Got"
            f" snapshots {found.snapshot.tolist()} with"
            f" n_snapshots_={regressor.n_snapshots_}."
        )
    return {
        "rmse": float(np.sqrt(found.single_mse[rows[0]])),
        "r2": float(found.single_r2[rows[0]]),
    }


def gradient_boosting(seed, n_outputs):
    """HistGradientBoostingRegressor, one per output where y has several."""
    model = HistGradientBoostingRegressor(random_state=seed)
    return model if n_outputs == 1 else MultiOutputRegressor(model)


def run_once(name, seed, params):
    """Fit and score every method on one data set and seed."""
    X_train, y_train, X_test, y_test = load_dataset(name, seed)
    n_outputs = 1 if y_train.ndim == 1 else y_train.shape[1]
    results = {}

    ensemble = snapshot_pipeline(params, seed, X_train)
    try:
        seconds = fit_timed(ensemble, X_train, y_train)
    except ValueError as error:
        # a diverged fit is a result (infinitely bad), not the end of the run
        if "diverged" not in str(error):
            raise
        print(f"  {name} seed {seed}: the ensemble diverged: {error}", flush=True)
        failed = {"rmse": np.inf, "r2": -np.inf, "fit_seconds": np.nan}
        results["ensemble"] = {**failed, "coverage": None, "diverged": True}
        results["single"] = dict(failed)
        n_snapshots = MAX_INDEPENDENT
    else:
        n_snapshots = ensemble[-1].n_snapshots_
        mean, std = predict_with_std(ensemble, X_test)
        results["ensemble"] = {
            **scores(y_test, mean, seconds),
            "coverage": coverage(y_test, mean, std),
        }
        newest = newest_snapshot_scores(ensemble, X_test, y_test)
        results["single"] = {**newest, "fit_seconds": seconds}

    predictions, member_seconds, diverged = [], [], 0
    for member in range(min(n_snapshots, MAX_INDEPENDENT)):
        member_seed = seed * 1000 + member + 1
        network = snapshot_pipeline(independent_params(params), member_seed, X_train)
        try:
            member_seconds.append(fit_timed(network, X_train, y_train))
        except ValueError as error:
            # a network that diverges is recorded, and the others still vote
            if "diverged" not in str(error):
                raise
            diverged += 1
            continue
        predictions.append(network.predict(X_test))
    if not predictions:
        raise RuntimeError(f"every independent network diverged on {name}")
    predictions = np.stack(predictions)
    mean = predictions.mean(axis=0)
    # the population standard deviation, as across the ensemble's members
    std = predictions.std(axis=0) if len(predictions) > 1 else None
    results["independent"] = {
        **scores(y_test, mean, sum(member_seconds)),
        "coverage": coverage(y_test, mean, std),
    }
    results["independent"]["diverged"] = diverged
    results["independent_one"] = scores(y_test, predictions[0], member_seconds[0])

    mlp = make_pipeline(clone(front(X_train)), MLPRegressor(random_state=seed))
    seconds = fit_timed(mlp, X_train, y_train)
    results["mlp"] = scores(y_test, mlp.predict(X_test), seconds)

    ridge = make_pipeline(clone(front(X_train)), Ridge())
    seconds = fit_timed(ridge, X_train, y_train)
    results["ridge"] = scores(y_test, ridge.predict(X_test), seconds)

    hgb = make_pipeline(clone(front(X_train)), gradient_boosting(seed, n_outputs))
    # After a TensorFlow fit in the same process, OpenMP's threads contend with
    # TensorFlow's idle ones: a 0.15 s fit took 36 s on two cores. One OpenMP
    # thread gives the same predictions.
    with threadpool_limits(limits=1, user_api="openmp"):
        seconds = fit_timed(hgb, X_train, y_train)
        results["hgb"] = scores(y_test, hgb.predict(X_test), seconds)

    return {
        "dataset": name,
        "seed": seed,
        "n_train": len(y_train),
        "n_test": len(y_test),
        "n_outputs": n_outputs,
        "n_snapshots": int(n_snapshots),
        "methods": results,
    }


def warm_up(name, params):
    """Fit both kinds of snapshot network once on a tiny budget; return seconds.

    Fits of the same architecture share one compiled training function, so the
    first seed's fit would otherwise also pay for compiling it.
    """
    X_train, y_train, _, _ = load_dataset(name, seed=0)
    n_cycles = SnapshotEnsembleRegressor(**params).n_cycles
    start = time.perf_counter()
    snapshot_pipeline({**params, "epochs": n_cycles}, 0, X_train).fit(X_train, y_train)
    single = {**independent_params(params), "epochs": 1}
    snapshot_pipeline(single, 0, X_train).fit(X_train, y_train)
    return time.perf_counter() - start


# -- timing -----------------------------------------------------------------------


def timing_data():
    """Standardised features and targets of the timing part.

    The targets too, so that MLPRegressor's SGD at the ensemble's peak rate does
    not diverge on targets in the hundreds.
    """
    X, y = make_regression(
        n_samples=TIMING_ROWS,
        n_features=TIMING_FEATURES,
        n_informative=10,
        noise=10,
        random_state=0,
    )
    X = StandardScaler().fit_transform(X)
    return X, (y - y.mean()) / y.std()


def timed_median(make_model, X, y, repeats):
    """Median seconds of ``repeats`` fits of fresh models from ``make_model``."""
    return statistics.median(fit_timed(make_model(), X, y) for _ in range(repeats))


def run_timing(epochs, repeats):
    """Fit seconds of ours (one and the default cycles) and MLPRegressor."""
    X, y = timing_data()
    defaults = SnapshotEnsembleRegressor()
    cycle_counts = sorted({1, min(defaults.n_cycles, epochs)})
    rows = []
    for batch_size in TIMING_BATCHES:

        def ours(n_cycles, budget=epochs, batch_size=batch_size):
            return SnapshotEnsembleRegressor(
                hidden_layer_sizes=TIMING_HIDDEN,
                epochs=budget,
                n_cycles=n_cycles,
                batch_size=batch_size,
                random_state=0,
            )

        def mlp(batch_size=batch_size):
            return MLPRegressor(
                hidden_layer_sizes=TIMING_HIDDEN,
                solver="sgd",
                momentum=TIMING_MOMENTUM,
                learning_rate_init=defaults.lr_max,
                max_iter=epochs,
                tol=0,
                n_iter_no_change=epochs + 1,
                early_stopping=False,
                batch_size=batch_size,
                random_state=0,
            )

        mlp_seconds = timed_median(mlp, X, y, repeats)
        for n_cycles in cycle_counts:
            ours(n_cycles, budget=n_cycles).fit(X, y)  # warm-up, not timed
            seconds = timed_median(lambda n=n_cycles: ours(n), X, y, repeats)
            rows.append(
                {
                    "batch_size": batch_size,
                    "n_cycles": n_cycles,
                    "ours_seconds": seconds,
                    "mlp_seconds": mlp_seconds,
                }
            )
            print(
                f"timing batch {batch_size}, {n_cycles} cycles: ours {seconds:.2f} s,"
                f" MLPRegressor {mlp_seconds:.2f} s",
                flush=True,
            )
    return {
        "rows_of_data": TIMING_ROWS,
        "epochs": epochs,
        "repeats": repeats,
        "lr_max": defaults.lr_max,
        "results": rows,
    }


# -- statistics -------------------------------------------------------------------


def coverages(runs, method):
    """The runs' coverages of ``method``, leaving out runs that have none."""
    found = [run["methods"][method].get("coverage") for run in runs]
    return np.array([value for value in found if value is not None])


def summarise(runs):
    """Paired comparisons of one data set's runs."""
    single_rmse = values(runs, "single", "rmse")
    ensemble_rmse = values(runs, "ensemble", "rmse")
    # a diverged ensemble (inf - inf) counts as not lower
    rmse_diff = np.nan_to_num(ensemble_rmse - single_rmse, nan=0.0)
    ensemble_mean = float(np.mean(ensemble_rmse))
    mlp_mean = float(np.mean(values(runs, "mlp", "rmse")))
    hgb_mean = float(np.mean(values(runs, "hgb", "rmse")))
    ridge_mean = float(np.mean(values(runs, "ridge", "rmse")))
    return {
        "runs": len(runs),
        "rmse_diff": float(np.mean(rmse_diff)),
        "rmse_diff_percent": 100 * float(np.mean(rmse_diff) / np.mean(single_rmse)),
        "lower_rmse": int(np.sum(rmse_diff < 0)),
        "rmse_p": wilcoxon_p(rmse_diff),
        "n_snapshots": sorted({run["n_snapshots"] for run in runs}),
        "ensemble_rmse": ensemble_mean,
        "mlp_rmse": mlp_mean,
        "hgb_rmse": hgb_mean,
        "not_worse_than_mlp": ensemble_mean <= mlp_mean,
        "best_baseline_ratio": ensemble_mean / min(mlp_mean, hgb_mean, ridge_mean),
    }


# -- report -----------------------------------------------------------------------


def effective_params(params):
    """Every parameter the ensemble is fitted with, defaults included."""
    all_params = SnapshotEnsembleRegressor(**params).get_params()
    return {
        name: value
        for name, value in all_params.items()
        if name not in QUIET_PARAMETERS
    }


def format_coverage(found):
    if len(found) == 0:
        return "—"
    return mean_std(100 * found, 1) + " %"


def build_report(meta, runs, warm_up_seconds, timing=None):
    by_dataset = {
        name: [run for run in runs if run["dataset"] == name]
        for name in meta["datasets"]
    }
    summaries = {name: summarise(group) for name, group in by_dataset.items()}

    report = Report()
    report.line("Regression: snapshot ensemble against one network and M networks")
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
        " tables Pipeline(impute/scale/one-hot, model), targets unscaled;"
        " half splits that change with the seed."
    )

    report.heading("RMSE and R² on the test split")
    report.line(
        "Mean ± standard deviation over seeds. RMSE: root of the mean squared"
        " error over rows and outputs, in the target's units; R² averaged over the"
        " outputs. Coverage: share of test values within the members' mean ±"
        f" {COVERAGE_STDS} standard deviations (ensemble: predict(return_std=True);"
        " M independent: their spread). 'final single network' is the newest"
        " snapshot of the ensemble's own run (its fit seconds are the ensemble's);"
        " 'M independent networks' costs M fits."
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
                    mean_std(values(group, method, "rmse"), 4),
                    mean_std(values(group, method, "r2"), 4),
                    format_coverage(coverages(group, method)),
                    f"{statistics.median(values(group, method, 'fit_seconds')):.2f}",
                ]
            )
    report.table(["data set", "method", "RMSE", "R²", "coverage", "median fit s"], rows)

    report.heading("Ensemble - final single network, paired by seed")
    report.line(
        "Mean RMSE differences over seeds, in the target's units and in per cent of"
        " the single network's mean RMSE; p: two-sided Wilcoxon signed-rank test of"
        " the paired differences (1.0 where all are zero). Then the mean RMSE of the"
        " ensemble, MLPRegressor() and HistGradientBoostingRegressor(), and the"
        " ensemble's as a ratio of MLPRegressor's (below 1: the ensemble is better)."
    )
    report.table(
        [
            "data set",
            "M",
            "runs",
            "Δ RMSE",
            "Δ RMSE %",
            "runs ensemble RMSE lower",
            "p RMSE",
            "ensemble RMSE",
            "MLP RMSE",
            "HGB RMSE",
            "ensemble / MLP",
        ],
        [
            [
                name,
                "/".join(map(str, summary["n_snapshots"])),
                summary["runs"],
                f"{summary['rmse_diff']:+.4f}",
                f"{summary['rmse_diff_percent']:+.1f}",
                f"{summary['lower_rmse']}/{summary['runs']}",
                format_p(summary["rmse_p"]),
                f"{summary['ensemble_rmse']:.4f}",
                f"{summary['mlp_rmse']:.4f}",
                f"{summary['hgb_rmse']:.4f}",
                f"{summary['ensemble_rmse'] / summary['mlp_rmse']:.3f}",
            ]
            for name, summary in summaries.items()
        ],
    )

    report_divergences(
        report,
        by_dataset,
        "independent",
        "Independent networks that diverged (left out of their average)",
    )
    report_divergences(
        report,
        by_dataset,
        "ensemble",
        "Ensemble fits that diverged (counted as infinite RMSE)",
    )

    report.heading("Acceptance")
    lower = sum(summary["lower_rmse"] for summary in summaries.values())
    share = lower / len(runs)
    not_worse = [name for name, s in summaries.items() if s["not_worse_than_mlp"]]
    share_not_worse = len(not_worse) / len(summaries)
    rows = [
        [
            "all",
            "share of runs with ensemble RMSE < single RMSE",
            f"{lower}/{len(runs)} = {share:.0%}",
            f">= {TARGET_SHARE_LOWER_RMSE:.0%}",
            verdict(share >= TARGET_SHARE_LOWER_RMSE),
        ],
        [
            "all",
            "share of data sets with ensemble mean RMSE <= MLPRegressor()'s",
            f"{len(not_worse)}/{len(summaries)} = {share_not_worse:.0%}",
            "100%",
            verdict(len(not_worse) == len(summaries)),
        ],
    ]
    close = [
        name
        for name, s in summaries.items()
        if s["best_baseline_ratio"] <= TARGET_BEST_BASELINE_RATIO
    ]
    rows.append(
        [
            "all",
            "share of data sets with mean RMSE within 5% of the best of MLP,"
            " HGB and Ridge",
            f"{len(close)}/{len(summaries)} = {len(close) / len(summaries):.0%}",
            f">= {TARGET_SHARE_CLOSE_TO_BEST:.0%}",
            verdict(len(close) >= TARGET_SHARE_CLOSE_TO_BEST * len(summaries)),
        ]
    )
    report.table(["data set", "check", "value", "target", "result"], rows)
    failed = sum(row[-1] == "FAIL" for row in rows)
    report.line(
        f"{len(rows) - failed} of {len(rows)} checks pass"
        + (f"; {failed} fail." if failed else ".")
    )

    if timing is not None:
        add_timing(report, timing)
    return report


def report_divergences(report, by_dataset, method, what):
    """A line counting, per data set, the diverged fits ``method`` recorded
    (``"diverged"``: a count, or True for one fit); nothing if there were none."""
    counts = {
        name: sum(int(run["methods"][method].get("diverged", 0)) for run in group)
        for name, group in by_dataset.items()
    }
    if any(counts.values()):
        report.line(
            f"{what}: "
            + ", ".join(f"{name} {count}" for name, count in counts.items() if count)
            + "."
        )


def add_timing(report, timing):
    report.heading("Fit time against MLPRegressor")
    report.line(
        f"{timing['rows_of_data']:,} rows of make_regression ({TIMING_FEATURES}"
        " features), features and targets standardised;"
        f" Dense({TIMING_HIDDEN[0]}), {timing['epochs']} epochs, random_state=0."
        " ours: SnapshotEnsembleRegressor with n_cycles as listed; MLP:"
        f" MLPRegressor(solver='sgd', momentum={TIMING_MOMENTUM},"
        f" learning_rate_init={timing['lr_max']}, tol=0,"
        f" n_iter_no_change={timing['epochs'] + 1}, early_stopping=False), all"
        f" {timing['epochs']} epochs. Median of {timing['repeats']} fits each; ours"
        " warmed up first. Ratio above 1: skl_snapshot is slower."
    )
    report.table(
        ["batch", "n_cycles", "ours s", "MLP s", "ratio ours / MLP"],
        [
            [
                row["batch_size"],
                row["n_cycles"],
                f"{row['ours_seconds']:.2f}",
                f"{row['mlp_seconds']:.2f}",
                f"{row['ours_seconds'] / row['mlp_seconds']:.2f}x",
            ]
            for row in timing["results"]
        ],
    )


def report_from_record(record):
    """The report of a record of ``meta``, ``runs`` and ``timing``, as --raw saves."""
    return build_report(
        record["meta"],
        record["runs"],
        record["meta"].get("warm_up_seconds"),
        record.get("timing"),
    )


# -- main -------------------------------------------------------------------------


def positive_int(text):
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1. Got {number}.")
    return number


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
        help="SnapshotEnsembleRegressor parameters as a JSON object (default: {},"
        ' the library defaults), e.g. \'{"epochs": 100, "n_cycles": 5}\'',
    )
    parser.add_argument(
        "--timing-epochs",
        type=positive_int,
        default=20,
        metavar="E",
        help="epochs of every fit of the timing part (default: 20)",
    )
    parser.add_argument(
        "--timing-repeats",
        type=positive_int,
        default=3,
        metavar="N",
        help="fits per method in the timing part, of which the median (default: 3)",
    )
    parser.add_argument("--no-timing", action="store_true", help="skip the timing part")
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
            report_from_record(json.load(handle)).emit(args.output)
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
                    f"{method} {result['rmse']:.4g}/{result['r2']:.3f}"
                    for method, result in run["methods"].items()
                )
                + f" (RMSE/R²; {time.perf_counter() - run_start:.1f} s)",
                flush=True,
            )
    meta["minutes"] = (time.perf_counter() - start) / 60
    meta["warm_up_seconds"] = warm_up_seconds

    timing = None
    if not args.no_timing:
        timing = run_timing(args.timing_epochs, args.timing_repeats)

    # the report reads the record as --raw writes it (tuples become lists), so
    # that --report-from rebuilds the same report
    record = json.loads(
        json.dumps({"meta": meta, "runs": runs, "timing": timing}, default=repr)
    )
    if args.raw:
        with open(args.raw, "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=1)
        print(f"Raw results written to {args.raw}")
    print()
    report_from_record(record).emit(args.output)


if __name__ == "__main__":
    main()
