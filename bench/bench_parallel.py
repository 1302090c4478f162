"""Wall time of a parallel grid search: serial against joblib's loky and Dask.

A ``GridSearchCV`` of ``SnapshotEnsembleClassifier`` on the reference workload
of :mod:`skl_snapshot._reference` (``make_blobs``, the 100 training rows;
Dense(50, relu) then a softmax; SGD with momentum 0.9, batch 32; 500 epochs),
``random_state=0``, over ``lr_max`` in 0.005, 0.01, 0.02, 0.05 and ``n_cycles``
in 5, 10: 8 candidates of the same architecture, ``cv=3`` (24 fits),
``scoring="neg_log_loss"``, ``refit=False`` (the final refit on all the rows
would run in this process whatever the backend, adding the same serial time to
every side). The same search runs, side by side in one run, on three backends:

serial
    ``n_jobs=1``: every fit in this process, with TensorFlow's default threads.
loky
    ``n_jobs=2`` with joblib's default loky backend: two worker processes.
dask
    ``n_jobs=-1`` inside ``joblib.parallel_backend("dask")``, with a ``Client``
    on a ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``.

For each backend, the first ("cold") search pays the one-off costs: new worker
processes import TensorFlow (about 6 s each) and the first fit of the
architecture in a process compiles its training function (about 1 s). This
process has imported TensorFlow before any search starts, as a user's script
has by the time it builds the estimator, so the serial cold search pays only
the compilation. Dask's cold time includes starting the cluster and its client
(also reported alone): Dask spawns its workers, which import this script, and
so TensorFlow, as they start; loky's workers import TensorFlow in the first
search. Starting the cluster also writes ``OMP_NUM_THREADS=1`` (with the rest
of distributed's ``pre-spawn-environ`` and a few variables of its own) into this
process's own environment, which would bound this process's TensorFlow to one
thread at its first fit; the script puts the environment back at once and says
so in the report. Then ``--repeats`` further ("warm") searches reuse the same
workers (joblib keeps its loky executor between calls; the Dask cluster stays
open), in rounds that rotate the order of the backends so that load from other
processes hits them alike; the report gives their median.

The report gives cold and warm median seconds, the speed-up over serial (serial
warm / parallel warm, serial cold / parallel cold), and whether every search's
``cv_results_["mean_test_score"]`` is identical to the serial cold search's
(``np.array_equal`` and the largest absolute difference). It also reports the
thread budget each worker got: joblib and Dask give a worker its share of the
machine in ``OMP_NUM_THREADS``, and the library bounds TensorFlow's threads from
it (or from ``SKL_SNAPSHOT_TF_THREADS``) at the first fit in a process; for each
worker it shows those variables, ``tensorflow_thread_budget()`` and TensorFlow's
intra- and inter-op thread counts, read after a small fit in that worker.

Run it from the repository root (several minutes on two CPU cores: 3 backends x
(1 + repeats) searches of 24 fits)::

    python bench/bench_parallel.py
    python bench/bench_parallel.py --epochs 20 --repeats 1  # a quick check
"""

import argparse
import logging
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import dask
import distributed
import joblib
import keras
import numpy as np
import sklearn
import tensorflow as tf
from _report import Report
from bench_memory import cpu_model
from distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV, ParameterGrid

from skl_snapshot._parallel import THREADS_VARIABLE, tensorflow_thread_budget
from skl_snapshot._reference import (
    REFERENCE_PARAMS,
    load_reference_data,
    reference_classifier,
)

PARAM_GRID = {"lr_max": [0.005, 0.01, 0.02, 0.05], "n_cycles": [5, 10]}
CV = 3
SCORING = "neg_log_loss"
SEED = 0
N_WORKERS = 2
#: Seconds an idle loky worker waits before exiting (joblib's default is 300):
#: long enough that the warm searches always find the cold search's workers.
LOKY_IDLE_SECONDS = 3600


# -- backends -------------------------------------------------------------------


class Backend:
    """A way to run the search: its name, ``n_jobs`` and joblib configuration."""

    def __init__(self, name, label, n_jobs, workers, configure):
        self.name = name
        self.label = label
        self.n_jobs = n_jobs
        self.workers = workers
        self.configure = configure


BACKENDS = (
    Backend(
        "serial",
        "serial (n_jobs=1, this process)",
        1,
        1,
        lambda: joblib.parallel_config(backend="sequential"),
    ),
    Backend(
        "loky",
        f"joblib loky (n_jobs={N_WORKERS})",
        N_WORKERS,
        N_WORKERS,
        lambda: joblib.parallel_config(
            backend="loky", idle_worker_timeout=LOKY_IDLE_SECONDS
        ),
    ),
    Backend(
        "dask",
        f"Dask LocalCluster ({N_WORKERS} workers x 1 thread, n_jobs=-1)",
        -1,
        N_WORKERS,
        lambda: joblib.parallel_backend("dask"),
    ),
)


def timed_search(backend, X, y, epochs):
    """Seconds of one grid search and its mean test scores."""
    search = GridSearchCV(
        reference_classifier(epochs=epochs, random_state=SEED),
        PARAM_GRID,
        cv=CV,
        scoring=SCORING,
        n_jobs=backend.n_jobs,
        refit=False,
    )
    with backend.configure():
        start = time.perf_counter()
        search.fit(X, y)
        seconds = time.perf_counter() - start
    return seconds, np.array(search.cv_results_["mean_test_score"])


def worker_threads(X, y):
    """This process's thread settings, read after a small fit in it."""
    reference_classifier(epochs=2, n_cycles=1, random_state=SEED).fit(X, y)
    threading_config = tf.config.threading
    return {
        "pid": os.getpid(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        THREADS_VARIABLE: os.environ.get(THREADS_VARIABLE),
        "budget": tensorflow_thread_budget(),
        "intra_op": threading_config.get_intra_op_parallelism_threads(),
        "inter_op": threading_config.get_inter_op_parallelism_threads(),
    }


def thread_settings(backend, X, y, client):
    """worker_threads of each distinct worker process of ``backend``."""
    if backend.name == "serial":
        found = [worker_threads(X, y)]
    elif backend.name == "dask":
        addresses = list(client.scheduler_info()["workers"])
        futures = [
            client.submit(worker_threads, X, y, workers=[address], pure=False)
            for address in addresses
        ]
        found = client.gather(futures)
    else:
        with backend.configure():
            found = joblib.Parallel(n_jobs=backend.n_jobs)(
                joblib.delayed(worker_threads)(X, y) for _ in range(2 * N_WORKERS)
            )
    return list({settings["pid"]: settings for settings in found}.values())


def restore_environment(saved):
    """Set ``os.environ`` back to ``saved``; return the variables that differed.

    distributed's nanny writes its ``pre-spawn-environ`` variables
    (``OMP_NUM_THREADS=1``, ...) into the environment of the process that
    starts the cluster, not only into its workers'. Left there, this process's
    first fit would bound its own TensorFlow to one thread and the serial
    search would not run with TensorFlow's defaults.
    """
    changed = {
        name: os.environ.get(name)
        for name in set(saved) | set(os.environ)
        if os.environ.get(name) != saved.get(name)
    }
    os.environ.clear()
    os.environ.update(saved)
    return changed


# -- report ---------------------------------------------------------------------


def score_agreement(runs, reference):
    """Whether every run's scores equal ``reference`` exactly; largest |diff|."""
    identical = all(np.array_equal(run["scores"], reference) for run in runs)
    difference = max(float(np.max(np.abs(run["scores"] - reference))) for run in runs)
    return identical, difference


def build_report(args, results, cluster_seconds, changed, threads):
    serial = results["serial"]
    serial_cold = serial["cold"]["seconds"]
    serial_warm = statistics.median(run["seconds"] for run in serial["warm"])
    reference_scores = serial["cold"]["scores"]
    n_candidates = len(PARAM_GRID["lr_max"]) * len(PARAM_GRID["n_cycles"])

    report = Report()
    report.line(
        "GridSearchCV of SnapshotEnsembleClassifier on the reference workload:"
        " serial vs joblib loky vs Dask"
    )
    report.line(
        f"{n_candidates} candidates (lr_max {PARAM_GRID['lr_max']} x n_cycles"
        f" {PARAM_GRID['n_cycles']}) x {CV} folds = {n_candidates * CV} fits of"
        f" {args.epochs} epochs; Dense(50), batch {REFERENCE_PARAMS['batch_size']},"
        f" 100 training rows; scoring={SCORING}, refit=False,"
        f" random_state={SEED}."
    )
    report.line(
        f"Python {platform.python_version()}, TensorFlow {tf.__version__},"
        f" Keras {keras.__version__}, scikit-learn {sklearn.__version__},"
        f" joblib {joblib.__version__}, Dask {dask.__version__},"
        f" distributed {distributed.__version__}; {cpu_model()},"
        f" os.cpu_count() = {os.cpu_count()}."
    )
    report.line(
        f"Warm: median of {args.repeats} searches after the cold one, same workers."
        f" Dask's cold time includes starting the LocalCluster and Client"
        f" ({cluster_seconds:.1f} s)."
    )
    if changed:
        settings = ", ".join(
            f"{name}={value}" for name, value in sorted(changed.items())
        )
        report.line(
            f"Starting the LocalCluster set {settings} in this process's own"
            " environment (distributed's nanny sets them before it spawns a"
            " worker); the script restored it at once, so that the serial search"
            " runs with TensorFlow's default threads."
        )

    report.heading("Wall time of the search (seconds)")
    rows = []
    for backend in BACKENDS:
        result = results[backend.name]
        cold = result["cold"]["seconds"]
        warm = [run["seconds"] for run in result["warm"]]
        identical, difference = score_agreement(
            [result["cold"], *result["warm"]], reference_scores
        )
        rows.append(
            [
                backend.label,
                f"{cold:.2f}",
                f"{statistics.median(warm):.2f}",
                " ".join(f"{seconds:.2f}" for seconds in warm),
                f"{serial_warm / statistics.median(warm):.2f}x",
                f"{serial_cold / cold:.2f}x",
                "yes" if identical else "no",
                f"{difference:.2e}",
            ]
        )
    report.table(
        [
            "backend",
            "cold",
            "warm median",
            "warm runs",
            "speed-up warm",
            "speed-up cold",
            "scores identical",
            "max abs diff",
        ],
        rows,
    )
    report.line()
    report.line(
        "Speed-up: serial seconds / this backend's (warm over warm, cold over"
        " cold). Scores: every search's mean_test_score against the serial cold"
        " search's (np.array_equal; largest absolute difference)."
    )

    report.heading("Thread budget of each worker, after a fit in it")
    rows = [
        [
            backend.label,
            settings["pid"],
            settings["OMP_NUM_THREADS"] or "unset",
            settings[THREADS_VARIABLE] or "unset",
            settings["budget"],
            settings["intra_op"],
            settings["inter_op"],
        ]
        for backend in BACKENDS
        for settings in threads[backend.name]
    ]
    report.table(
        [
            "backend",
            "pid",
            "OMP_NUM_THREADS",
            THREADS_VARIABLE,
            "tensorflow_thread_budget()",
            "intra-op",
            "inter-op",
        ],
        rows,
    )
    report.line()
    report.line(
        "Intra- and inter-op threads as tf.config.threading reports them;"
        " 0 is TensorFlow's default (sized to the whole machine)."
    )

    report.heading(f"Mean test score ({SCORING}) of each candidate, cold searches")
    rows = [
        [params["lr_max"], params["n_cycles"]]
        + [f"{results[b.name]['cold']['scores'][i]:.6f}" for b in BACKENDS]
        # the order of cv_results_
        for i, params in enumerate(ParameterGrid(PARAM_GRID))
    ]
    report.table(["lr_max", "n_cycles", *(b.name for b in BACKENDS)], rows)
    return report


# -- main -----------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="warm searches per backend after the cold one (default: 3)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=REFERENCE_PARAMS["epochs"],
        help="epochs of every fit (default: the reference workload's"
        f" {REFERENCE_PARAMS['epochs']}; fewer for a quick check)",
    )
    parser.add_argument(
        "--output", metavar="FILE", help="also write the report as Markdown"
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1. Got --repeats {args.repeats}.")
    if args.epochs < max(PARAM_GRID["n_cycles"]):
        parser.error(
            "--epochs must be at least the largest n_cycles of the grid,"
            f" {max(PARAM_GRID['n_cycles'])}. Got --epochs {args.epochs}."
        )

    X, y, _, _ = load_reference_data()
    results = {backend.name: {"warm": []} for backend in BACKENDS}

    environment = dict(os.environ)
    start = time.perf_counter()
    with (
        LocalCluster(
            n_workers=N_WORKERS,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        cluster_seconds = time.perf_counter() - start
        changed = restore_environment(environment)

        for backend in BACKENDS:
            seconds, scores = timed_search(backend, X, y, args.epochs)
            if backend.name == "dask":
                seconds += cluster_seconds
            results[backend.name]["cold"] = {"seconds": seconds, "scores": scores}
            print(f"{backend.name}: cold search {seconds:.2f} s", flush=True)

        for round_number in range(args.repeats):
            shift = round_number % len(BACKENDS)
            for backend in BACKENDS[shift:] + BACKENDS[:shift]:
                seconds, scores = timed_search(backend, X, y, args.epochs)
                results[backend.name]["warm"].append(
                    {"seconds": seconds, "scores": scores}
                )
                print(
                    f"{backend.name}: warm search {round_number + 1} {seconds:.2f} s",
                    flush=True,
                )

        threads = {
            backend.name: thread_settings(backend, X, y, client) for backend in BACKENDS
        }

    report = build_report(args, results, cluster_seconds, changed, threads)
    print()
    report.emit(args.output)


if __name__ == "__main__":
    main()
