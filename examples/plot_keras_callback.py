"""
Snapshot ensembles in your own Keras ``model.fit``
==================================================

The tutorial this project grew out of, done with
:class:`~skl_snapshot.SnapshotEnsembleCallback` in a few lines. Three Gaussian
blobs in two dimensions, the first 100 rows to train on and the other 1000 to
test on; a Dense(50, relu) network with a softmax output, SGD with momentum
0.9, batch 32, 500 epochs in 10 cosine cycles with ``lr_max=0.01``.

The tutorial set the rate once per epoch in a callback, saved ``.h5`` files by
hand and reloaded them in a loop of ``Model.predict`` calls. The callback sets
the rate at every mini-batch, in-graph, keeps each cycle's weights in memory
(or in a crash-safe directory) and averages the snapshots in one compiled pass.
"""

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import make_blobs  # noqa: E402
from sklearn.metrics import accuracy_score, log_loss  # noqa: E402

from skl_snapshot import SnapshotEnsembleCallback  # noqa: E402

X, y = make_blobs(
    n_samples=1100, centers=3, n_features=2, cluster_std=2, random_state=2
)
X = X.astype("float32")
X_train, X_test, y_train, y_test = X[:100], X[100:], y[:100], y[100:]

keras.utils.set_random_seed(1)
model = keras.Sequential(
    [
        keras.Input((2,)),
        keras.layers.Dense(50, activation="relu"),
        keras.layers.Dense(3, activation="softmax"),
    ]
)
model.compile(
    optimizer=keras.optimizers.SGD(momentum=0.9),
    loss="sparse_categorical_crossentropy",
)

# %%
# Train with the callback
# -----------------------
# The callback needs the budget (``epochs``, which ``model.fit`` must match) and
# the number of cycles; it places the cycles on the mini-batches Keras reports.
snapshots = SnapshotEnsembleCallback(epochs=500, n_cycles=10, lr_max=0.01)
model.fit(X_train, y_train, epochs=500, batch_size=32, verbose=0, callbacks=[snapshots])
print("snapshots taken at epochs", snapshots.snapshot_epochs_.tolist())

# %%
# The newest snapshot alone against the newest k
# ----------------------------------------------
# ``predict_ensemble(X, n_members=k)`` averages the outputs of the newest k
# snapshots; ``n_members=1`` is the network training ended with. Accuracy barely
# moves on this easy problem, but the log-loss falls as snapshots join.
rows = []
for k in range(1, 11):
    proba = snapshots.predict_ensemble(X_test, n_members=k)
    # float32 softmax rows sum to one only to about 1e-7
    proba /= proba.sum(axis=1, keepdims=True)
    rows.append(
        (k, accuracy_score(y_test, proba.argmax(axis=1)), log_loss(y_test, proba))
    )
print(f"{'members':>8} {'accuracy':>9} {'log-loss':>9}")
for k, accuracy, loss in rows:
    print(f"{k:>8} {accuracy:>9.3f} {loss:>9.4f}")

# %%
# The schedule and the ensemble
# -----------------------------
# ``learning_rate_history_`` holds the rate of every mini-batch (2000 of them:
# 4 per epoch), as the optimizer applied it.
fig, (rate_ax, size_ax) = plt.subplots(1, 2, figsize=(10, 3.5))
epochs = np.arange(len(snapshots.learning_rate_history_)) / snapshots.steps_per_epoch_
rate_ax.plot(epochs, snapshots.learning_rate_history_)
for epoch in snapshots.snapshot_epochs_:
    rate_ax.axvline(epoch, color="grey", lw=0.5)
rate_ax.set(xlabel="epoch", ylabel="learning rate", title="Rate per mini-batch")
size_ax.plot([r[0] for r in rows], [r[1] for r in rows], marker="o")
size_ax.set(
    xlabel="newest snapshots averaged",
    ylabel="test accuracy",
    title="Ensemble size",
)
fig.tight_layout()

# %%
# Loading the snapshots as a scikit-learn estimator
# -------------------------------------------------
# With ``snapshot_dir`` (and the ``classes`` of the output columns) the callback
# writes each snapshot as it is taken, in the estimators' crash-safe format;
# ``SnapshotEnsembleClassifier.from_snapshot_dir`` loads it as a fitted
# classifier that scores, pickles and goes into a Pipeline like any other.
#
# .. code-block:: python
#
#     callback = SnapshotEnsembleCallback(
#         epochs=500, n_cycles=10, lr_max=0.01,
#         snapshot_dir="blobs-snapshots", classes=[0, 1, 2],
#     )
#     model.fit(X_train, y_train, epochs=500, batch_size=32, callbacks=[callback])
#     classifier = SnapshotEnsembleClassifier.from_snapshot_dir("blobs-snapshots")
#     classifier.score(X_test, y_test)
