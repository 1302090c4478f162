"""Defects found by running scikeras' and Keras' wrapper tests (issue 17)."""

import pickle

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import check_no_attributes_set_in_init

from skl_snapshot import SnapshotEnsembleClassifier

from ._builders import output_layer, small_net
from .conftest import fast_classifier


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
    classifier = fast_classifier(model=small_net).fit(X, y)
    proba = classifier.predict_proba(X_test)
    assert proba.shape == (len(X_test), 3) and np.isfinite(proba).all()
    assert np.isfinite(classifier.loss_history_).all()


@pytest.mark.parametrize("weighted", [False, True])
def test_a_loss_without_reduction_trains_as_its_mean(blobs, weighted):
    X, y, X_test, _ = blobs
    weights = np.random.default_rng(0).uniform(0.5, 2.0, len(y)) if weighted else None
    per_row = fast_classifier(
        model=small_net, loss=keras.losses.SparseCategoricalCrossentropy(reduction=None)
    ).fit(X, y, sample_weight=weights)
    reduced = fast_classifier(
        model=small_net, loss=keras.losses.SparseCategoricalCrossentropy()
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


# -- found by the adapted peer suite (tests/peers) ------------------------------


def _builder(meta, compile_kwargs, units=8):
    model = keras.Sequential(
        [
            keras.Input((meta["n_features_in_"],)),
            keras.layers.Dense(units, activation="relu"),
            output_layer(meta),
        ]
    )
    model.compile(**{key: compile_kwargs[key] for key in ("optimizer", "loss")})
    return model


def test_a_subclass_written_the_scikeras_way_keeps_the_base_parameters(task):
    # __init__(self, model=None, split=True, **kwargs): the base's parameters
    # were taken for builder arguments ("does not accept activation='relu'")
    class Subclass(task.Estimator):
        def __init__(self, model=None, split=True, **kwargs):
            super().__init__(model=model, **kwargs)
            self.split = split

    estimator = Subclass(
        model=_builder, split=False, epochs=4, n_cycles=2, n_networks=1
    )
    params = estimator.get_params()
    assert params["split"] is False and params["epochs"] == 4
    assert "activation" in params and "activation" not in estimator._extra_params
    clone(estimator).fit(task.X, task.y)


def test_routed_parameters_are_parameters_not_attributes(task):
    estimator = task.make(model=_builder, model__units=4)
    assert "model__units" not in vars(estimator)
    assert estimator.get_params()["model__units"] == 4
    assert estimator.model__units == 4
    estimator.set_params(model__units=6, optimizer__nesterov=True)
    assert clone(estimator).get_params()["model__units"] == 6
    check_no_attributes_set_in_init(task.Estimator.__name__, estimator)
    with pytest.raises(AttributeError, match="no attribute 'model__other'"):
        estimator.model__other  # noqa: B018


def test_old_pickles_of_routed_parameters_still_load(task):
    estimator = task.make(model=_builder, model__units=4)
    state = estimator.__getstate__()
    extra = state.pop("_extra_params")
    state.update(extra)  # how a routed parameter was pickled before
    old = task.Estimator.__new__(task.Estimator)
    old.__setstate__(state)
    assert old.get_params()["model__units"] == 4 and "model__units" not in vars(old)


def test_model_is_the_network_with_the_newest_snapshot(task):
    estimator = task.make(n_networks=2).fit(task.X, task.y)
    network = estimator.model_
    assert isinstance(network, keras.Model) and estimator.model_ is network
    newest = estimator._ordered_snapshots_by_age()[0]
    estimator.predict(task.X_test)  # loads every member into the network
    for weight, expected in zip(
        estimator.model_.get_weights(), estimator.snapshot_weights_[newest], strict=True
    ):
        np.testing.assert_array_equal(weight, expected)
    assert estimator.target_encoder_ is estimator._target_encoder
    with pytest.raises(NotFittedError):
        task.make().model_  # noqa: B018


def test_builders_get_the_encoders_in_meta(task):
    seen = {}

    def builder(meta, compile_kwargs):
        seen.update(meta)
        return _builder(meta, compile_kwargs)

    task.make(model=builder).fit(task.X, task.y)
    features = seen["feature_encoder_"]
    np.testing.assert_array_equal(features.transform(task.X[:2]), task.X[:2])
    assert hasattr(seen["target_encoder_"], "transform")
    if task.name == "regressor":
        assert seen["n_outputs_expected_"] == 1


@pytest.mark.parametrize("loss", [None, "categorical_crossentropy"])
def test_one_hot_targets_are_classes_and_predictions_one_hot_rows(
    blobs, loss, tmp_path
):
    X, y, X_test, y_test = blobs
    one_hot = np.eye(3, dtype=np.uint8)[y]
    labels = fast_classifier(loss=loss).fit(X, y)
    rows = fast_classifier(loss=loss).fit(X, one_hot)
    np.testing.assert_array_equal(rows.classes_, [0, 1, 2])
    np.testing.assert_allclose(rows.predict_proba(X_test), labels.predict_proba(X_test))
    predicted = rows.predict(X_test)
    assert predicted.dtype == np.uint8 and predicted.shape == (len(X_test), 3)
    np.testing.assert_array_equal(predicted.argmax(axis=1), labels.predict(X_test))
    test_rows = np.eye(3, dtype=np.uint8)[y_test]
    assert rows.score(X_test, test_rows) == labels.score(X_test, y_test)
    np.testing.assert_allclose(
        rows.snapshot_scores(X_test, test_rows).ensemble_log_loss,
        labels.snapshot_scores(X_test, y_test).ensemble_log_loss,
    )
    loaded = pickle.loads(pickle.dumps(rows))
    np.testing.assert_array_equal(loaded.predict(X_test), predicted)
    saved = fast_classifier(loss=loss, snapshot_dir=tmp_path / "run").fit(X, one_hot)
    loaded = SnapshotEnsembleClassifier.from_snapshot_dir(tmp_path / "run")
    np.testing.assert_array_equal(loaded.predict(X_test), saved.predict(X_test))


def test_multilabel_rows_are_refused_with_the_row(blobs):
    X, y, _, _ = blobs
    rows = np.eye(3)[y]
    rows[5, :] = 1
    with pytest.raises(ValueError, match="multilabel.*3 ones \\(row 5\\)"):
        fast_classifier().fit(X, rows)


def test_nested_optimizer_names_reach_nothing_and_say_so(blobs):
    X, y, X_test, _ = blobs
    with pytest.warns(UserWarning, match="optimizer__xyz__abc reaches no object"):
        nested = fast_classifier(optimizer__xyz__abc="error!").fit(X, y)
    np.testing.assert_allclose(
        nested.predict_proba(X_test),
        fast_classifier().fit(X, y).predict_proba(X_test),
        rtol=1e-5,
    )


@pytest.mark.parametrize(
    "params, match",
    [
        ({"optimizer": "adam"}, "optimizer is a scikeras parameter.*SGD"),
        ({"validation_split": 0.1}, "validation_split.*validation_fraction"),
        ({"run_eagerly": True}, "run_eagerly is a scikeras parameter"),
        ({"predict__batch_size": 8}, "routing prefix 'predict'"),
    ],
)
def test_scikeras_only_parameters_are_refused_with_the_reason(task, params, match):
    with pytest.raises(ValueError, match=match):
        task.make(model=_builder, **params).fit(task.X, task.y)


def test_metrics_reach_the_builder_compiled(task):
    seen = {}

    def builder(meta, compile_kwargs):
        seen.update(compile_kwargs)
        return _builder(meta, compile_kwargs)

    task.make(model=builder, metrics="mae").fit(task.X, task.y)
    assert set(seen) == task.Estimator._compile_kwargs
    assert [type(metric).__name__ for metric in seen["metrics"]] == [
        "MeanAbsoluteError"
    ]


class _Recorded(_Counting):
    made = []

    def __init__(self, start=0):
        super().__init__(start)
        self.made.append(self)


def test_callbacks_as_scikeras_spells_them(blobs):
    X, y, _, _ = blobs
    _Recorded.made.clear()
    classifier = fast_classifier(callbacks=_Recorded, callbacks__start=10).fit(X, y)
    (callback,) = _Recorded.made
    # made with its routed argument, then called at the end of each cycle
    assert callback.cycles == 10 + classifier.n_cycles


def test_a_subclass_keras_build_fn_builds_the_network(blobs):
    X, y, _, _ = blobs

    class WithBuildFn(SnapshotEnsembleClassifier):
        def _keras_build_fn(self, meta, compile_kwargs):
            return _builder(meta, compile_kwargs, units=5)

    classifier = WithBuildFn(epochs=4, n_cycles=2, n_networks=1).fit(X, y)
    assert classifier.model_.layers[0].units == 5


def test_a_loss_given_twice_must_agree(task):
    def builder(meta, compile_kwargs):
        model = _builder(meta, compile_kwargs)
        model.compile(optimizer=compile_kwargs["optimizer"], loss=compiled)
        return model

    compiled = (
        keras.losses.CategoricalHinge()
        if task.name == "classifier"
        else (keras.losses.MeanAbsoluteError())
    )
    given = "mse" if task.name == "regressor" else "sparse_categorical_crossentropy"
    with pytest.raises(ValueError, match="but model compiled with"):
        task.make(model=builder, loss=given).fit(task.X, task.y)
    same = type(compiled)()
    fitted = task.make(model=builder, loss=same).fit(task.X, task.y)
    assert fitted.model_.loss is compiled  # the builder's, with its configuration


def test_a_keras_wrappers_builder_gets_the_training_rows(task):
    # keras.wrappers' convention: model(X, y, **model_kwargs), y one-hot for
    # a classifier and as given for a regressor
    seen = []

    def builder(X, y, units=8):
        seen.append((X.shape, y.shape))
        n_outputs = y.shape[1] if y.ndim > 1 else 1
        model = keras.Sequential(
            [
                keras.Input((X.shape[1],)),
                keras.layers.Dense(units, activation="relu"),
                keras.layers.Dense(
                    n_outputs,
                    activation="softmax" if task.name == "classifier" else None,
                ),
            ]
        )
        model.compile(
            loss="categorical_crossentropy" if task.name == "classifier" else "mse"
        )
        return model

    estimator = task.make(model=builder, model__units=4).fit(task.X, task.y)
    n_outputs = 3 if task.name == "classifier" else 1
    expected_y = (len(task.y), 3) if task.name == "classifier" else (len(task.y),)
    assert seen == [(task.X.shape, expected_y)]
    before = getattr(estimator, task.output_method)(task.X_test)
    del estimator._predictor  # as after unpickling: rebuilt on demand
    np.testing.assert_allclose(
        getattr(estimator, task.output_method)(task.X_test), before
    )
    # rebuilt for prediction from a one-row stand-in of the same shape
    assert seen[1] == ((1, 4), (1, n_outputs) if n_outputs > 1 else (1,))
