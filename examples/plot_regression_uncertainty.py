"""
Regression with a snapshot ensemble: the mean and the spread of the snapshots
=============================================================================

:class:`~skl_snapshot.SnapshotEnsembleRegressor` trains one network with the same
cyclic schedule as the classifier and averages its snapshots' predictions. The
snapshots also disagree, and ``predict(X, return_std=True)`` returns that
disagreement as the standard deviation across the voting snapshots, the
convention of scikit-learn's ``GaussianProcessRegressor`` and ``BayesianRidge``.

The problem is one-dimensional so that it can be drawn: ``y = x sin(x)`` plus
Gaussian noise of standard deviation 1, with 200 training points drawn on
[0, 10] except for a gap between 4 and 6. Where do the snapshots agree, and where
not: on the training points, in the gap, or beyond the ends of the training range?
"""

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skl_snapshot import SnapshotEnsembleRegressor  # noqa: E402

NOISE = 1.0
GAP = (4.0, 6.0)


def true_function(x):
    return x * np.sin(x)


def sample(n_rows, rng):
    """Draw x uniformly on [0, 10] outside the gap, and a noisy y."""
    x = rng.uniform(0, 10 - (GAP[1] - GAP[0]), n_rows)
    x[x > GAP[0]] += GAP[1] - GAP[0]
    return x.reshape(-1, 1), true_function(x) + rng.normal(0, NOISE, n_rows)


rng = np.random.default_rng(0)
X_train, y_train = sample(200, rng)
X_test, y_test = sample(200, rng)
# The scaler learns from the training rows only.
scaler = StandardScaler().fit(X_train)
print(f"{len(X_train)} training rows, {len(X_test)} test rows, gap {GAP}")

# %%
# Fit the ensemble
# ----------------
# A Dense(64, 64) network, 240 epochs in 8 cycles of 30: eight snapshots from one
# training run. The target is used as it is: ``normalize_y=True`` (the default)
# standardises it inside ``fit``.
regressor = SnapshotEnsembleRegressor(
    hidden_layer_sizes=(64, 64), epochs=240, n_cycles=8, random_state=0
)
regressor.fit(scaler.transform(X_train), y_train)
print(f"{regressor.n_snapshots_} snapshots, taken at epochs", end=" ")
print(regressor.snapshot_epochs_.tolist())

# %%
# The ensemble and its snapshots
# ------------------------------
# ``predict(X, return_std=True)`` gives the ensemble mean and the standard
# deviation across the snapshots. ``staged_predict`` yields the mean of the first
# k snapshots (newest first, ``member_order="newest"``) for k = 1..8, so the k-th
# snapshot's own prediction is ``k * mean_k - (k - 1) * mean_(k-1)``.
x_plot = np.linspace(-2, 12, 500).reshape(-1, 1)
X_plot = scaler.transform(x_plot)
mean, std = regressor.predict(X_plot, return_std=True)

running_means = np.array(list(regressor.staged_predict(X_plot)))
sizes = np.arange(1, len(running_means) + 1).reshape(-1, 1)
singles = sizes * running_means - (sizes - 1) * np.vstack(
    [np.zeros_like(running_means[:1]), running_means[:-1]]
)

fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
ax.axvspan(*GAP, color="0.92", label="gap in the training rows")
ax.axvspan(-2, 0, color="0.96")
ax.axvspan(10, 12, color="0.96", label="outside the training range")
for k, single in enumerate(singles):
    ax.plot(
        x_plot[:, 0],
        single,
        color="tab:gray",
        linewidth=0.8,
        alpha=0.6,
        label="single snapshots" if k == 0 else None,
    )
ax.fill_between(
    x_plot[:, 0],
    mean - 2 * std,
    mean + 2 * std,
    color="tab:blue",
    alpha=0.25,
    label="mean ± 2 std of the snapshots",
)
ax.plot(x_plot[:, 0], mean, color="tab:blue", label="ensemble mean")
ax.plot(
    x_plot[:, 0],
    true_function(x_plot[:, 0]),
    color="black",
    linestyle="--",
    linewidth=1,
    label="x sin(x)",
)
ax.scatter(X_train[:, 0], y_train, s=8, color="tab:orange", label="training rows")
ax.set_xlim(-2, 12)
ax.set_ylim(-15, 15)
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.set_title("Snapshot ensemble: mean and spread of 8 snapshots")
ax.legend(loc="lower left", fontsize="small", ncols=2)

# %%
# Where the snapshots disagree
# ----------------------------
# The mean standard deviation across the snapshots in each region of x.
regions = {
    "training range, outside the gap": ((x_plot >= 0) & (x_plot <= 10))[:, 0]
    & ~((x_plot > GAP[0]) & (x_plot < GAP[1]))[:, 0],
    "the gap": ((x_plot > GAP[0]) & (x_plot < GAP[1]))[:, 0],
    "beyond the training range": ((x_plot < 0) | (x_plot > 10))[:, 0],
}
for name, inside in regions.items():
    print(f"mean std, {name:<32} {std[inside].mean():.3f}")

# %%
# The final network against the ensemble
# --------------------------------------
# :meth:`~skl_snapshot.SnapshotEnsembleRegressor.snapshot_scores` scores every
# snapshot alone and every ensemble of the first k in one pass over the test
# rows. Row 0 is the final network (the newest snapshot); the last row is the
# ensemble of all eight. The noise alone puts a floor of about 1.0 under the
# RMSE.
scores = regressor.snapshot_scores(scaler.transform(X_test), y_test)
print(f"test RMSE, final network alone:    {np.sqrt(scores.single_mse[0]):.3f}")
print(f"test RMSE, ensemble of {scores.n_members[-1]} snapshots: ", end="")
print(f"{np.sqrt(scores.ensemble_mse[-1]):.3f}")
print("test R^2 of the ensemble (score):  ", end="")
print(f"{regressor.score(scaler.transform(X_test), y_test):.3f}")

# %%
# What the band covers
# --------------------
# The share of test rows whose y lies within mean ± 2 std, and the share whose
# true, noise-free value x sin(x) does. The spread is that of the snapshots: it
# says how much one training run's networks disagree about the function, not how
# noisy y is, and it is not a calibrated posterior. Read it as a warning of where
# the model is unsure, not as a 95% interval.
test_mean, test_std = regressor.predict(scaler.transform(X_test), return_std=True)
low, high = test_mean - 2 * test_std, test_mean + 2 * test_std
inside_noisy = np.mean((y_test >= low) & (y_test <= high))
truth = true_function(X_test[:, 0])
inside_truth = np.mean((truth >= low) & (truth <= high))
print(f"test rows with y inside the band:         {inside_noisy:.0%}")
print(f"test rows with x sin(x) inside the band:  {inside_truth:.0%}")

# %%
# An unscaled target
# ------------------
# Prices, counts or readings in their own units need no preparation:
# ``normalize_y=True`` (the default) standardises y with the mean and standard
# deviation of the training rows (``y_mean_``, ``y_scale_``) and maps the
# predictions back. Here y is multiplied by 1000 and shifted by 5000; standardised,
# it is the same target as before, so the same seed fits the same network and R^2
# is unchanged, up to floating-point rounding.
y_train_large, y_test_large = y_train * 1000 + 5000, y_test * 1000 + 5000
large = SnapshotEnsembleRegressor(
    hidden_layer_sizes=(64, 64), epochs=240, n_cycles=8, random_state=0
).fit(scaler.transform(X_train), y_train_large)
print(f"y_mean_ = {large.y_mean_}, y_scale_ = {large.y_scale_}")
print(f"test R^2, y * 1000 + 5000: {large.score(scaler.transform(X_test), y_test_large):.3f}")
