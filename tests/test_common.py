"""scikit-learn's own estimator checks on small, fast instances."""

import keras
from sklearn.utils.estimator_checks import parametrize_with_checks

from .conftest import fast_classifier, fast_regressor


def dense_stack(meta, compile_kwargs, layers=(20, 20, 20)):
    """A custom builder of the configuration Keras' own wrapper tests check
    (``keras/src/wrappers/sklearn_test.py``: three hidden layers of 20, a loss
    given to the estimator), written for the scikeras builder convention."""
    inputs = keras.Input((meta["n_features_in_"],))
    hidden = inputs
    for units in layers:
        hidden = keras.layers.Dense(units, activation="relu")(hidden)
    classifier = "n_classes_" in meta
    outputs = keras.layers.Dense(
        meta["n_classes_"] if classifier else meta["n_outputs_"],
        activation="softmax" if classifier else None,
    )(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(loss=compile_kwargs["loss"], optimizer=compile_kwargs["optimizer"])
    return model


# Each expected failure, once per estimator class, with the reason it cannot pass.
EXPECTED_FAILED_CHECKS = {
    "SnapshotEnsembleClassifier": {
        "check_sample_weight_equivalence_on_dense_data": (
            "Mini-batch SGD: repeating a row adds mini-batches to every epoch and"
            " changes which rows share a batch, so weighting a row is not the same"
            " training run as repeating it (scikit-learn marks SGDClassifier"
            " likewise, and checks MLPClassifier only with its full-batch lbfgs"
            " solver)."
        ),
    },
    "SnapshotEnsembleRegressor": {
        "check_sample_weight_equivalence_on_dense_data": (
            "Mini-batch SGD: repeating a row adds mini-batches to every epoch and"
            " changes which rows share a batch, so weighting a row is not the same"
            " training run as repeating it (scikit-learn marks SGDRegressor"
            " likewise)."
        ),
    },
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS[type(estimator).__name__]


@parametrize_with_checks(
    [
        fast_classifier(epochs=30, n_cycles=2),
        fast_regressor(epochs=30, n_cycles=2, lr_max=0.01),
        # the defaults' shape: cross-fitted networks, growing cycles, voting
        # weights fitted out of fold
        fast_classifier(epochs=30, n_cycles=3, n_networks=3, t_mult=2.0),
        fast_regressor(epochs=30, n_cycles=3, n_networks=3, t_mult=2.0, lr_max=0.01),
        # custom networks, one-hot targets for categorical cross-entropy
        fast_classifier(
            model=dense_stack, loss="categorical_crossentropy", epochs=30, n_cycles=2
        ),
        fast_regressor(
            model=dense_stack, loss="mse", epochs=30, n_cycles=2, lr_max=0.01
        ),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
