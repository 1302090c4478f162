"""
Coming from scikeras or keras.wrappers
======================================

scikeras is no longer maintained (its author, scikeras#337: "Please use the
wrappers in Keras itself"), and Keras 3 ships ``keras.wrappers.SKLearnClassifier``.
``SnapshotEnsembleClassifier`` keeps scikeras' conventions, so a scikeras model
moves over with its builder unchanged, and it calls a builder written for
keras.wrappers the way keras.wrappers does. This example trains the same Keras
network with the three APIs side by side on the same split, then lists what
carries over and what differs on purpose.
"""

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import time  # noqa: E402

import keras  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_wine  # noqa: E402
from sklearn.metrics import accuracy_score, log_loss  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skl_snapshot import SnapshotEnsembleClassifier  # noqa: E402

X, y = load_wine(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.5, stratify=y, random_state=0
)


# %%
# One builder, scikeras style
# ---------------------------
# scikeras calls the builder with ``meta`` (what the data look like) and
# ``compile_kwargs`` (the loss and optimizer the estimator was given), plus any
# ``model__*`` parameters. ``SnapshotEnsembleClassifier`` calls it the same way.
def build(meta, compile_kwargs, hidden=32):
    model = keras.Sequential(
        [
            keras.Input((meta["n_features_in_"],)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(meta["n_classes_"], activation="softmax"),
        ]
    )
    model.compile(
        loss=compile_kwargs["loss"] or "sparse_categorical_crossentropy",
        optimizer=compile_kwargs["optimizer"],
    )
    return model


# keras.wrappers calls its builder with X and y instead, and one-hot encodes y;
# a builder that names X and y gets them from SnapshotEnsembleClassifier too
def build_for_keras_wrappers(X, y, hidden=32):
    model = keras.Sequential(
        [
            keras.Input((X.shape[1],)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(y.shape[1], activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    return model


# %%
# The three estimators
# --------------------
from keras.wrappers import SKLearnClassifier  # noqa: E402
from scikeras.wrappers import KerasClassifier  # noqa: E402

keras.utils.set_random_seed(0)
# keras.wrappers' predict prints Keras' progress bar otherwise
keras.config.disable_interactive_logging()
estimators = {
    "scikeras KerasClassifier": KerasClassifier(
        model=build,
        model__hidden=32,
        loss="sparse_categorical_crossentropy",
        optimizer="sgd",
        optimizer__momentum=0.9,
        optimizer__learning_rate=0.05,
        epochs=60,
        batch_size=16,
        verbose=0,
        random_state=0,
    ),
    "keras.wrappers SKLearnClassifier": SKLearnClassifier(
        model=build_for_keras_wrappers,
        model_kwargs={"hidden": 32},
        fit_kwargs={"epochs": 60, "batch_size": 16, "verbose": 0},
    ),
    "SnapshotEnsembleClassifier": SnapshotEnsembleClassifier(
        model=build,
        model__hidden=32,
        epochs=60,
        n_cycles=4,
        t_mult=1.0,
        n_networks=1,
        lr_max=0.05,
        batch_size=16,
        random_state=0,
    ),
}
# the same estimator with the keras.wrappers builder, unchanged: its
# model_kwargs are the model__* parameters
estimators["SnapshotEnsembleClassifier, X/y builder"] = clone(
    estimators["SnapshotEnsembleClassifier"]
).set_params(model=build_for_keras_wrappers)
print(f"{'estimator':<40} {'accuracy':>8} {'log-loss':>9} {'fit s':>6}")
for name, estimator in estimators.items():
    pipeline = make_pipeline(StandardScaler(), estimator)
    start = time.perf_counter()
    pipeline.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    accuracy = accuracy_score(y_test, pipeline.predict(X_test))
    # keras.wrappers' classifier has no predict_proba
    loss = (
        f"{log_loss(y_test, pipeline.predict_proba(X_test)):.4f}"
        if hasattr(pipeline[-1], "predict_proba")
        else "-"
    )
    print(f"{name:<40} {accuracy:>8.3f} {loss:>9} {seconds:>6.1f}")

# %%
# What carries over
# -----------------
# - ``model=``: a builder called with ``meta`` and ``compile_kwargs`` (and
#   ``params``) when its signature asks for them, or a ready ``keras.Model``.
#   ``compile_kwargs["loss"]`` is None when no loss is given, as in scikeras.
#   A builder that names ``X`` and ``y`` gets them as keras.wrappers passes
#   them; a subclass may define ``_keras_build_fn`` instead.
# - Routed parameters: ``model__*`` to the builder, ``optimizer__*`` to the
#   optimizer, ``loss__*`` to the loss, ``metrics`` and ``metrics__*`` to the
#   builder's ``compile_kwargs``, ``fit__callbacks`` or ``callbacks`` (one
#   callback, a list or a dict, of instances or classes, with
#   ``callbacks__0__x``).
# - ``model_`` (the network, holding the newest snapshot) and
#   ``target_encoder_``; one-hot ``y`` (classes 0..k-1, one-hot predictions).
# - The target encoding of scikeras' ``ClassifierLabelEncoder``, including one
#   sigmoid unit for two classes and one-hot targets for
#   ``categorical_crossentropy``; ``meta`` with ``n_features_in_``,
#   ``n_classes_``, ``classes_``, ``n_outputs_expected_``.
# - ``random_state``, ``warm_start``, pickling, ``get_params``/``set_params``,
#   GridSearchCV over routed parameters.
#
# What differs, on purpose
# ------------------------
# - The optimizer is always SGD with the snapshot schedule: ``optimizer=`` is
#   not a parameter, ``optimizer__*`` configures SGD (``learning_rate`` and
#   ``momentum`` belong to ``lr_max`` and ``momentum``, and a nested name such
#   as ``optimizer__x__y`` reaches nothing, with a warning, since SGD takes no
#   object-valued argument), and the learning rate follows the cycles.
# - Training is our compiled loop, not ``keras.Model.fit``: ``fit__*`` takes
#   ``fit__callbacks`` only, and Keras callbacks see one "epoch" per cycle.
# - Prediction averages the snapshots (``n_members``, ``member_order``,
#   ``member_weights``); ``predict_proba`` always exists (keras.wrappers has
#   none).
# - Errors are scikit-learn's, naming the parameter and the value received,
#   where scikeras often lets TensorFlow raise.
# - Inputs are 2-D tables, one Keras input; targets are one label per row
#   (labels or one-hot rows), not multilabel or multi-output.
# - No ``partial_fit`` or ``initialize``: ``warm_start=True`` continues a run
#   with new cycles.
# - The full list, with the peers' tests that each difference rules out, is
#   in the user guide ("What differs on purpose").
