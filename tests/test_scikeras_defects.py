"""Defects found by running scikeras' and Keras' wrapper tests (issue 17)."""

import keras
import numpy as np
import pytest

from .conftest import fast_classifier


def _network(meta):
    return keras.Sequential(
        [
            keras.Input((meta["n_features_in_"],)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(meta["n_classes_"], activation="softmax"),
        ]
    )


@pytest.fixture
def float64():
    # Keras caches its global dtype policy from floatx when it is first read:
    # both are set, and both restored, or later tests build float64 layers
    previous = keras.config.floatx(), keras.config.dtype_policy().name
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_floatx(previous[0])
    keras.config.set_dtype_policy(previous[1])


def test_custom_network_under_float64(blobs, float64):
    X, y, X_test, _ = blobs
    classifier = fast_classifier(model=_network).fit(X, y)
    proba = classifier.predict_proba(X_test)
    assert proba.shape == (len(X_test), 3) and np.isfinite(proba).all()
    assert np.isfinite(classifier.loss_history_).all()


@pytest.mark.parametrize("weighted", [False, True])
def test_a_loss_without_reduction_trains_as_its_mean(blobs, weighted):
    X, y, X_test, _ = blobs
    weights = np.random.default_rng(0).uniform(0.5, 2.0, len(y)) if weighted else None
    per_row = fast_classifier(
        model=_network, loss=keras.losses.SparseCategoricalCrossentropy(reduction=None)
    ).fit(X, y, sample_weight=weights)
    reduced = fast_classifier(
        model=_network, loss=keras.losses.SparseCategoricalCrossentropy()
    ).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(
        per_row.predict_proba(X_test), reduced.predict_proba(X_test), atol=1e-5
    )
    np.testing.assert_allclose(per_row.loss_history_, reduced.loss_history_, rtol=1e-5)


class _Counting(keras.callbacks.Callback):
    def __init__(self, start=0):
        super().__init__()
        self.cycles = start

    def on_epoch_end(self, epoch, logs=None):
        self.cycles += 1


@pytest.mark.parametrize("form", ["instance", "dict", "list"])
def test_fit_callbacks_take_scikeras_forms(blobs, form):
    X, y, _, _ = blobs
    counting = _Counting()
    callbacks = {
        "instance": counting,
        "dict": {"counting": counting},
        "list": [counting],
    }[form]
    fast_classifier(fit__callbacks=callbacks).fit(X, y)
    assert counting.cycles == 3


def test_fit_callbacks_classes_take_routed_arguments(blobs):
    X, y, _, _ = blobs
    # min_delta larger than any improvement: EarlyStopping stops after the
    # second cycle (patience 0), so only its arguments can make it stop there
    classifier = fast_classifier(
        fit__callbacks=[keras.callbacks.EarlyStopping],
        fit__callbacks__0__monitor="loss",
        fit__callbacks__0__patience=0,
        fit__callbacks__0__min_delta=10.0,
    ).fit(X, y)
    assert classifier.n_snapshots_ == 2
    by_name = fast_classifier(
        fit__callbacks={"count": _Counting}, fit__callbacks__count__start=10
    )
    by_name.fit(X, y)


def test_fit_callbacks_refuse_what_is_not_a_callback(blobs):
    X, y, _, _ = blobs
    with pytest.raises(ValueError, match="fit__callbacks must be a Keras callback"):
        fast_classifier(fit__callbacks=["early"]).fit(X, y)


def _scikeras_builder(meta, compile_kwargs):
    """scikeras' documented builder: the loss decides the output layer."""
    loss = compile_kwargs["loss"] or (
        "binary_crossentropy"
        if meta["n_classes_"] == 2
        else "sparse_categorical_crossentropy"
    )
    binary = loss == "binary_crossentropy"
    model = keras.Sequential(
        [
            keras.Input((meta["n_features_in_"],)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(
                1 if binary else meta["n_classes_"],
                activation="sigmoid" if binary else "softmax",
            ),
        ]
    )
    model.compile(loss=loss, optimizer=compile_kwargs["optimizer"])
    return model


def test_builders_get_no_loss_when_none_is_given(blobs):
    import pickle

    X, y, X_test, _ = blobs
    seen = []

    def builder(meta, compile_kwargs):
        seen.append(compile_kwargs["loss"])
        return _scikeras_builder(meta, compile_kwargs)

    binary = (y == 0).astype(int)
    classifier = fast_classifier(model=builder).fit(X, binary)
    assert seen[0] is None
    assert classifier.predict_proba(X_test).shape == (len(X_test), 2)
    assert classifier.score(X, binary) > 0.8
    module_builder = fast_classifier(model=_scikeras_builder).fit(X, binary)
    restored = pickle.loads(pickle.dumps(module_builder))
    np.testing.assert_array_equal(
        restored.predict_proba(X_test), module_builder.predict_proba(X_test)
    )
    # a loss given is handed on (resolved to Keras' loss, as scikeras does)
    fast_classifier(model=builder, loss="sparse_categorical_crossentropy").fit(X, y)
    assert seen[-1] is not None


def _two_softmax_units(meta, compile_kwargs):
    model = keras.Sequential(
        [
            keras.Input((meta["n_features_in_"],)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        loss="categorical_crossentropy", optimizer=compile_kwargs["optimizer"]
    )
    return model


@pytest.mark.parametrize("loss", [None, "categorical_crossentropy"])
def test_binary_targets_with_a_one_hot_loss(blobs, loss):
    import pickle

    X, y, X_test, _ = blobs
    labels = np.where(y == 0, "first", "other")
    params = {} if loss is None else {"loss": loss}
    classifier = fast_classifier(model=_two_softmax_units, **params).fit(X, labels)
    assert classifier.score(X, labels) > 0.8
    restored = pickle.loads(pickle.dumps(classifier))
    np.testing.assert_array_equal(
        restored.predict_proba(X_test), classifier.predict_proba(X_test)
    )
    # a warm start after the round trip encodes the targets the same way
    restored.set_params(warm_start=True).fit(X, labels)
