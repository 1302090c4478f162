"""A quick probe for issue 14: does a linear skip path help the built-in network?

The sets where the defaults miss are those where a linear model wins
(breast_cancer and make_classification against LogisticRegression/HGB; three
linear regression targets against Ridge). This probe compares, on those and on
controls, the defaults against the same estimator with a custom builder of the
same hidden layer plus a linear path from the inputs to the output (the outputs
of both summed before the softmax). Paired by seed, half splits, the
benchmarks' preprocessing. A probe to decide whether the built-in network
should get the path, not evidence for a default by itself.

    python bench/probe_skip.py --seeds 0 1 2 3 4
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np
from sklearn.metrics import log_loss, mean_squared_error


def skip_builder(meta):
    import keras

    inputs = keras.Input((meta["n_features_in_"],))
    hidden = keras.layers.Dense(50, activation="relu")(inputs)
    classifier = "n_classes_" in meta
    units = meta["n_classes_"] if classifier else meta["n_outputs_"]
    total = keras.layers.Add()(
        [keras.layers.Dense(units)(hidden), keras.layers.Dense(units)(inputs)]
    )
    if classifier:
        total = keras.layers.Activation("softmax")(total)
    return keras.Model(inputs, total)


def main():
    import bench_quality
    import bench_regression

    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    sets = [
        ("classification", "breast_cancer"),
        ("classification", "classification"),
        ("classification", "loanapp"),
        ("classification", "digits"),
        ("classification", "credit_data"),
        ("regression", "regression"),
        ("regression", "sparse_uncorrelated"),
        ("regression", "gapminder"),
        ("regression", "diabetes"),
        ("regression", "cps1985"),
    ]
    for task, name in sets:
        module = bench_quality if task == "classification" else bench_regression
        scores = {"default": [], "skip": []}
        for seed in args.seeds:
            X_train, y_train, X_test, y_test = module.load_dataset(name, seed)
            for variant in scores:
                params = {"model": skip_builder} if variant == "skip" else {}
                start = time.perf_counter()
                pipeline = module.snapshot_pipeline(params, seed, X_train)
                pipeline.fit(X_train, y_train)
                if task == "classification":
                    value = log_loss(
                        y_test, pipeline.predict_proba(X_test), labels=pipeline.classes_
                    )
                else:
                    value = mean_squared_error(y_test, pipeline.predict(X_test)) ** 0.5
                scores[variant].append(value)
                print(
                    name,
                    seed,
                    variant,
                    f"{value:.4f}",
                    f"{time.perf_counter() - start:.1f}s",
                    flush=True,
                )
        default, skip = (np.array(scores[k]) for k in ("default", "skip"))
        print(
            f"SUMMARY {task} {name}: default {default.mean():.4f} skip"
            f" {skip.mean():.4f} ratio {skip.mean() / default.mean():.3f}"
            f" skip better in {(skip < default).sum()}/{len(skip)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
