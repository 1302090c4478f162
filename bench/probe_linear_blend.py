"""A quick probe for issue 14: would a linear member help the ensemble?

Where the defaults miss, a linear model often wins (breast_cancer against
LogisticRegression; the linear regression targets against Ridge). The skip
path inside the network lost (RESULTS_probe_skip.md). This probe asks the
question from the other side: blend the ensemble with the linear model
(LogisticRegression() / Ridge(), behind the same preprocessing), the blend
weight chosen on the training rows only, from 5-fold out-of-fold predictions of
both, then compare on the test split with the ensemble alone, paired by seed.

The weight is a one-parameter grid (0, 0.05, ..., 1) minimising the
out-of-fold log-loss (RMSE): what a linear member weighted on held-out rows
would get. The out-of-fold predictions cost five more ensemble fits per run,
which a built-in member would not pay (it would use the cross-fitting's own
folds). A probe to decide whether to build that member, not evidence for a
default by itself.

    python bench/probe_linear_blend.py --seeds 0 1 2 3 4
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss, mean_squared_error
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline

WEIGHTS = np.linspace(0.0, 1.0, 21)

SETS = [
    ("classification", "breast_cancer"),
    ("classification", "classification"),
    ("classification", "digits"),
    ("classification", "credit_data"),
    ("classification", "chile"),
    ("classification", "moons"),
    ("classification", "loanapp"),
    ("regression", "regression"),
    ("regression", "sparse_uncorrelated"),
    ("regression", "gapminder"),
    ("regression", "diabetes"),
    ("regression", "cps1985"),
    ("regression", "friedman1"),
]


def _loss(task, y, prediction, classes):
    if task == "classification":
        return log_loss(y, prediction, labels=classes)
    return float(np.sqrt(mean_squared_error(y, prediction)))


def _predict(task, model, X):
    return model.predict_proba(X) if task == "classification" else model.predict(X)


def run(task, name, seed, module):
    X_train, y_train, X_test, y_test = module.load_dataset(name, seed)
    ensemble = module.snapshot_pipeline({}, seed, X_train)
    linear = make_pipeline(
        module.front(X_train),
        LogisticRegression(max_iter=1000) if task == "classification" else Ridge(),
    )
    if task == "classification":
        folds = StratifiedKFold(5, shuffle=True, random_state=seed)
        method = "predict_proba"
    else:
        folds = KFold(5, shuffle=True, random_state=seed)
        method = "predict"
    start = time.perf_counter()
    oof_ensemble = cross_val_predict(
        clone(ensemble), X_train, y_train, cv=folds, method=method
    )
    oof_linear = cross_val_predict(
        clone(linear), X_train, y_train, cv=folds, method=method
    )
    classes = np.unique(y_train)
    weight = min(
        WEIGHTS,
        key=lambda w: _loss(
            task, y_train, (1 - w) * oof_ensemble + w * oof_linear, classes
        ),
    )
    ensemble.fit(X_train, y_train)
    linear.fit(X_train, y_train)
    alone = _predict(task, ensemble, X_test)
    blended = (1 - weight) * alone + weight * _predict(task, linear, X_test)
    return (
        _loss(task, y_test, alone, classes),
        _loss(task, y_test, blended, classes),
        _loss(task, y_test, _predict(task, linear, X_test), classes),
        float(weight),
        time.perf_counter() - start,
    )


def main():
    import bench_quality
    import bench_regression

    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    for task, name in SETS:
        module = bench_quality if task == "classification" else bench_regression
        rows = []
        for seed in args.seeds:
            rows.append(run(task, name, seed, module))
            alone, blended, linear, weight, seconds = rows[-1]
            print(
                name,
                seed,
                f"ensemble {alone:.4f} blend {blended:.4f} linear {linear:.4f}"
                f" weight {weight:.2f} {seconds:.1f}s",
                flush=True,
            )
        columns = zip(*rows, strict=True)
        alone, blended, linear, weight, _ = (np.array(column) for column in columns)
        print(
            f"SUMMARY {task} {name}: ensemble {alone.mean():.4f} blend"
            f" {blended.mean():.4f} linear {linear.mean():.4f} ratio"
            f" {blended.mean() / alone.mean():.3f} blend better in"
            f" {(blended < alone).sum()}/{len(alone)} mean weight {weight.mean():.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
