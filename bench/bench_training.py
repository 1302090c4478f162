"""Training cost and accuracy of skl_snapshot against the other ways to do it.

Four parts, side by side in one run, every comparison given as a ratio
against ``SnapshotEnsembleClassifier`` ("ours"):

workloads
    Two workloads, fitted over several seeds by five methods; the median fit
    seconds, their ratio to ours and the median test accuracy:

    - the reference workload of :mod:`skl_snapshot._reference` (``make_blobs``,
      100 training and 1000 test rows, Dense(50), 500 epochs in 10 cycles,
      ``lr_max=0.01``);
    - ``load_digits``, standardised with a scaler fitted on the training half of
      a stratified half split, Dense(100), 100 epochs in 5 cycles,
      ``lr_max=0.1``.

    Batch 32 and SGD with momentum 0.9 throughout. The methods:

    ours
        ``SnapshotEnsembleClassifier`` with those settings.
    tutorial
        Plain Keras as the snapshot-ensemble tutorials write it: one
        ``model.fit`` with a Python callback that sets the cosine rate at every
        epoch and copies the weights at every cycle end (the callback of
        ``bench_reference.py``); the snapshots' probabilities are averaged.
    scikeras
        ``scikeras.wrappers.KerasClassifier`` around the same network: one network
        at the constant rate ``lr_max``, as a scikeras user would train it.
    MLPClassifier
        scikit-learn's, with the same hidden layer, ``solver="sgd"``, the
        constant rate ``lr_max``, and no early stopping.
    independent networks
        The full-cost ensemble: M = ``n_cycles`` networks, each a
        ``SnapshotEnsembleClassifier(n_cycles=1)`` of the whole epoch budget (one
        annealed network) with its own seed, their probabilities averaged.

    Timed: building and fitting (the tutorial's network is built and compiled
    inside the timed span, as the other methods do inside ``fit``). Before
    timing, every method is fitted once on each workload on a tiny budget, so
    that TensorFlow's one-off start-up cost falls on none of them.
scaling
    Seconds per epoch against the number of rows (1e3 to 1e6 of
    ``make_classification`` with 20 features), Dense(100), batch 32 and 256, ours
    (``n_cycles=1``, ``lr_max=0.01``) against ``MLPClassifier`` (sgd, momentum
    0.9, the same rate). Per-epoch cost is (seconds of a 3-epoch fit - seconds
    of a 1-epoch fit) / 2, so that the fixed costs (validation, building,
    tracing) cancel; each fit time is the median of a few repeats. On fewer than
    1e5 rows the long fit has more epochs, so that its extra epochs cover 2e5
    rows (1 against 201 epochs on 1e3 rows, 1 against 21 on 1e4): two epochs
    of 1e3 rows take less time than the fixed costs jitter.
memory
    Peak resident memory (``getrusage`` ``ru_maxrss``) of a fit on 1e5 rows x 20
    features (Dense(100), 10 epochs, 5 cycles, batch 32) and of
    ``predict_proba`` on 1e6 rows, ours against ``MLPClassifier`` (10 epochs).
    Each runs in its own fresh process (this script, called again with
    ``--child``) that reads its peak RSS after the imports and the input data,
    and again at the end.

first fit
    The reference workload's fit in a fresh process, after the imports: ours
    then compiles its training function (later fits of the same architecture in
    the process share it), while MLPClassifier has nothing to compile. Each fit
    runs in its own child process, several times; the medians and their ratio.

Run it from the repository root (about ten minutes on two CPU cores; the
1e6-row epochs at batch 32 take most of the scaling part)::

    python bench/bench_training.py
    python bench/bench_training.py --seeds 0 --max-rows 100000 --output training.md
"""

import argparse
import json
import math
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import sklearn
from _report import Report
from bench_memory import cpu_model, peak_rss_bytes
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

# TensorFlow, Keras, scikeras and skl_snapshot are imported inside the functions
# that use them, so that the MLPClassifier memory children hold only what a
# scikit-learn user would load, and this process stays small while it launches
# the memory children (see memory_results).

MOMENTUM = 0.9
WARM_UP_BUDGET = {"epochs": 2, "n_cycles": 2}

WORKLOADS = {
    "reference": {
        "title": "Reference workload (make_blobs, 3 classes, 100 train / 1000 test)",
        "hidden": 50,
        "epochs": 500,
        "n_cycles": 10,
        "lr_max": 0.01,
        "batch_size": 32,
    },
    "digits": {
        "title": "Digits (load_digits standardised, stratified half split)",
        "hidden": 100,
        "epochs": 100,
        "n_cycles": 5,
        "lr_max": 0.1,
        "batch_size": 32,
    },
}

SCALING_ROWS = (1_000, 10_000, 100_000, 1_000_000)
SCALING_BATCHES = (32, 256)
SCALING_HIDDEN = 100
SCALING_LR = 0.01
SCALING_REPEATS = 3
SCALING_EXTRA_ROWS = 200_000

MEMORY_FIT_ROWS = 100_000
MEMORY_PREDICT_ROWS = 1_000_000
MEMORY_SETTINGS = {"hidden": 100, "epochs": 10, "n_cycles": 5, "batch_size": 32}
MEMORY_LR = 0.01
MEMORY_TASKS = {
    "ours_fit": ("fit", "skl_snapshot"),
    "ours_predict": ("predict_proba", "skl_snapshot"),
    "mlp_fit": ("fit", "MLPClassifier"),
    "mlp_predict": ("predict_proba", "MLPClassifier"),
}
MB = 1024 * 1024
FIRST_FIT_TASKS = ("first_fit_ours", "first_fit_mlp")
FIRST_FIT_REPEATS = 3


# -- data -----------------------------------------------------------------------


def load_workload(name):
    """``(X_train, y_train, X_test, y_test)`` of a workload."""
    if name == "reference":
        from skl_snapshot._reference import load_reference_data

        return load_reference_data()
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.5, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), y_train, scaler.transform(X_test), y_test


def accuracy_of_mean(probas, classes, y):
    """Accuracy of soft voting: the mean of the probabilities, then argmax."""
    predicted = classes[np.mean(probas, axis=0).argmax(axis=1)]
    return float(np.mean(predicted == y))


# -- the five methods -----------------------------------------------------------
# Each fits on (X_train, y_train) with the settings of a workload and returns the
# seconds of its fit and its accuracy on (X_test, y_test).


def ours_classifier(settings, seed, **overrides):
    from skl_snapshot import SnapshotEnsembleClassifier

    params = {
        "hidden_layer_sizes": (settings["hidden"],),
        "epochs": settings["epochs"],
        "n_cycles": settings["n_cycles"],
        "lr_max": settings["lr_max"],
        "momentum": MOMENTUM,
        "batch_size": settings["batch_size"],
        "random_state": seed,
    }
    return SnapshotEnsembleClassifier(**{**params, **overrides})


def run_ours(data, settings, seed):
    X_train, y_train, X_test, y_test = data
    classifier = ours_classifier(settings, seed)
    start = time.perf_counter()
    classifier.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return seconds, classifier.score(X_test, y_test)


def keras_network(n_features, hidden, n_classes):
    import keras

    return keras.Sequential(
        [
            keras.Input((n_features,)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(n_classes, activation="softmax"),
        ]
    )


def run_tutorial(data, settings, seed):
    import keras
    from bench_reference import SnapshotEnsembleCallback, tutorial_accuracies

    X_train, y_train, X_test, y_test = data
    keras.utils.set_random_seed(seed)
    callback = SnapshotEnsembleCallback(
        settings["epochs"] // settings["n_cycles"], settings["lr_max"]
    )
    start = time.perf_counter()
    model = keras_network(X_train.shape[1], settings["hidden"], len(np.unique(y_train)))
    model.compile(
        optimizer=keras.optimizers.SGD(
            learning_rate=settings["lr_max"], momentum=MOMENTUM
        ),
        loss="sparse_categorical_crossentropy",
    )
    model.fit(
        X_train,
        y_train,
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        verbose=0,
        callbacks=[callback],
    )
    seconds = time.perf_counter() - start
    # the last entry: the ensemble of all the snapshots
    accuracy = tutorial_accuracies(model, callback.snapshots, X_test, y_test)[-1]
    return seconds, accuracy


def scikeras_network(meta, hidden_units):
    """scikeras model builder: the same network, with a softmax output."""
    return keras_network(meta["n_features_in_"], hidden_units, meta["n_classes_"])


def run_scikeras(data, settings, seed):
    import keras
    from scikeras.wrappers import KerasClassifier

    X_train, y_train, X_test, y_test = data
    classifier = KerasClassifier(
        model=scikeras_network,
        model__hidden_units=settings["hidden"],
        loss="sparse_categorical_crossentropy",
        optimizer=keras.optimizers.SGD,
        optimizer__learning_rate=settings["lr_max"],
        optimizer__momentum=MOMENTUM,
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        verbose=0,
        random_state=seed,
    )
    # scikeras 0.13 predates scikit-learn 1.9: keep whatever it may warn about
    # (deprecations, tags) out of the report
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        classifier.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        accuracy = classifier.score(X_test, y_test)
    return seconds, accuracy


def mlp_classifier(hidden, epochs, lr, batch_size, seed):
    """MLPClassifier by SGD at a constant rate for exactly ``epochs`` epochs."""
    return MLPClassifier(
        hidden_layer_sizes=(hidden,),
        solver="sgd",
        momentum=MOMENTUM,
        learning_rate_init=lr,
        batch_size=batch_size,
        max_iter=epochs,
        n_iter_no_change=epochs + 1,
        tol=0,
        early_stopping=False,
        random_state=seed,
    )


def fit_mlp(classifier, X, y):
    with warnings.catch_warnings():
        # max_iter is the epoch budget here, not a convergence failure
        warnings.simplefilter("ignore", ConvergenceWarning)
        return classifier.fit(X, y)


def run_mlp(data, settings, seed):
    X_train, y_train, X_test, y_test = data
    classifier = mlp_classifier(
        settings["hidden"],
        settings["epochs"],
        settings["lr_max"],
        settings["batch_size"],
        seed,
    )
    start = time.perf_counter()
    fit_mlp(classifier, X_train, y_train)
    seconds = time.perf_counter() - start
    return seconds, classifier.score(X_test, y_test)


def run_independent(data, settings, seed):
    X_train, y_train, X_test, y_test = data
    members = []
    start = time.perf_counter()
    for index in range(settings["n_cycles"]):
        classifier = ours_classifier(settings, seed * 100 + index, n_cycles=1)
        members.append(classifier.fit(X_train, y_train))
    seconds = time.perf_counter() - start
    probas = [member.predict_proba(X_test) for member in members]
    return seconds, accuracy_of_mean(probas, members[0].classes_, y_test)


METHODS = {
    "ours": run_ours,
    "tutorial": run_tutorial,
    "scikeras": run_scikeras,
    "mlp": run_mlp,
    "independent": run_independent,
}


def method_label(method, settings):
    n_cycles = settings["n_cycles"]
    return {
        "ours": f"skl_snapshot ({n_cycles} snapshots)",
        "tutorial": f"tutorial: Keras fit + callback ({n_cycles} snapshots)",
        "scikeras": "scikeras KerasClassifier (1 network)",
        "mlp": "MLPClassifier (1 network)",
        "independent": f"{n_cycles} independent annealed networks",
    }[method]


def compare_workload(name, seeds):
    """Fit every method for every seed; return the results and warm-up seconds."""
    settings = WORKLOADS[name]
    data = load_workload(name)
    start = time.perf_counter()
    for run in METHODS.values():
        run(data, {**settings, **WARM_UP_BUDGET}, seed=0)
    warm_up_seconds = time.perf_counter() - start

    results = {method: [] for method in METHODS}
    for seed in seeds:
        for method, run in METHODS.items():
            seconds, accuracy = run(data, settings, seed)
            results[method].append({"seconds": seconds, "accuracy": accuracy})
            print(
                f"{name}, seed {seed}: {method} {seconds:.2f} s,"
                f" accuracy {accuracy:.3f}",
                flush=True,
            )
    return results, warm_up_seconds


# -- scaling --------------------------------------------------------------------


def median_fit_seconds(fits):
    """Median seconds of each of several fit functions, called in turn."""
    times = [[] for _ in fits]
    for _ in range(SCALING_REPEATS):
        for fit, seconds in zip(fits, times, strict=True):
            start = time.perf_counter()
            fit()
            seconds.append(time.perf_counter() - start)
    return [statistics.median(seconds) for seconds in times]


def extra_epochs(n_rows):
    """Epochs the long fit runs beyond the 1-epoch fit: 2, or more on few rows.

    On 1e3 rows two epochs take milliseconds, less than the jitter of the fixed
    costs, and their difference comes out as noise (even negative); the extra
    epochs must cover SCALING_EXTRA_ROWS rows for the difference to stand out.
    """
    return max(2, math.ceil(SCALING_EXTRA_ROWS / n_rows))


def scaling_fits(X, y, batch_size, epochs):
    """Fit functions for ours and MLPClassifier, of 1 and ``epochs`` epochs."""

    def ours(n_epochs):
        def fit():
            ours_classifier(
                {
                    "hidden": SCALING_HIDDEN,
                    "epochs": n_epochs,
                    "n_cycles": 1,
                    "lr_max": SCALING_LR,
                    "batch_size": batch_size,
                },
                seed=0,
            ).fit(X, y)

        return fit

    def mlp(n_epochs):
        def fit():
            classifier = mlp_classifier(
                SCALING_HIDDEN, n_epochs, SCALING_LR, batch_size, seed=0
            )
            fit_mlp(classifier, X, y)

        return fit

    return [ours(1), ours(epochs), mlp(1), mlp(epochs)]


def scaling_rows(max_rows):
    X, y = make_classification(
        n_samples=1_000, n_features=20, n_informative=10, random_state=0
    )
    for fit in scaling_fits(X, y, batch_size=32, epochs=3):  # warm-up
        fit()

    rows = []
    for n_rows in [n for n in SCALING_ROWS if n <= max_rows]:
        X, y = make_classification(
            n_samples=n_rows, n_features=20, n_informative=10, random_state=0
        )
        extra = extra_epochs(n_rows)
        for batch_size in SCALING_BATCHES:
            ours_short, ours_long, mlp_short, mlp_long = median_fit_seconds(
                scaling_fits(X, y, batch_size, epochs=1 + extra)
            )
            ours = (ours_long - ours_short) / extra
            mlp = (mlp_long - mlp_short) / extra
            rows.append(
                {
                    "rows": n_rows,
                    "batch": batch_size,
                    "epochs": 1 + extra,
                    "ours": ours,
                    "mlp": mlp,
                }
            )
            print(
                f"scaling: {n_rows:,} rows, batch {batch_size}: ours {ours:.4f}"
                f" s/epoch, MLPClassifier {mlp:.4f} s/epoch",
                flush=True,
            )
    return rows


# -- memory, in fresh processes -------------------------------------------------


def write_memory_data(work_dir):
    """Save the fit and predict rows, for the children to load without copies."""
    X, y = make_classification(
        n_samples=MEMORY_FIT_ROWS + MEMORY_PREDICT_ROWS,
        n_features=20,
        n_informative=10,
        random_state=0,
    )
    np.save(os.path.join(work_dir, "X_fit.npy"), X[:MEMORY_FIT_ROWS])
    np.save(os.path.join(work_dir, "y_fit.npy"), y[:MEMORY_FIT_ROWS])
    np.save(os.path.join(work_dir, "X_predict.npy"), X[MEMORY_FIT_ROWS:])


def memory_child(task, work_dir):
    """Run one memory task in this (fresh) process; save what it measured."""
    if task == "data":
        write_memory_data(work_dir)
        return
    operation, side = MEMORY_TASKS[task]
    model_path = os.path.join(work_dir, f"model_{side}.pickle")
    if side == "skl_snapshot":
        import skl_snapshot  # noqa: F401  (the imports belong to the baseline)
    if operation == "fit":
        X = np.load(os.path.join(work_dir, "X_fit.npy"))
        y = np.load(os.path.join(work_dir, "y_fit.npy"))
        if side == "skl_snapshot":
            classifier = ours_classifier(
                {**MEMORY_SETTINGS, "lr_max": MEMORY_LR}, seed=0
            )
        else:
            classifier = mlp_classifier(
                MEMORY_SETTINGS["hidden"],
                MEMORY_SETTINGS["epochs"],
                MEMORY_LR,
                MEMORY_SETTINGS["batch_size"],
                seed=0,
            )
        baseline = peak_rss_bytes()
        start = time.perf_counter()
        if side == "skl_snapshot":
            classifier.fit(X, y)
        else:
            fit_mlp(classifier, X, y)
        seconds = time.perf_counter() - start
        peak = peak_rss_bytes()
        with open(model_path, "wb") as handle:
            pickle.dump(classifier, handle)
    else:
        X = np.load(os.path.join(work_dir, "X_predict.npy"))
        with open(model_path, "rb") as handle:
            classifier = pickle.load(handle)
        baseline = peak_rss_bytes()
        start = time.perf_counter()
        classifier.predict_proba(X)
        seconds = time.perf_counter() - start
        peak = peak_rss_bytes()
    result = {"baseline": baseline, "peak": peak, "seconds": seconds}
    with open(os.path.join(work_dir, f"result_{task}.json"), "w") as handle:
        json.dump(result, handle)


def run_memory_child(task, work_dir):
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        task,
        "--work-dir",
        work_dir,
    ]
    subprocess.run(command, check=True)


def memory_results():
    """Run every memory task in its own fresh process; return their results.

    Linux keeps a process's peak RSS across ``exec``, so a child's ``ru_maxrss``
    starts at the peak of the process that launched it. This one must therefore
    stay smaller than the children's baselines: it runs the memory part before
    loading TensorFlow or any large array, and leaves the data to a child too.
    """
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_training_") as work_dir:
        run_memory_child("data", work_dir)
        for task, (operation, side) in MEMORY_TASKS.items():
            launcher_peak = peak_rss_bytes()
            run_memory_child(task, work_dir)
            path = os.path.join(work_dir, f"result_{task}.json")
            with open(path, encoding="utf-8") as handle:
                result = results[task] = json.load(handle)
            print(
                f"memory: {side} {operation}: peak RSS"
                f" {(result['peak'] - result['baseline']) / MB:.1f} MB above the"
                f" baseline, {result['seconds']:.2f} s",
                flush=True,
            )
            if result["baseline"] <= launcher_peak:
                print(
                    f"WARNING: the {task} child's baseline"
                    f" ({result['baseline'] / MB:.1f} MB) is not above the peak RSS"
                    f" of the process that launched it ({launcher_peak / MB:.1f}"
                    " MB): its ru_maxrss may be the inherited one, not its own.",
                    flush=True,
                )
    return results


# -- the first fit in a fresh process ----------------------------------------------


def first_fit_child(task, work_dir):
    """Fit the reference workload once in this (fresh) process; save the seconds."""
    settings = WORKLOADS["reference"]
    if task == "first_fit_ours":
        import skl_snapshot  # noqa: F401  (imports are not part of the fit)

        run = run_ours
    else:
        run = run_mlp
    data = load_workload("reference")
    seconds, accuracy = run(data, settings, seed=0)
    with open(os.path.join(work_dir, f"result_{task}.json"), "w") as handle:
        json.dump({"seconds": seconds, "accuracy": accuracy}, handle)


def first_fit_results():
    """Each first-fit task FIRST_FIT_REPEATS times, alternating, in fresh processes."""
    results = {task: [] for task in FIRST_FIT_TASKS}
    with tempfile.TemporaryDirectory(prefix="bench_training_") as work_dir:
        for _ in range(FIRST_FIT_REPEATS):
            for task in FIRST_FIT_TASKS:
                run_memory_child(task, work_dir)
                path = os.path.join(work_dir, f"result_{task}.json")
                with open(path, encoding="utf-8") as handle:
                    results[task].append(json.load(handle)["seconds"])
                print(f"{task}: {results[task][-1]:.2f} s", flush=True)
    return results


# -- report ---------------------------------------------------------------------


def versions():
    import keras
    import scikeras
    import tensorflow as tf

    import skl_snapshot

    return {
        "Python": platform.python_version(),
        "TensorFlow": tf.__version__,
        "Keras": keras.__version__,
        "scikit-learn": sklearn.__version__,
        "scikeras": scikeras.__version__,
        "NumPy": np.__version__,
        "skl_snapshot": skl_snapshot.__version__,
    }


def median_of(runs, key):
    return statistics.median(run[key] for run in runs)


def build_report(seeds, workloads, scaling, memory, first_fits):
    report = Report()
    report.line("Training: skl_snapshot against the tutorial, scikeras, MLPClassifier")
    report.line(
        f"{platform.platform()}, {cpu_model()}, {os.cpu_count()} CPUs; "
        + ", ".join(f"{name} {version}" for name, version in versions().items())
        + "."
    )
    report.line("Ratios are against skl_snapshot; seconds are wall-clock.")

    for name, (results, warm_up_seconds) in workloads.items():
        settings = WORKLOADS[name]
        report.heading(settings["title"])
        report.line(
            f"Dense({settings['hidden']}), {settings['epochs']} epochs,"
            f" {settings['n_cycles']} cycles, lr_max={settings['lr_max']}, momentum"
            f" {MOMENTUM}, batch {settings['batch_size']}. Medians over seeds"
            f" {', '.join(map(str, seeds))}. Warm-up: each method was fitted once"
            f" on a budget of {WARM_UP_BUDGET['epochs']} epochs before timing"
            f" ({warm_up_seconds:.1f} s in all, not counted)."
        )
        report.line(
            "scikeras and MLPClassifier train one network at the constant rate"
            " lr_max; the ensembles average their members' probabilities."
        )
        ours = median_of(results["ours"], "seconds")
        report.table(
            ["method", "median fit s", "ratio / ours", "median accuracy"],
            [
                [
                    method_label(method, settings),
                    f"{median_of(runs, 'seconds'):.2f}",
                    f"{median_of(runs, 'seconds') / ours:.2f}x",
                    f"{median_of(runs, 'accuracy'):.3f}",
                ]
                for method, runs in results.items()
            ],
        )

    report.heading("First fit in a fresh process (reference workload)")
    report.line(
        "One fit of the reference workload, timed after the imports, in a fresh"
        f" process each time; medians of {FIRST_FIT_REPEATS} processes. Ours"
        " compiles its training function in this fit, which later fits of the same"
        " architecture in the process reuse; the table above times those."
    )
    ours_first = statistics.median(first_fits["first_fit_ours"])
    mlp_first = statistics.median(first_fits["first_fit_mlp"])
    report.table(
        ["method", "median first fit s", "each", "ratio / ours"],
        [
            [
                label,
                f"{statistics.median(first_fits[task]):.2f}",
                ", ".join(f"{seconds:.2f}" for seconds in first_fits[task]),
                f"{statistics.median(first_fits[task]) / ours_first:.2f}x",
            ]
            for label, task in (
                ("skl_snapshot (10 snapshots)", "first_fit_ours"),
                ("MLPClassifier (1 network)", "first_fit_mlp"),
            )
        ],
    )
    report.line(f"ratio MLPClassifier / ours: {mlp_first / ours_first:.2f}x")

    report.heading("Seconds per epoch against rows")
    report.line(
        f"make_classification, 20 features (10 informative), 2 classes;"
        f" Dense({SCALING_HIDDEN}), lr {SCALING_LR}, momentum {MOMENTUM}. ours:"
        " SnapshotEnsembleClassifier(n_cycles=1); MLP: MLPClassifier(solver='sgd')."
        " Per epoch: (fit s of E epochs - fit s of 1 epoch) / (E - 1), so that fixed"
        " costs cancel; E = 3, or more on fewer rows so that the E - 1 epochs cover"
        f" {SCALING_EXTRA_ROWS:,} rows. Each fit s is the median of"
        f" {SCALING_REPEATS} fits. Ratio above 1: skl_snapshot is faster."
    )
    report.table(
        ["rows", "batch", "E", "ours s/epoch", "MLP s/epoch", "ratio MLP / ours"],
        [
            [
                f"{row['rows']:,}",
                row["batch"],
                row["epochs"],
                f"{row['ours']:.4f}",
                f"{row['mlp']:.4f}",
                f"{row['mlp'] / row['ours']:.2f}x",
            ]
            for row in scaling
        ],
    )

    report.heading("Peak memory of fit and predict_proba")
    memory_settings = MEMORY_SETTINGS
    report.line(
        f"fit: {MEMORY_FIT_ROWS:,} rows x 20 features,"
        f" Dense({memory_settings['hidden']}), {memory_settings['epochs']} epochs"
        f" (skl_snapshot in {memory_settings['n_cycles']} cycles, so"
        f" {memory_settings['n_cycles']} members), lr {MEMORY_LR}, batch"
        f" {memory_settings['batch_size']}; predict_proba:"
        f" {MEMORY_PREDICT_ROWS:,} rows of float64 with the fitted model."
    )
    report.line(
        "Each in its own fresh process; baseline: peak RSS (getrusage ru_maxrss)"
        " after the imports, the input rows and, for predict_proba, the unpickled"
        " model. MB of 2**20 bytes."
    )
    rows = []
    for task, (operation, side) in MEMORY_TASKS.items():
        result = memory[task]
        extra = result["peak"] - result["baseline"]
        ours_result = memory[f"ours_{task.split('_')[1]}"]
        ours_extra = ours_result["peak"] - ours_result["baseline"]
        rows.append(
            [
                operation,
                side,
                f"{result['baseline'] / MB:.1f}",
                f"{result['peak'] / MB:.1f}",
                f"{extra / MB:.1f}",
                f"{extra / ours_extra:.2f}x",
                f"{result['seconds']:.2f}",
            ]
        )
    report.table(
        [
            "operation",
            "method",
            "baseline MB",
            "peak MB",
            "peak - baseline MB",
            "ratio / ours",
            "seconds",
        ],
        rows,
    )
    return report


# -- main -----------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0, 1, 2],
        help="random seeds, one fit per method each (default: 0 1 2)",
    )
    parser.add_argument(
        "--max-rows",
        type=int,
        default=1_000_000,
        help="largest number of rows of the scaling part (default: 1000000)",
    )
    parser.add_argument(
        "--output", metavar="FILE", help="also write the report as Markdown"
    )
    parser.add_argument(
        "--child",
        choices=["data", *MEMORY_TASKS, *FIRST_FIT_TASKS],
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--work-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child in FIRST_FIT_TASKS:
        first_fit_child(args.child, args.work_dir)
        return
    if args.child:
        memory_child(args.child, args.work_dir)
        return

    # memory first, while this process is small (see memory_results)
    memory = memory_results()
    first_fits = first_fit_results()
    workloads = {name: compare_workload(name, args.seeds) for name in WORKLOADS}
    scaling = scaling_rows(args.max_rows)

    report = build_report(args.seeds, workloads, scaling, memory, first_fits)
    print()
    report.emit(args.output)


if __name__ == "__main__":
    main()
