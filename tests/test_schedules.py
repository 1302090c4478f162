"""The cyclic cosine schedule: NumPy function, Keras schedule, and what fit records.

Everything but the last test is pure: the schedule is checked against reference
formulas written here, independently of ``skl_snapshot._schedules``.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from skl_snapshot import CyclicCosineAnnealing, cycle_epochs, cyclic_cosine_annealing

from .conftest import fast_classifier

# (cycle_lengths, lr_max, lr_min): equal and unequal cycles, one-step cycles, a
# single cycle, and lr_min both zero and positive.
SCHEDULES = [
    ([50] * 10, 0.1, 0.0),
    ([3, 3, 4], 0.05, 0.001),
    ([7, 2, 11, 1], 0.3, 0.0),
    ([1, 1, 1], 1.0, 0.5),
    ([40], 0.2, 0.01),
    ([24, 24, 32], 0.1, 0.0),
]

UNEQUAL_SCHEDULES = [case for case in SCHEDULES if len(set(case[0])) > 1]
EQUAL_SCHEDULES = [case for case in SCHEDULES if len(set(case[0])) == 1]


def _reference_equal_cycles(steps, cycle_length, lr_max, lr_min):
    """SGDR with equal cycles of ``cycle_length`` iterations, for steps inside them."""
    position = (steps % cycle_length) / cycle_length
    return lr_min + (lr_max - lr_min) / 2 * (1 + np.cos(np.pi * position))


def _reference_loop(steps, cycle_lengths, lr_max, lr_min):
    """SGDR for any cycle lengths, one step at a time; ``lr_min`` after the end."""
    rates = []
    for step in steps:
        rate = lr_min
        start = 0
        for length in cycle_lengths:
            if step < start + length:
                cosine = 1 + math.cos(math.pi * (step - start) / length)
                rate = lr_min + (lr_max - lr_min) / 2 * cosine
                break
            start += length
        rates.append(rate)
    return np.array(rates)


def _cycle_starts(cycle_lengths):
    return np.concatenate([[0], np.cumsum(cycle_lengths)[:-1]]).astype(int)


# -- cycle_epochs ----------------------------------------------------------------


@pytest.mark.parametrize(
    "epochs, n_cycles, expected",
    [
        (10, 3, [3, 3, 4]),
        (500, 10, [50] * 10),
        (7, 7, [1] * 7),
        (5, 1, [5]),
        (200, 5, [40] * 5),
        (11, 4, [2, 2, 2, 5]),
        (np.int64(9), np.int32(2), [4, 5]),
    ],
)
def test_cycle_epochs_splits_evenly_with_remainder_last(epochs, n_cycles, expected):
    lengths = cycle_epochs(epochs, n_cycles)
    assert lengths == expected
    assert sum(lengths) == epochs
    assert len(lengths) == n_cycles
    assert all(isinstance(length, int | np.integer) for length in lengths)


@pytest.mark.parametrize(
    "epochs, n_cycles, error, match",
    [
        (10, 0, ValueError, r"n_cycles must be >= 1\. Got n_cycles=0\."),
        (10, -2, ValueError, r"n_cycles must be >= 1\. Got n_cycles=-2\."),
        (2, 3, ValueError, r"epochs must be >= n_cycles.*Got epochs=2 with n_cycles=3"),
        (0, 1, ValueError, r"Got epochs=0 with n_cycles=1"),
        (10.0, 3, TypeError, r"epochs must be an int\. Got epochs=10\.0\."),
        (10, 2.5, TypeError, r"n_cycles must be an int\. Got n_cycles=2\.5\."),
        ("10", 3, TypeError, r"epochs must be an int\. Got epochs='10'\."),
        (True, 1, TypeError, r"epochs must be an int\. Got epochs=True\."),
        (10, None, TypeError, r"n_cycles must be an int\. Got n_cycles=None\."),
    ],
)
def test_cycle_epochs_rejects_invalid_arguments(epochs, n_cycles, error, match):
    with pytest.raises(error, match=match):
        cycle_epochs(epochs, n_cycles)


# -- cyclic_cosine_annealing -----------------------------------------------------


@pytest.mark.parametrize("cycle_lengths, lr_max, lr_min", EQUAL_SCHEDULES)
def test_equal_cycles_match_closed_form(cycle_lengths, lr_max, lr_min):
    steps = np.arange(sum(cycle_lengths))
    np.testing.assert_allclose(
        cyclic_cosine_annealing(steps, cycle_lengths, lr_max, lr_min),
        _reference_equal_cycles(steps, cycle_lengths[0], lr_max, lr_min),
        rtol=1e-12,
        atol=1e-15,
    )


@pytest.mark.parametrize("cycle_lengths, lr_max, lr_min", SCHEDULES)
def test_matches_loop_reference(cycle_lengths, lr_max, lr_min):
    steps = np.arange(sum(cycle_lengths) + 5)
    np.testing.assert_allclose(
        cyclic_cosine_annealing(steps, cycle_lengths, lr_max, lr_min),
        _reference_loop(steps, cycle_lengths, lr_max, lr_min),
        rtol=1e-12,
        atol=1e-15,
    )


def test_docstring_example_values():
    np.testing.assert_allclose(
        cyclic_cosine_annealing([0, 1, 2, 3, 4], cycle_lengths=[2, 3], lr_max=0.1),
        [0.1, 0.05, 0.1, 0.075, 0.025],
    )


@pytest.mark.parametrize("cycle_lengths, lr_max, lr_min", SCHEDULES)
def test_every_cycle_restarts_at_lr_max(cycle_lengths, lr_max, lr_min):
    starts = _cycle_starts(cycle_lengths)
    rates = cyclic_cosine_annealing(starts, cycle_lengths, lr_max, lr_min)
    np.testing.assert_allclose(rates, lr_max, rtol=1e-12)
    # the step before a restart is the lowest of its cycle, below lr_max
    if lr_min < lr_max:
        ends = np.cumsum(cycle_lengths) - 1
        multi_step = np.asarray(cycle_lengths) > 1
        before = cyclic_cosine_annealing(ends, cycle_lengths, lr_max, lr_min)
        assert np.all(before[multi_step] < lr_max)


@pytest.mark.parametrize(
    "cycle_lengths, lr_max, lr_min",
    [case for case in SCHEDULES if case[2] < case[1]],
)
def test_rate_strictly_decreases_within_each_cycle(cycle_lengths, lr_max, lr_min):
    rates = cyclic_cosine_annealing(
        np.arange(sum(cycle_lengths)), cycle_lengths, lr_max, lr_min
    )
    for start, length in zip(_cycle_starts(cycle_lengths), cycle_lengths, strict=True):
        cycle = rates[start : start + length]
        assert np.all(np.diff(cycle) < 0), cycle
        assert np.all(cycle > lr_min)
        assert np.all(cycle <= lr_max)


@pytest.mark.parametrize("cycle_lengths, lr_max, lr_min", SCHEDULES)
def test_steps_past_the_end_stay_at_lr_min(cycle_lengths, lr_max, lr_min):
    total = sum(cycle_lengths)
    steps = np.array([total, total + 1, total + 17, 10 * total + 3])
    np.testing.assert_array_equal(
        cyclic_cosine_annealing(steps, cycle_lengths, lr_max, lr_min), lr_min
    )


@pytest.mark.parametrize("step", [0, 5, np.int64(7), np.uint8(3), 1000])
def test_scalar_step_returns_a_float(step):
    rate = cyclic_cosine_annealing(step, [3, 3, 4], lr_max=0.1, lr_min=0.01)
    assert type(rate) is float
    assert rate == pytest.approx(_reference_loop([step], [3, 3, 4], 0.1, 0.01)[0])


def test_array_step_keeps_its_shape():
    steps = np.arange(12).reshape(3, 4)
    rates = cyclic_cosine_annealing(steps, [5, 5], lr_max=0.1)
    assert rates.shape == (3, 4)
    np.testing.assert_allclose(
        rates.ravel(), _reference_loop(steps.ravel(), [5, 5], 0.1, 0.0)
    )


def test_lr_min_equal_to_lr_max_gives_a_constant_rate():
    rates = cyclic_cosine_annealing(np.arange(12), [4, 4, 4], lr_max=0.2, lr_min=0.2)
    np.testing.assert_allclose(rates, 0.2, rtol=1e-15)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"step": -1}, r"step must be integers >= 0\. Got step=-1\."),
        ({"step": [0, 3, -2]}, r"step must be integers >= 0\. Got step=\[0, 3, -2\]"),
        ({"step": 1.5}, r"step must be integers >= 0\. Got step=1\.5\."),
        ({"cycle_lengths": []}, r"non-empty 1-D sequence of ints\. Got cycle_lengths"),
        ({"cycle_lengths": [0]}, r"must be >= 1\. Got cycle_lengths=\[0\]\."),
        ({"cycle_lengths": [3, 0, 2]}, r"must be >= 1\. Got cycle_lengths=\[3, 0, 2\]"),
        ({"cycle_lengths": [4, -1]}, r"must be >= 1\. Got cycle_lengths=\[4, -1\]"),
        ({"cycle_lengths": [2.5, 3.0]}, r"sequence of ints\. Got cycle_lengths="),
        ({"cycle_lengths": 5}, r"sequence of ints\. Got cycle_lengths=5\."),
        ({"lr_max": 0.0}, r"lr_max must be a finite number > 0\. Got lr_max=0\.0\."),
        ({"lr_max": -0.1}, r"lr_max must be a finite number > 0\. Got lr_max=-0\.1\."),
        ({"lr_max": math.inf}, r"lr_max must be a finite number > 0\. Got lr_max=inf"),
        ({"lr_max": math.nan}, r"lr_max must be a finite number > 0\. Got lr_max=nan"),
        (
            {"lr_max": 0.1, "lr_min": 0.2},
            r"lr_min must be in \[0, lr_max\]\. Got lr_min=0\.2 with lr_max=0\.1\.",
        ),
        ({"lr_min": -0.01}, r"lr_min must be in \[0, lr_max\]\. Got lr_min=-0\.01"),
    ],
)
def test_cyclic_cosine_annealing_rejects_invalid_arguments(kwargs, match):
    arguments = {"step": 0, "cycle_lengths": [3, 3], "lr_max": 0.1, "lr_min": 0.0}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        cyclic_cosine_annealing(**arguments)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"cycle_lengths": []}, r"cycle_lengths must be a non-empty 1-D sequence"),
        ({"cycle_lengths": [3, 0]}, r"Every cycle length must be >= 1"),
        ({"lr_max": 0}, r"lr_max must be a finite number > 0\. Got lr_max=0\."),
        ({"lr_min": 1.0}, r"lr_min must be in \[0, lr_max\]\. Got lr_min=1\.0"),
    ],
)
def test_keras_schedule_validates_like_the_function(kwargs, match):
    arguments = {"cycle_lengths": [3, 3], "lr_max": 0.1, "lr_min": 0.0}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        CyclicCosineAnnealing(**arguments)


# -- CyclicCosineAnnealing -------------------------------------------------------


def _float32_tolerance(lr_max):
    # float32 arithmetic: relative error ~1e-7 of the rates, plus an absolute slack
    # of float32 resolution at lr_max, for the cancellation in 1 + cos(pi * t / T)
    # near the end of a cycle when lr_min is zero.
    return {"rtol": 1e-5, "atol": 1e-7 * lr_max}


@pytest.mark.parametrize("cycle_lengths, lr_max, lr_min", SCHEDULES)
def test_keras_schedule_matches_numpy_on_python_ints(cycle_lengths, lr_max, lr_min):
    schedule = CyclicCosineAnnealing(cycle_lengths, lr_max=lr_max, lr_min=lr_min)
    steps = np.arange(sum(cycle_lengths) + 3)
    rates = np.array([float(schedule(int(step))) for step in steps])
    expected = cyclic_cosine_annealing(steps, cycle_lengths, lr_max, lr_min)
    np.testing.assert_allclose(rates, expected, **_float32_tolerance(lr_max))


@pytest.mark.parametrize("cycle_lengths, lr_max, lr_min", SCHEDULES)
def test_keras_schedule_matches_numpy_in_graph(cycle_lengths, lr_max, lr_min):
    """As the optimizer calls it: a traced function of an int64 iteration tensor."""
    schedule = CyclicCosineAnnealing(cycle_lengths, lr_max=lr_max, lr_min=lr_min)
    traced = tf.function(schedule)
    steps = np.arange(sum(cycle_lengths) + 3)
    rates = []
    for step in steps:
        rate = traced(keras.ops.convert_to_tensor(step, dtype="int64"))
        assert rate.dtype == tf.float32
        rates.append(float(rate))
    expected = cyclic_cosine_annealing(steps, cycle_lengths, lr_max, lr_min)
    np.testing.assert_allclose(rates, expected, **_float32_tolerance(lr_max))
    # eager calls on tf.int64 tensors agree with the traced ones
    eager = [float(schedule(tf.constant(step, dtype=tf.int64))) for step in steps]
    np.testing.assert_array_equal(eager, rates)


def test_keras_schedule_stores_plain_python_values():
    schedule = CyclicCosineAnnealing(np.array([3, 4]), lr_max=np.float32(0.5))
    assert schedule.cycle_lengths == [3, 4]
    assert all(type(length) is int for length in schedule.cycle_lengths)
    assert type(schedule.lr_max) is float
    assert type(schedule.lr_min) is float


@pytest.mark.parametrize("cycle_lengths, lr_max, lr_min", SCHEDULES)
def test_get_config_from_config_round_trip(cycle_lengths, lr_max, lr_min):
    schedule = CyclicCosineAnnealing(cycle_lengths, lr_max=lr_max, lr_min=lr_min)
    config = schedule.get_config()
    assert config == {
        "cycle_lengths": list(cycle_lengths),
        "lr_max": lr_max,
        "lr_min": lr_min,
    }
    restored = CyclicCosineAnnealing.from_config(config)
    assert type(restored) is CyclicCosineAnnealing
    assert restored.get_config() == config
    steps = range(sum(cycle_lengths) + 2)
    np.testing.assert_array_equal(
        [float(restored(step)) for step in steps],
        [float(schedule(step)) for step in steps],
    )


def test_keras_serialization_round_trip():
    schedule = CyclicCosineAnnealing([5, 5, 7], lr_max=0.08, lr_min=0.002)
    serialized = keras.saving.serialize_keras_object(schedule)
    assert serialized["registered_name"] == "skl_snapshot>CyclicCosineAnnealing"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert isinstance(restored, CyclicCosineAnnealing)
    assert restored.get_config() == schedule.get_config()
    np.testing.assert_array_equal(
        [float(restored(step)) for step in range(20)],
        [float(schedule(step)) for step in range(20)],
    )


def test_optimizer_config_round_trip_keeps_the_schedule():
    schedule = CyclicCosineAnnealing([4, 6], lr_max=0.1, lr_min=0.01)
    optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)
    config = optimizer.get_config()
    assert config["learning_rate"]["config"] == schedule.get_config()
    restored = keras.optimizers.SGD.from_config(config)
    for step in [0, 3, 4, 9, 12]:
        optimizer.iterations.assign(step)
        restored.iterations.assign(step)
        assert float(restored.learning_rate) == float(optimizer.learning_rate)


@pytest.mark.parametrize("cycle_lengths, lr_max, lr_min", SCHEDULES)
def test_sgd_learning_rate_follows_the_schedule(cycle_lengths, lr_max, lr_min):
    schedule = CyclicCosineAnnealing(cycle_lengths, lr_max=lr_max, lr_min=lr_min)
    optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)
    steps = np.arange(sum(cycle_lengths) + 3)
    rates = []
    for step in steps:
        optimizer.iterations.assign(int(step))
        rates.append(float(optimizer.learning_rate))
    expected = cyclic_cosine_annealing(steps, cycle_lengths, lr_max, lr_min)
    np.testing.assert_allclose(rates, expected, **_float32_tolerance(lr_max))


# -- what fit records ------------------------------------------------------------


class _LearningRateProbe(keras.callbacks.Callback):
    """Reads the optimizer's iteration and learning rate as each cycle begins."""

    def __init__(self):
        super().__init__()
        self.iterations = []
        self.rates = []
        self.final_iterations = None

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        self.iterations.append(int(optimizer.iterations.numpy()))
        self.rates.append(float(optimizer.learning_rate))

    def on_train_end(self, logs=None):
        self.final_iterations = int(self.model.optimizer.iterations.numpy())


def test_fit_records_and_follows_the_schedule(blobs):
    X, y, _, _ = blobs
    probe = _LearningRateProbe()
    lr_max, lr_min, batch_size, epochs, n_cycles = 0.1, 0.005, 16, 10, 3
    estimator = fast_classifier(
        epochs=epochs,
        n_cycles=n_cycles,
        lr_max=lr_max,
        lr_min=lr_min,
        batch_size=batch_size,
        fit__callbacks=[probe],
    ).fit(X, y)

    epochs_of_cycles = cycle_epochs(epochs, n_cycles)
    assert epochs_of_cycles == [3, 3, 4]
    batches_per_epoch = math.ceil(X.shape[0] / batch_size)
    cycle_steps = [e * batches_per_epoch for e in epochs_of_cycles]
    assert estimator.t_ == epochs * batches_per_epoch == sum(cycle_steps) == 80
    assert estimator.n_iter_ == epochs
    assert estimator.n_snapshots_ == n_cycles

    expected_history = cyclic_cosine_annealing(
        np.arange(estimator.t_), cycle_steps, lr_max, lr_min
    )
    assert estimator.learning_rate_history_.shape == (estimator.t_,)
    np.testing.assert_allclose(estimator.learning_rate_history_, expected_history)
    np.testing.assert_array_equal(
        estimator.snapshot_epochs_, np.cumsum(epochs_of_cycles)
    )
    last_steps = np.cumsum(cycle_steps) - 1
    np.testing.assert_allclose(
        estimator.snapshot_learning_rates_,
        cyclic_cosine_annealing(last_steps, cycle_steps, lr_max, lr_min),
        **_float32_tolerance(lr_max),
    )
    starts = _cycle_starts(cycle_steps)
    np.testing.assert_allclose(estimator.learning_rate_history_[starts], lr_max)

    # The optimizer itself ran exactly t_ iterations and, whenever it was
    # observed, used the schedule's rate: lr_max at every cycle start.
    assert probe.final_iterations == estimator.t_
    assert probe.iterations, "the probe callback was never called"
    assert probe.iterations == list(starts)
    np.testing.assert_allclose(
        probe.rates,
        cyclic_cosine_annealing(probe.iterations, cycle_steps, lr_max, lr_min),
        **_float32_tolerance(lr_max),
    )
    observed = dict(zip(probe.iterations, probe.rates, strict=True))
    np.testing.assert_allclose([observed[start] for start in starts], lr_max)
