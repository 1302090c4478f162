"""Peak memory of prediction with snapshots in memory against snapshots on disk.

A ``SnapshotEnsembleClassifier`` with large members is fitted once with a
``snapshot_dir``, then loaded back from that directory and asked for
``predict_proba`` in two ways:

in memory
    ``SnapshotEnsembleClassifier.from_snapshot_dir(d, in_memory=True)``: every
    snapshot's weights are read into NumPy arrays when the estimator is loaded.
on disk
    ``from_snapshot_dir(d, in_memory=False)``: the weights stay on disk and each
    member is read into the network when it votes.

Peak resident memory belongs to a process, so the fit and each variant run in
their own fresh Python process (this script, called again with ``--child``).
Each child reads its peak RSS (``resource.getrusage``) right after its imports,
before loading anything, and again at the end; the difference is what loading
and predicting cost. With M members of S MB each, the in-memory variant should
hold about M x S and the disk variant about S, a difference of (M - 1) x S; the
report gives it in members. Both variants also pay a cost that
does not grow with M: building the network (its variables and the initialisers'
temporaries), tracing the forward pass, the activations of the test rows, and
glibc's allocator keeping freed blocks. At the default sizes it is several
members' worth, so the ratio of the two costs grows with ``--members`` (about 2x
at 10 members, 4x at 20), while the disk variant's cost stays flat. The two
variants' probabilities are saved by the children and compared by this process.

The default workload: ``make_classification`` with 512 features (20
informative) and 3 classes, standardised, 256 training and 1024 test rows; a
network of two hidden layers of 2048 units (about 5.3 million parameters, 20 MB
in float32, a member; MB are 2**20 bytes throughout); 10 epochs in 10 cycles,
so 10 members, batch 256, ``lr_max=0.01``. The training is short on purpose:
the members' size matters here, not their accuracy.

Run it from the repository root (under a minute on two CPU cores)::

    python bench/bench_memory.py
    python bench/bench_memory.py --members 20 --width 1024 --output memory.md
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from _report import Report

N_TRAIN = 256
N_TEST = 1024
N_FEATURES = 512
N_CLASSES = 3
BATCH_SIZE = 256
LR_MAX = 0.01
MB = 1024 * 1024

VARIANTS = {"in_memory": "in memory", "on_disk": "on disk"}


# -- measurements inside a child process ----------------------------------------


def peak_rss_bytes():
    """Peak resident memory of this process so far."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak if sys.platform == "darwin" else peak * 1024


def directory_bytes(path):
    return sum(
        os.path.getsize(os.path.join(path, name))
        for name in os.listdir(path)
        if os.path.isfile(os.path.join(path, name))
    )


def fit_child(work_dir, members, width):
    """Fit the ensemble into work_dir/snapshots; save the test rows."""
    import keras
    import sklearn
    import tensorflow as tf
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    import skl_snapshot
    from skl_snapshot import SnapshotEnsembleClassifier

    X, y = make_classification(
        n_samples=N_TRAIN + N_TEST,
        n_features=N_FEATURES,
        n_informative=20,
        n_classes=N_CLASSES,
        random_state=0,
    )
    X_train, y_train, X_test = X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:]
    scaler = StandardScaler().fit(X_train)
    X_train = scaler.transform(X_train).astype(np.float32)
    X_test = scaler.transform(X_test).astype(np.float32)
    np.save(os.path.join(work_dir, "X_test.npy"), X_test)

    snapshot_dir = os.path.join(work_dir, "snapshots")
    classifier = SnapshotEnsembleClassifier(
        hidden_layer_sizes=(width, width),
        epochs=members,
        n_cycles=members,
        batch_size=BATCH_SIZE,
        lr_max=LR_MAX,
        random_state=0,
        snapshot_dir=snapshot_dir,
        in_memory=False,
    )
    start = time.perf_counter()
    classifier.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start

    with open(os.path.join(snapshot_dir, "manifest.json"), encoding="utf-8") as file:
        manifest = json.load(file)
    snapshot_files = [record["file"] for record in manifest["snapshots"]]
    network = classifier._get_predictor().network
    return {
        "fit_seconds": fit_seconds,
        "n_snapshots": classifier.n_snapshots_,
        "n_parameters": int(network.count_params()),
        "member_bytes": int(sum(w.nbytes for w in network.get_weights())),
        "snapshot_file_bytes": [
            os.path.getsize(os.path.join(snapshot_dir, name)) for name in snapshot_files
        ],
        "directory_bytes": directory_bytes(snapshot_dir),
        "n_files": len(os.listdir(snapshot_dir)),
        "versions": {
            "Python": platform.python_version(),
            "TensorFlow": tf.__version__,
            "Keras": keras.__version__,
            "scikit-learn": sklearn.__version__,
            "NumPy": np.__version__,
            "skl_snapshot": skl_snapshot.__version__,
        },
    }


def predict_child(work_dir, variant):
    """Load the ensemble as ``variant`` and predict; measure RSS and time."""
    from skl_snapshot import SnapshotEnsembleClassifier

    X_test = np.load(os.path.join(work_dir, "X_test.npy"))
    after_imports = peak_rss_bytes()

    start = time.perf_counter()
    classifier = SnapshotEnsembleClassifier.from_snapshot_dir(
        os.path.join(work_dir, "snapshots"), in_memory=variant == "in_memory"
    )
    load_seconds = time.perf_counter() - start
    after_load = peak_rss_bytes()

    start = time.perf_counter()
    proba = classifier.predict_proba(X_test)
    predict_seconds = time.perf_counter() - start
    after_predict = peak_rss_bytes()

    np.save(os.path.join(work_dir, f"proba_{variant}.npy"), proba)
    return {
        "n_members": len(classifier._member_indices()),
        "load_seconds": load_seconds,
        "predict_seconds": predict_seconds,
        "after_imports": after_imports,
        "after_load": after_load,
        "after_predict": after_predict,
    }


def run_child(work_dir, task, members, width):
    """Run this script again as a fresh process for ``task``; return its result."""
    result_path = os.path.join(work_dir, f"result_{task}.json")
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        task,
        "--work-dir",
        work_dir,
        "--members",
        str(members),
        "--width",
        str(width),
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    wall_seconds = time.perf_counter() - start
    with open(result_path, encoding="utf-8") as file:
        result = json.load(file)
    result["wall_seconds"] = wall_seconds
    return result


def child_main(task, work_dir, members, width):
    if task == "fit":
        result = fit_child(work_dir, members, width)
    else:
        result = predict_child(work_dir, task)
    with open(os.path.join(work_dir, f"result_{task}.json"), "w") as file:
        json.dump(result, file)


# -- report ---------------------------------------------------------------------


def megabytes(n_bytes):
    return f"{n_bytes / MB:.1f}"


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def build_report(fit, results, max_abs_diff, allclose, width):
    report = Report()
    report.line("Peak memory of predict_proba: snapshots in memory vs on disk")
    member = fit["member_bytes"]
    report.line(
        f"{fit['n_snapshots']} members of Dense({width}) x 2 on {N_FEATURES} features,"
        f" {N_CLASSES} classes: {fit['n_parameters']:,} parameters,"
        f" {megabytes(member)} MB a member in float32,"
        f" {megabytes(member * fit['n_snapshots'])} MB for all of them."
    )
    report.line(
        f"Snapshot directory: {fit['n_files']} files, "
        f"{megabytes(fit['directory_bytes'])} MB (a weights file"
        f" {megabytes(fit['snapshot_file_bytes'][0])} MB; the rest is the optimizer"
        " state and the manifest)."
    )
    report.line(
        f"Fit ({N_TRAIN} rows, batch {BATCH_SIZE}, lr_max={LR_MAX}):"
        f" {fit['fit_seconds']:.1f} s. Prediction on {N_TEST} test rows."
    )
    report.line(
        f"{platform.system()} {platform.machine()}, {cpu_model()},"
        f" {os.cpu_count()} CPUs; "
        + ", ".join(f"{name} {version}" for name, version in fit["versions"].items())
        + "."
    )
    report.line(
        "Each variant ran in its own fresh process; peak RSS from"
        " getrusage(RUSAGE_SELF).ru_maxrss, read after the imports (before loading),"
        " after loading and at the end."
    )

    report.heading("Memory (MB of 2**20 bytes) and time (seconds)")
    header = [
        "variant",
        "members",
        "RSS after imports",
        "peak after load",
        "peak RSS",
        "peak - after imports",
        "load s",
        "predict s",
    ]
    rows = []
    for variant, label in VARIANTS.items():
        result = results[variant]
        baseline = result["after_imports"]
        peak = result["after_predict"]
        rows.append(
            [
                label,
                result["n_members"],
                megabytes(baseline),
                megabytes(result["after_load"]),
                megabytes(peak),
                megabytes(peak - baseline),
                f"{result['load_seconds']:.2f}",
                f"{result['predict_seconds']:.2f}",
            ]
        )
    report.table(header, rows)

    extra = {
        variant: result["after_predict"] - result["after_imports"]
        for variant, result in results.items()
    }
    report.line()
    report.line(
        "peak - after imports, in units of one member:"
        f" in memory {extra['in_memory'] / member:.1f},"
        f" on disk {extra['on_disk'] / member:.1f}"
    )
    report.line(
        "ratio of (peak - after imports), in memory / on disk:"
        f" {extra['in_memory'] / extra['on_disk']:.1f}x"
    )
    saved = extra["in_memory"] - extra["on_disk"]
    report.line(
        f"in memory - on disk: {megabytes(saved)} MB, {saved / member:.1f} members"
        f" (expected: the M - 1 = {fit['n_snapshots'] - 1} members left on disk)"
    )
    report.line(
        f"probabilities of the two variants: np.allclose {allclose},"
        f" max abs difference {max_abs_diff:.3g}"
    )
    return report


# -- main -----------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--members",
        type=int,
        default=10,
        help="snapshots to fit, one epoch of one mini-batch each (default: 10)",
    )
    parser.add_argument(
        "--width",
        type=int,
        default=2048,
        help="units of each of the two hidden layers (default: 2048)",
    )
    parser.add_argument(
        "--output", metavar="FILE", help="also write the report as Markdown"
    )
    parser.add_argument("--child", choices=["fit", *VARIANTS], help=argparse.SUPPRESS)
    parser.add_argument("--work-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        child_main(args.child, args.work_dir, args.members, args.width)
        return

    with tempfile.TemporaryDirectory(prefix="bench_memory_") as work_dir:
        fit = run_child(work_dir, "fit", args.members, args.width)
        print(
            f"fit: {fit['n_snapshots']} members of {megabytes(fit['member_bytes'])}"
            f" MB, directory {megabytes(fit['directory_bytes'])} MB,"
            f" {fit['fit_seconds']:.1f} s",
            flush=True,
        )
        results = {}
        for variant, label in VARIANTS.items():
            result = results[variant] = run_child(
                work_dir, variant, args.members, args.width
            )
            extra = result["after_predict"] - result["after_imports"]
            print(
                f"{label}: peak RSS {megabytes(result['after_predict'])} MB,"
                f" {megabytes(extra)} MB above the RSS after imports",
                flush=True,
            )
        in_memory, on_disk = (
            np.load(os.path.join(work_dir, f"proba_{variant}.npy"))
            for variant in VARIANTS
        )
    max_abs_diff = float(np.max(np.abs(in_memory - on_disk)))
    allclose = bool(np.allclose(in_memory, on_disk))
    if not allclose:
        print(f"WARNING: the variants' probabilities differ by up to {max_abs_diff}")

    report = build_report(fit, results, max_abs_diff, allclose, args.width)
    print()
    report.emit(args.output)


if __name__ == "__main__":
    main()
