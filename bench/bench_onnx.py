"""Prediction latency: onnxruntime on the exported graph against predict_proba.

The reference workload's defaults (``SnapshotEnsembleClassifier()`` behind a
StandardScaler, fitted on the tutorial's 100 blob rows; every member votes) and
the same on digits, exported with ``register_onnx_converters`` and
``skl2onnx.to_onnx``; then, alternating, the median of ``--repeats`` calls of
the pipeline's ``predict_proba`` and of an onnxruntime session's ``run`` on 1
row and on 1,000 rows. The report gives milliseconds, the ratio ours /
onnxruntime and the largest difference of the probabilities.

    python bench/bench_onnx.py
    python bench/bench_onnx.py --repeats 20
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from _report import Report, distribution_versions


def _workloads():
    from sklearn.datasets import load_digits, make_blobs

    X, y = make_blobs(
        n_samples=1100, centers=3, n_features=2, cluster_std=2, random_state=2
    )
    yield "reference (blobs)", X[:100], y[:100], X[100:]
    X, y = load_digits(return_X_y=True)
    rows = np.random.default_rng(0).choice(len(X), 1000)
    yield "digits", X, y, X[rows]


def _median_seconds(function, repeats):
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--output", metavar="FILE")
    args = parser.parse_args()

    import onnxruntime
    from skl2onnx import to_onnx
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skl_snapshot import SnapshotEnsembleClassifier, register_onnx_converters

    register_onnx_converters()
    report = Report()
    versions = distribution_versions(
        ["tensorflow", "skl2onnx", "onnxruntime", "skl_snapshot"]
    )
    report.line(", ".join(f"{k} {v}" for k, v in versions.items()))
    rows = []
    for name, X, y, X_test in _workloads():
        X, X_test = X.astype(np.float32), X_test.astype(np.float32)
        pipeline = make_pipeline(
            StandardScaler(), SnapshotEnsembleClassifier(random_state=0)
        ).fit(X, y)
        onx = to_onnx(pipeline, X[:1], options={"zipmap": False})
        session = onnxruntime.InferenceSession(
            onx.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        input_name = session.get_inputs()[0].name
        difference = np.abs(
            session.run(None, {input_name: X_test})[1] - pipeline.predict_proba(X_test)
        ).max()
        members = pipeline[-1].n_snapshots_
        for n_rows in (1, 1000):
            batch = X_test[:n_rows]
            ours = _median_seconds(
                lambda batch=batch, model=pipeline: model.predict_proba(batch),
                args.repeats,
            )
            theirs = _median_seconds(
                lambda batch=batch, run=session.run, key=input_name: run(
                    None, {key: batch}
                ),
                args.repeats,
            )
            rows.append(
                [
                    name,
                    members,
                    n_rows,
                    f"{ours * 1e3:.3f}",
                    f"{theirs * 1e3:.3f}",
                    f"{ours / theirs:.1f}",
                    f"{difference:.1e}",
                ]
            )
            print(rows[-1], flush=True)
    report.heading("predict_proba against onnxruntime (median milliseconds)")
    report.table(
        [
            "workload",
            "members",
            "rows",
            "predict_proba ms",
            "onnxruntime ms",
            "ours / onnxruntime",
            "max |difference|",
        ],
        rows,
    )
    report.emit(args.output)


if __name__ == "__main__":
    main()
