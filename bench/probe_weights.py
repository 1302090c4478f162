"""How the cross-fitted snapshots should be weighted (issue 14), post hoc.

One fit of the defaults per data set and seed (those of ``bench_quality.py``,
stratified half splits): every snapshot's probabilities on the training rows
(out of fold: each row's prediction of a cycle comes from the network that did
not train on it) and on the test rows. Then, without refitting, the test
log-loss of the snapshots' weighted mean under several ways to choose the
weights from the out-of-fold predictions, each snapshot of a cycle getting an
equal share of its cycle's weight:

``em``
    the library's: the weights of the cycles that minimise the out-of-fold
    log-loss of their mixture (expectation-maximisation);
``prior-c``
    the same with ``c`` pseudo-rows per cycle, a symmetric Dirichlet prior
    (maximum a posteriori: ``w_m`` proportional to the rows' responsibility
    plus ``c``), which pulls the weights towards uniform, most on few rows;
``bagged``
    the mean of ``em``'s weights over 16 bootstrap resamples of the rows;
``uniform``
    every snapshot alike; ``last``: the newest cycle's snapshots alike.

The report gives each scheme's mean test log-loss per data set, and the share
of runs where it is below the final single network's (the newest snapshot).
A probe to choose what ``bench_quality.py`` should confirm, not evidence by
itself.

    python bench/probe_weights.py --seeds 0 1 2 3 4 5 6 7 8 9
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from bench_quality import DATASETS, load_dataset, snapshot_pipeline  # noqa: E402

from skl_snapshot._plan import cross_fit_folds  # noqa: E402

EPS = np.finfo(np.float64).eps
PRIORS = (1.0,)
LAST_PRIORS = (3.0, 10.0, 30.0)


def em_weights(true_class, prior=0.0, max_iter=1000, tol=1e-10):
    """Mixture weights maximising the mean log-likelihood of ``true_class``
    (members, rows), with ``prior`` pseudo-rows per member (a number, or one
    per member)."""
    true_class = np.clip(true_class, EPS, None)
    n_members, n_rows = true_class.shape
    prior = np.broadcast_to(np.asarray(prior, dtype=float), (n_members,))
    weights = np.full(n_members, 1.0 / n_members)
    objective = -np.inf
    for _ in range(max_iter):
        mixture = weights @ true_class
        with np.errstate(divide="ignore", invalid="ignore"):
            penalty = np.sum(np.where(prior > 0, prior * np.log(weights), 0.0))
        new = np.mean(np.log(mixture)) + penalty / n_rows
        if new - objective < tol:
            break
        objective = new
        responsibility = weights[:, None] * true_class / mixture
        weights = responsibility.sum(axis=1) + prior
        weights /= weights.sum()
    return weights


def on_last(n_cycles, mass):
    prior = np.zeros(n_cycles)
    prior[-1] = mass
    return prior


def bagged_weights(true_class, rng, n_bags=16):
    n_rows = true_class.shape[1]
    return np.mean(
        [
            em_weights(true_class[:, rng.integers(0, n_rows, n_rows)])
            for _ in range(n_bags)
        ],
        axis=0,
    )


def log_loss(proba, y_index):
    true_class = proba[np.arange(len(y_index)), y_index]
    return float(-np.mean(np.log(np.clip(true_class, EPS, None))))


def run_once(name, seed):
    X_train, y_train, X_test, y_test = load_dataset(name, seed)
    pipeline = snapshot_pipeline({}, seed, X_train)
    pipeline.fit(X_train, y_train)
    model = pipeline[-1]
    front = pipeline[:-1]
    X_fit = model._validate_features(front.transform(X_train))
    X_eval = model._validate_features(front.transform(X_test))
    n_snapshots, n_networks = model.n_snapshots_, model.n_networks
    train = np.stack(list(model._snapshot_votes(X_fit, range(n_snapshots))))
    test = np.stack(list(model._snapshot_votes(X_eval, range(n_snapshots))))
    y_fit = np.searchsorted(model.classes_, np.asarray(y_train))
    y_eval = np.searchsorted(model.classes_, np.asarray(y_test))
    folds = cross_fit_folds(
        n_networks,
        model._fits[0].seed,
        groups=model._fold_groups(np.asarray(y_train)),
        n_samples=len(y_fit),
    )
    n_cycles = n_snapshots // n_networks
    # each row's out-of-fold prediction of each cycle
    out_of_fold = np.empty((n_cycles, *train.shape[1:]))
    for cycle in range(n_cycles):
        for k in range(n_networks):
            rows = folds == k
            out_of_fold[cycle, rows] = train[cycle * n_networks + k, rows]
    true_class = out_of_fold[:, np.arange(len(y_fit)), y_fit]
    rng = np.random.default_rng(seed)
    cycle_weights = {"em": em_weights(true_class)}
    for prior in PRIORS:
        cycle_weights[f"prior-{prior:g}"] = em_weights(true_class, prior)
    for mass in LAST_PRIORS:
        cycle_weights[f"last-prior-{mass:g}"] = em_weights(
            true_class, on_last(n_cycles, mass)
        )
    late = np.zeros(n_cycles)
    late[-3:] = em_weights(true_class[-3:])
    cycle_weights["em-last-3"] = late
    cycle_weights["bagged"] = bagged_weights(true_class, rng)
    cycle_weights["uniform"] = np.full(n_cycles, 1.0 / n_cycles)
    cycle_weights["last-2"] = np.r_[np.zeros(n_cycles - 2), 0.5, 0.5]
    cycle_weights["last"] = np.eye(n_cycles)[-1]
    cycle_test = test.reshape(n_cycles, n_networks, *test.shape[1:]).mean(axis=1)
    losses = {
        scheme: log_loss(np.tensordot(weights, cycle_test, axes=1), y_eval)
        for scheme, weights in cycle_weights.items()
    }
    losses["library"] = log_loss(model.predict_proba(X_eval), y_eval)
    losses["final"] = log_loss(test[-1], y_eval)
    return losses


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    args = parser.parse_args()
    start = time.perf_counter()
    results = {}
    for name in args.datasets:
        results[name] = [run_once(name, seed) for seed in args.seeds]
        print(f"{name} done, {time.perf_counter() - start:.0f} s", flush=True)
    schemes = [s for s in results[args.datasets[0]][0] if s != "final"]
    print()
    print("| data set | final | " + " | ".join(schemes) + " |")
    print("|---" * (len(schemes) + 2) + "|")
    wins = dict.fromkeys(schemes, 0)
    total = 0
    for name, runs in results.items():
        cells = [f"{np.mean([run['final'] for run in runs]):.4f}"]
        for scheme in schemes:
            mean = np.mean([run[scheme] for run in runs])
            lower = sum(run[scheme] < run["final"] for run in runs)
            wins[scheme] += lower
            cells.append(f"{mean:.4f} ({lower}/{len(runs)})")
        total += len(runs)
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
    print("share of runs below the final network:")
    for scheme in schemes:
        print(f"  {scheme}: {wins[scheme]}/{total} = {wins[scheme] / total:.0%}")


if __name__ == "__main__":
    main()
