"""
Repeating the reference experiment over many seeds
==================================================

One training run answers "does the snapshot ensemble beat the final network?" for
one seed only, and on the reference workload (100 training rows, 1000 test rows)
a few test points decide it. The tutorial's suggested extension is to repeat the
experiment and look at the distribution. Here the reference workload is fitted
with ``N_SEEDS`` seeds (30 by default; set the environment variable
``SKL_SNAPSHOT_EXAMPLE_SEEDS`` to run fewer). For every fit we record the test
accuracy and log-loss of the final network (the newest snapshot alone) and of
the ensembles of the newest 3, 5 and 10 snapshots, then compare each ensemble
with the final network of the same run: a paired comparison, since both come
from one training run.
"""

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import time  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.stats import ttest_rel, wilcoxon  # noqa: E402

from skl_snapshot._reference import (  # noqa: E402
    load_reference_data,
    reference_classifier,
)

N_SEEDS = int(os.environ.get("SKL_SNAPSHOT_EXAMPLE_SEEDS", 30))
if N_SEEDS < 2:
    raise ValueError(
        "SKL_SNAPSHOT_EXAMPLE_SEEDS must be >= 2: a spread and a paired test need"
        f" at least two runs. Got SKL_SNAPSHOT_EXAMPLE_SEEDS={N_SEEDS}."
    )
ENSEMBLE_SIZES = (3, 5, 10)
METRICS = ("accuracy", "log_loss")

X_train, y_train, X_test, y_test = load_reference_data()

# %%
# Fit once per seed
# -----------------
# The seed changes the initial weights and the order of the mini-batches; the
# data stay the same.
# :meth:`~skl_snapshot.SnapshotEnsembleClassifier.snapshot_scores` scores the
# newest snapshot alone and every ensemble of the newest k in one pass over the
# test set (``member_order="newest"``, the default, so row k - 1 is the ensemble
# of the newest k).
final = {metric: np.empty(N_SEEDS) for metric in METRICS}
ensemble = {
    (metric, k): np.empty(N_SEEDS) for metric in METRICS for k in ENSEMBLE_SIZES
}
started = time.perf_counter()
for seed in range(N_SEEDS):
    classifier = reference_classifier(random_state=seed).fit(X_train, y_train)
    scores = classifier.snapshot_scores(X_test, y_test)
    for metric in METRICS:
        final[metric][seed] = scores[f"single_{metric}"][0]
        for k in ENSEMBLE_SIZES:
            ensemble[metric, k][seed] = scores[f"ensemble_{metric}"][k - 1]
print(f"{N_SEEDS} fits in {time.perf_counter() - started:.1f} s")

# %%
# Mean and spread across seeds
# ----------------------------
# The standard deviation is across seeds: how much one run's score depends on
# its seed.
print(f"{'':<24}{'accuracy':>18}{'log-loss':>18}")
print(f"{'':<24}{'mean':>10}{'std':>8}{'mean':>10}{'std':>8}")
for name, values in [
    ("final network alone", final),
    *(
        (f"ensemble of newest {k}", {metric: ensemble[metric, k] for metric in METRICS})
        for k in ENSEMBLE_SIZES
    ),
]:
    print(
        f"{name:<24}"
        + "".join(
            f"{values[metric].mean():>10.4f}{values[metric].std(ddof=1):>8.4f}"
            for metric in METRICS
        )
    )

# %%
# Paired differences: ensemble minus final network
# ------------------------------------------------
# For each seed, the ensemble's score minus the final network's score in the same
# run. Higher accuracy is better, lower log-loss is better, so a win is a positive
# accuracy difference or a negative log-loss difference. An accuracy tie means
# both got exactly the same number of the 1000 test points right.
#
# Two paired tests of "no difference": the Wilcoxon signed-rank test (ties split
# between the two sides, ``zero_method="zsplit"``) and the paired t-test. Six
# comparisons are made here, so a single p-value near 0.05 is weak evidence: with
# a Bonferroni correction the threshold for each would be 0.05 / 6, about 0.008.


def paired_test_p_values(difference):
    if np.all(difference == 0):
        # Identical scores in every run: no evidence of any difference.
        return 1.0, 1.0
    return (
        wilcoxon(difference, zero_method="zsplit").pvalue,
        ttest_rel(difference, np.zeros_like(difference)).pvalue,
    )


differences = {}
print(
    f"{'metric':<10}{'k':>3}{'mean diff':>11}{'std':>8}"
    f"{'wins':>6}{'ties':>6}{'losses':>8}{'Wilcoxon p':>12}{'t-test p':>10}"
)
for metric in METRICS:
    sign = 1 if metric == "accuracy" else -1  # +1: a larger score is better
    for k in ENSEMBLE_SIZES:
        difference = ensemble[metric, k] - final[metric]
        if metric == "accuracy":
            # Count in test points, so that float round-off cannot hide a tie.
            difference = np.round(difference * len(y_test)) / len(y_test)
        differences[metric, k] = difference
        wins = int(np.sum(sign * difference > 0))
        ties = int(np.sum(difference == 0))
        losses = N_SEEDS - wins - ties
        p_wilcoxon, p_ttest = paired_test_p_values(difference)
        print(
            f"{metric:<10}{k:>3}{difference.mean():>+11.4f}"
            f"{difference.std(ddof=1):>8.4f}{wins:>6}{ties:>6}{losses:>8}"
            f"{p_wilcoxon:>12.3g}{p_ttest:>10.3g}"
        )

# %%
# The same comparison, in words
# -----------------------------
# Generated from the numbers above, so that it describes this run: "better" or
# "worse" only when the Wilcoxon test rejects "no difference" at the corrected
# level of 0.05 / 6.
threshold = 0.05 / (len(METRICS) * len(ENSEMBLE_SIZES))
for metric in METRICS:
    sign = 1 if metric == "accuracy" else -1
    for k in ENSEMBLE_SIZES:
        difference = differences[metric, k]
        p_wilcoxon, _ = paired_test_p_values(difference)
        if p_wilcoxon >= threshold:
            verdict = "not clearly different from"
        elif sign * difference.mean() > 0:
            verdict = "better than"
        else:
            verdict = "worse than"
        print(
            f"{metric}: the ensemble of the newest {k} is {verdict} the final"
            f" network (mean difference {difference.mean():+.4f},"
            f" Wilcoxon p = {p_wilcoxon:.3g}, {N_SEEDS} seeds)"
        )

# %%
# The paired differences, seed by seed
# ------------------------------------
# One dot a seed, over a box of the quartiles. Above the dashed zero line the
# ensemble had the higher score: better for accuracy, worse for log-loss.
rng = np.random.default_rng(0)  # horizontal jitter only, so dots do not overlap
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
for ax, metric, label in zip(
    axes,
    METRICS,
    ("accuracy (higher is better)", "log-loss (lower is better)"),
    strict=True,
):
    data = [differences[metric, k] for k in ENSEMBLE_SIZES]
    ax.boxplot(data, showfliers=False)
    ax.set_xticks(range(1, len(ENSEMBLE_SIZES) + 1), labels=ENSEMBLE_SIZES)
    for position, values in enumerate(data, start=1):
        ax.scatter(
            position + rng.uniform(-0.12, 0.12, len(values)),
            values,
            color="tab:blue",
            alpha=0.6,
            zorder=3,
        )
    ax.axhline(0, color="tab:red", linestyle="--")
    ax.set_xlabel("k (ensemble of the newest k snapshots)")
    ax.set_ylabel("ensemble minus final network")
    ax.set_title(f"Paired difference in {label}")

# %%
# Reading the result
# ------------------
# The verdicts printed above are the conclusion of this run; they are computed,
# not written in advance, because they may change with the number of seeds, the
# machine or the library versions. A few points help to read them:
#
# - The accuracy differences move in steps of 0.001 (one test point of 1000) and
#   are often ties, so accuracy is a coarse judge here; log-loss scores the
#   probabilities and sees smaller effects.
# - Each method's score moves with the seed (the standard deviations of the first
#   table). Comparing an ensemble with the final network of the *same* run removes
#   the part of that movement the two share; comparing across runs would add it
#   to the noise. That is why the comparison is paired.
# - Larger k brings in older snapshots, taken earlier in training; whether they
#   help the average or drag it down is exactly what the k = 3, 5, 10 rows show.
# - "Not clearly different" does not mean that the effect is zero, only that it
#   is small next to the noise of this workload at this number of seeds; with
#   fewer seeds (``SKL_SNAPSHOT_EXAMPLE_SEEDS``) the tests have little power.
