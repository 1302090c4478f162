"""SnapshotEnsembleCallback: snapshot ensembles in a plain keras.Model.fit."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.datasets import make_blobs  # noqa: E402

from skl_snapshot import (  # noqa: E402
    SnapshotDirectoryError,
    SnapshotEnsembleCallback,
    SnapshotEnsembleClassifier,
    SnapshotEnsembleRegressor,
    cycle_epochs,
    cyclic_cosine_annealing,
)
from skl_snapshot._ensemble_callback import keras_schedule  # noqa: E402

N_ROWS, BATCH = 60, 16  # 4 mini-batches an epoch


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=N_ROWS + 40, centers=3, n_features=2, random_state=2)
    return X.astype("float32"), y.astype("int64")


def sequential(n_outputs=3, activation="softmax"):
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(n_outputs, activation=activation),
        ]
    )


def functional():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((2,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    hidden = keras.layers.BatchNormalization()(hidden)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(3, activation="softmax")

    def call(self, x):
        return self.out(self.hidden(x))


def compiled(model, lr=0.5):
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=lr, momentum=0.9),
        loss="sparse_categorical_crossentropy",
    )
    return model


class RateRecorder(keras.callbacks.Callback):
    """The rate the optimizer applies at each mini-batch, read in Python."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(self.model.optimizer.learning_rate))


def fit(model, X, y, callback, epochs=8, **kwargs):
    model.fit(
        X[:N_ROWS],
        y[:N_ROWS],
        epochs=epochs,
        batch_size=BATCH,
        verbose=0,
        callbacks=[callback, *kwargs.pop("callbacks", [])],
        **kwargs,
    )
    return callback


def loop_average(model, weights, X):
    saved = model.get_weights()
    outputs = []
    for member in weights:
        model.set_weights(member)
        outputs.append(model.predict(X, verbose=0))
    model.set_weights(saved)
    return np.mean(outputs, axis=0)


def triangular_reference(step, cycle_steps, lr_max, lr_min):
    """Smith's triangular cyclical rate, written out on its own."""
    starts = np.concatenate([[0], np.cumsum(cycle_steps)[:-1]])
    cycle = np.searchsorted(starts, step, side="right") - 1
    position = (step - starts[cycle]) / np.asarray(cycle_steps)[cycle]
    return lr_min + (lr_max - lr_min) * (1 - np.abs(2 * position - 1))


@pytest.mark.parametrize("build", [sequential, functional, Subclassed])
def test_snapshots_rates_and_ensemble(blobs, build):
    X, y = blobs
    model = compiled(build())
    rates = RateRecorder()
    callback = SnapshotEnsembleCallback(epochs=8, n_cycles=4, lr_max=0.1)
    fit(model, X, y, callback, callbacks=[rates])

    assert callback.snapshot_epochs_.tolist() == [2, 4, 6, 8]
    assert len(callback.snapshot_weights_) == 4
    assert callback.steps_per_epoch_ == 4
    reference = cyclic_cosine_annealing(np.arange(32), [8] * 4, lr_max=0.1)
    np.testing.assert_allclose(rates.rates, reference, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        callback.learning_rate_history_, reference, rtol=1e-5, atol=1e-7
    )
    # snapshots are copies: the last one is the final weights, the others differ
    for final, snapshot in zip(
        model.get_weights(), callback.snapshot_weights_[-1], strict=True
    ):
        np.testing.assert_array_equal(final, snapshot)
    assert not np.array_equal(
        callback.snapshot_weights_[0][0], callback.snapshot_weights_[-1][0]
    )
    expected = loop_average(model, callback.snapshot_weights_[-3:], X[N_ROWS:])
    np.testing.assert_allclose(
        callback.predict_ensemble(X[N_ROWS:], n_members=3), expected, atol=1e-6
    )
    # the optimizer gets its own rate back, and a later fit trains at it
    assert float(model.optimizer.learning_rate) == pytest.approx(0.5)
    after = RateRecorder()
    model.fit(X, y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[after])
    assert after.rates and all(rate == pytest.approx(0.5) for rate in after.rates)


def test_tf_data_input_and_dataset_prediction(blobs):
    X, y = blobs
    model = compiled(sequential())
    data = tf.data.Dataset.from_tensor_slices((X[:N_ROWS], y[:N_ROWS])).batch(BATCH)
    rates = RateRecorder()
    callback = SnapshotEnsembleCallback(epochs=6, n_cycles=3, lr_max=0.1, lr_min=0.01)
    model.fit(data, epochs=6, verbose=0, shuffle=False, callbacks=[callback, rates])
    assert callback.snapshot_epochs_.tolist() == [2, 4, 6]
    reference = cyclic_cosine_annealing(np.arange(24), [8] * 3, 0.1, 0.01)
    np.testing.assert_allclose(rates.rates, reference, rtol=1e-5, atol=1e-7)
    test = tf.data.Dataset.from_tensor_slices((X[N_ROWS:], y[N_ROWS:])).batch(7)
    np.testing.assert_allclose(
        callback.predict_ensemble(test),
        callback.predict_ensemble(X[N_ROWS:], batch_size=5),
        atol=1e-12,
    )


def test_generator_without_length_is_refused(blobs):
    X, y = blobs
    model = compiled(sequential())

    def batches():
        while True:
            yield X[:BATCH], y[:BATCH]

    callback = SnapshotEnsembleCallback(epochs=2, n_cycles=1, lr_max=0.1)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        model.fit(batches(), epochs=2, verbose=0, shuffle=False, callbacks=[callback])
    # with the number of steps it works
    model.fit(
        batches(),
        epochs=2,
        steps_per_epoch=3,
        verbose=0,
        shuffle=False,
        callbacks=[callback],
    )
    assert callback.snapshot_epochs_.tolist() == [2]


def test_schedule_starts_at_the_fit_of_a_trained_optimizer(blobs):
    X, y = blobs
    model = compiled(sequential())
    model.fit(X, y, epochs=2, batch_size=BATCH, verbose=0)
    assert int(model.optimizer.iterations.numpy()) > 0
    rates = RateRecorder()
    callback = SnapshotEnsembleCallback(epochs=4, n_cycles=2, lr_max=0.2)
    fit(model, X, y, callback, epochs=4, callbacks=[rates])
    reference = cyclic_cosine_annealing(np.arange(16), [8, 8], lr_max=0.2)
    np.testing.assert_allclose(rates.rates, reference, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    ("schedule", "t_mult"), [("cosine", 1.0), ("cosine", 2.0), ("triangular", 1.0)]
)
def test_each_schedule_against_numpy(blobs, schedule, t_mult):
    X, y = blobs
    model = compiled(sequential())
    rates = RateRecorder()
    callback = SnapshotEnsembleCallback(
        epochs=9, n_cycles=3, lr_max=0.1, lr_min=0.001, t_mult=t_mult, schedule=schedule
    )
    fit(model, X, y, callback, epochs=9, callbacks=[rates])
    lengths = cycle_epochs(9, 3, t_mult)
    assert callback.snapshot_epochs_.tolist() == np.cumsum(lengths).tolist()
    cycle_steps = [4 * epochs for epochs in lengths]
    steps = np.arange(sum(cycle_steps))
    if schedule == "cosine":
        reference = cyclic_cosine_annealing(steps, cycle_steps, 0.1, 0.001)
    else:
        reference = triangular_reference(steps, cycle_steps, 0.1, 0.001)
    np.testing.assert_allclose(rates.rates, reference, rtol=1e-5, atol=1e-7)


def test_equal_cosine_cycles_are_keras_cosine_decay_restarts():
    schedule = keras_schedule("cosine", [10, 10, 10], lr_max=0.1, lr_min=0.01)
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecayRestarts)
    steps = np.arange(30)
    np.testing.assert_allclose(
        np.asarray(schedule(steps)),
        cyclic_cosine_annealing(steps, [10, 10, 10], 0.1, 0.01),
        rtol=1e-5,
    )
    unequal = keras_schedule("cosine", [10, 20], lr_max=0.1, lr_min=0.0)
    np.testing.assert_allclose(
        np.asarray(unequal(np.arange(30))),
        cyclic_cosine_annealing(np.arange(30), [10, 20], 0.1),
        rtol=1e-5,
        atol=1e-8,
    )


def test_restarts_shrink_the_weights_after_each_snapshot(blobs):
    X, y = blobs
    seen = []

    class FirstBatch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(self.model.get_weights())

    model = compiled(sequential())
    callback = SnapshotEnsembleCallback(
        epochs=4, n_cycles=2, lr_max=0.1, restart_shrink=0.5
    )
    fit(model, X, y, callback, epochs=4, callbacks=[FirstBatch()])
    # epoch 2 starts from the first snapshot, halved
    for snapshot, start in zip(callback.snapshot_weights_[0], seen[2], strict=True):
        np.testing.assert_allclose(start, 0.5 * snapshot, rtol=1e-6)


def test_classifier_directory_loads_as_an_estimator(blobs, tmp_path):
    X, y = blobs
    labels = np.array(["a", "b", "c"])
    model = compiled(sequential())
    callback = SnapshotEnsembleCallback(
        epochs=8, n_cycles=4, lr_max=0.1, snapshot_dir=tmp_path, classes=labels
    )
    fit(model, X, y, callback)
    estimator = SnapshotEnsembleClassifier.from_snapshot_dir(tmp_path)
    np.testing.assert_array_equal(estimator.classes_, labels)
    assert estimator.n_snapshots_ == 4
    np.testing.assert_array_equal(estimator.snapshot_epochs_, [2, 4, 6, 8])
    np.testing.assert_allclose(
        estimator.predict_proba(X[N_ROWS:]),
        callback.predict_ensemble(X[N_ROWS:]),
        atol=1e-6,
    )
    assert set(estimator.predict(X[N_ROWS:])) <= set(labels)
    with pytest.raises(SnapshotDirectoryError, match="SnapshotEnsembleClassifier"):
        SnapshotEnsembleRegressor.from_snapshot_dir(tmp_path)
    # the directory holds a run: a second fit there needs overwrite=True
    with pytest.raises(SnapshotDirectoryError):
        fit(
            compiled(sequential()),
            X,
            y,
            SnapshotEnsembleCallback(
                epochs=8, n_cycles=4, lr_max=0.1, snapshot_dir=tmp_path, classes=labels
            ),
        )


def test_regressor_directory_loads_as_an_estimator(blobs, tmp_path):
    X, _ = blobs
    target = (X[:, 0] * 2 - X[:, 1]).astype("float32")
    model = sequential(n_outputs=1, activation="linear")
    model.compile(optimizer=keras.optimizers.SGD(momentum=0.9), loss="mse")
    callback = SnapshotEnsembleCallback(
        epochs=6, n_cycles=3, lr_max=0.01, snapshot_dir=tmp_path
    )
    fit(model, X, target, callback, epochs=6)
    estimator = SnapshotEnsembleRegressor.from_snapshot_dir(tmp_path)
    np.testing.assert_allclose(
        estimator.predict(X[N_ROWS:]),
        callback.predict_ensemble(X[N_ROWS:])[:, 0],
        rtol=1e-5,
        atol=1e-5,
    )


def test_what_a_directory_cannot_hold_is_refused(blobs, tmp_path):
    X, y = blobs
    callback = SnapshotEnsembleCallback(
        epochs=2, n_cycles=1, lr_max=0.1, snapshot_dir=tmp_path, classes=[0, 1, 2]
    )
    with pytest.raises(ValueError, match="Keras config"):
        fit(compiled(Subclassed()), X, y, callback, epochs=2)
    wrong = SnapshotEnsembleCallback(
        epochs=2, n_cycles=1, lr_max=0.1, snapshot_dir=tmp_path, classes=[0, 1]
    )
    with pytest.raises(ValueError, match="2 labels, but the model has 3 output"):
        fit(compiled(sequential()), X, y, wrong, epochs=2)
    assert not any(name.endswith(".h5") for name in os.listdir(tmp_path))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"epochs": 0}, "epochs must be an int >= 1. Got epochs=0"),
        ({"n_cycles": 20}, "epochs must be >= n_cycles"),
        ({"lr_max": -1.0}, "lr_max must be a finite number >= 0.0. Got lr_max=-1.0"),
        ({"lr_min": 0.5}, "lr_min must be a finite number in"),
        ({"schedule": "linear"}, "schedule must be one of"),
        ({"t_mult": 0.5}, "t_mult must be a finite number >= 1"),
        ({"restart_shrink": 2.0}, "restart_shrink must be a finite number in"),
        ({"task": "classification"}, "needs the classes"),
        ({"classes": [1, 1]}, "at least two distinct labels"),
        ({"classes": [0, 1], "task": "regression"}, "a regression has none"),
    ],
)
def test_invalid_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        SnapshotEnsembleCallback(
            **{"epochs": 4, "n_cycles": 2, "lr_max": 0.1, **params}
        )


def test_fit_must_run_the_callbacks_epochs(blobs):
    X, y = blobs
    callback = SnapshotEnsembleCallback(epochs=4, n_cycles=2, lr_max=0.1)
    with pytest.raises(ValueError, match=r"Got model.fit\(epochs=3\)"):
        fit(compiled(sequential()), X, y, callback, epochs=3)


def test_predict_ensemble_errors(blobs):
    X, y = blobs
    callback = SnapshotEnsembleCallback(epochs=4, n_cycles=2, lr_max=0.1)
    with pytest.raises(ValueError, match="no snapshot yet"):
        callback.predict_ensemble(X)
    fit(compiled(sequential()), X, y, callback, epochs=4)
    with pytest.raises(
        ValueError, match=r"n_members must be None or an int in \[1, 2\]"
    ):
        callback.predict_ensemble(X, n_members=3)


@pytest.mark.parametrize(
    "make_strategy",
    [
        lambda: tf.distribute.OneDeviceStrategy("/cpu:0"),
        lambda: tf.distribute.MirroredStrategy(["/cpu:0"]),
    ],
    ids=["one_device", "mirrored"],
)
def test_under_a_distribution_strategy(blobs, make_strategy):
    X, y = blobs
    strategy = make_strategy()
    with strategy.scope():
        model = compiled(sequential())
    rates = RateRecorder()
    callback = SnapshotEnsembleCallback(epochs=4, n_cycles=2, lr_max=0.1)
    fit(model, X, y, callback, epochs=4, callbacks=[rates])
    reference = cyclic_cosine_annealing(np.arange(16), [8, 8], lr_max=0.1)
    np.testing.assert_allclose(rates.rates, reference, rtol=1e-5, atol=1e-7)
    assert callback.snapshot_epochs_.tolist() == [2, 4]


def test_a_fit_from_a_later_epoch_is_refused_and_the_rate_put_back(blobs):
    X, y = blobs
    model = compiled(sequential())
    callback = SnapshotEnsembleCallback(epochs=4, n_cycles=2, lr_max=0.1)
    with pytest.raises(ValueError, match="initial_epoch=2"):
        fit(model, X, y, callback, epochs=4, initial_epoch=2)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.5)
