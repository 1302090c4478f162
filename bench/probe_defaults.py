"""Choose the defaults of issue 14 by evidence: candidate settings side by side.

Every data set of ``bench/_datasets.py`` that loads here (``pip install
".[bench]"``), each model behind the same impute/scale/one-hot preprocessor,
stratified (classification) half splits that change with the seed. For each
candidate setting of the snapshot ensemble and each baseline (MLP, HistGradient-
Boosting, LogisticRegression or Ridge) the script prints the test log-loss (RMSE
in units of the target's standard deviation for regression) and the fit seconds,
then the paired ratio of each candidate to the best baseline per data set.

    python bench/probe_defaults.py classification --seeds 0 1 2
    python bench/probe_defaults.py regression --seeds 0 1 2

A diverged fit is recorded as such (and counts as infinitely bad), never stops
the run.
"""

import argparse
import json
import os
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import _datasets  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.metrics import log_loss, mean_squared_error  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from skl_snapshot import (  # noqa: E402
    SnapshotEnsembleClassifier,
    SnapshotEnsembleRegressor,
)

#: The settings compared, as parameters of the estimator (library defaults
#: otherwise).
CANDIDATES = {
    "K1 320/8 (old)": {
        "n_networks": 1,
        "epochs": 320,
        "n_cycles": 8,
        "t_mult": 1.0,
        "member_weights": "uniform",
    },
    "K4 64/6 x2": {"n_networks": 4, "epochs": 64, "n_cycles": 6, "t_mult": 2.0},
    "K4 128/7 x2": {"n_networks": 4, "epochs": 128, "n_cycles": 7, "t_mult": 2.0},
    "K4 80/8": {"n_networks": 4, "epochs": 80, "n_cycles": 8, "t_mult": 1.0},
    "K8 128/7 x2": {"n_networks": 8, "epochs": 128, "n_cycles": 7, "t_mult": 2.0},
    "defaults": {},
    "defaults, hidden (100,)": {"hidden_layer_sizes": (100,)},
    "defaults, lr_max 0.02": {"lr_max": 0.02},
    "defaults, epochs 256 in 8": {"epochs": 256, "n_cycles": 8},
    "defaults, K8": {"n_networks": 8},
    "defaults, weight decay 1e-3": {"optimizer__weight_decay": 1e-3},
}


def baselines(task, seed):
    if task == "classification":
        return {
            "MLPClassifier()": MLPClassifier(random_state=seed),
            "HGB": HistGradientBoostingClassifier(random_state=seed),
            "LogisticRegression": LogisticRegression(max_iter=1000),
        }
    return {
        "MLPRegressor()": MLPRegressor(random_state=seed),
        "HGB": HistGradientBoostingRegressor(random_state=seed),
        "Ridge": Ridge(),
    }


def score(task, model, X_test, y_test, y_std):
    if task == "classification":
        return log_loss(y_test, model.predict_proba(X_test), labels=model.classes_)
    return np.sqrt(mean_squared_error(y_test, model.predict(X_test))) / y_std


def run(task, seeds, names, candidates):
    Estimator = (
        SnapshotEnsembleClassifier
        if task == "classification"
        else SnapshotEnsembleRegressor
    )
    results = []
    for name in names:
        X, y, _ = _datasets.load(name)
        for seed in seeds:
            X_train, X_test, y_train, y_test = train_test_split(
                X,
                y,
                test_size=0.5,
                random_state=seed,
                stratify=y if task == "classification" else None,
            )
            y_std = float(np.std(y_train)) if task == "regression" else 1.0
            models = {
                label: Estimator(random_state=seed, **params)
                for label, params in candidates.items()
            }
            models.update(baselines(task, seed))
            for label, model in models.items():
                pipeline = make_pipeline(_datasets.preprocessor(X), model)
                start = time.perf_counter()
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        pipeline.fit(X_train, y_train)
                    value = score(task, pipeline, X_test, y_test, y_std)
                except ValueError as error:  # a diverged fit
                    value, label = float("inf"), label
                    print(f"  {name} seed {seed} {label}: {error}", flush=True)
                seconds = time.perf_counter() - start
                results.append(
                    {
                        "data": name,
                        "seed": seed,
                        "model": label,
                        "loss": value,
                        "fit_s": seconds,
                    }
                )
            line = "  ".join(
                f"{r['model']} {r['loss']:.4f}"
                for r in results
                if r["data"] == name and r["seed"] == seed
            )
            print(f"{name} seed {seed}: {line}", flush=True)
    return results


def report(task, results, candidates):
    names = list(dict.fromkeys(r["data"] for r in results))
    models = list(dict.fromkeys(r["model"] for r in results))
    metric = "log-loss" if task == "classification" else "RMSE / std(y)"
    print(f"\n## Mean test {metric} (fit seconds) by data set\n")
    print("| data set | " + " | ".join(models) + " |")
    print("|---" * (len(models) + 1) + "|")
    table = {}
    for name in names:
        cells = []
        for model in models:
            rows = [r for r in results if r["data"] == name and r["model"] == model]
            loss = np.mean([r["loss"] for r in rows])
            table[name, model] = loss
            fit_s = np.median([r["fit_s"] for r in rows])
            cells.append(f"{loss:.4f} ({fit_s:.1f})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    baseline_names = [m for m in models if m not in candidates]
    print("\n## Each candidate against the baselines\n")
    print(
        "| candidate | worst ratio to best baseline | within 5% of best"
        " | no worse than MLP | median fit s |"
    )
    print("|---|---|---|---|---|")
    mlp = baseline_names[0]
    for model in candidates:
        ratios = [
            table[name, model] / min(table[name, b] for b in baseline_names)
            for name in names
        ]
        within = sum(ratio <= 1.05 for ratio in ratios)
        vs_mlp = sum(table[name, model] <= table[name, mlp] for name in names)
        fit_s = np.median([r["fit_s"] for r in results if r["model"] == model])
        print(
            f"| {model} | {max(ratios):.3f} | {within}/{len(names)}"
            f" | {vs_mlp}/{len(names)} | {fit_s:.2f} |"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=["classification", "regression"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=None)
    parser.add_argument("--candidates", nargs="+", default=None, choices=CANDIDATES)
    parser.add_argument("--json", default=None, help="write the raw results here")
    args = parser.parse_args()
    names = args.datasets or _datasets.available(args.task)
    candidates = {
        name: CANDIDATES[name] for name in args.candidates or list(CANDIDATES)
    }
    results = run(args.task, args.seeds, names, candidates)
    report(args.task, results, candidates)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
