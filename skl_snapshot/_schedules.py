"""Cyclic cosine annealing with warm restarts (SGDR), the snapshot-ensemble schedule.

The schedule exists twice: as pure NumPy functions, which tests, plots and users can
evaluate without training anything, and as a serialisable Keras
``LearningRateSchedule`` that computes the same rate in-graph from the optimizer's
iteration counter, so that a whole cycle can run as one compiled call.
"""

import math
import numbers

import keras
import numpy as np

__all__ = ["CyclicCosineAnnealing", "cycle_epochs", "cyclic_cosine_annealing"]


def cycle_epochs(epochs, n_cycles, t_mult=1.0):
    """Split a training budget of ``epochs`` into ``n_cycles`` cycles.

    With ``t_mult=1`` every cycle gets ``epochs // n_cycles`` epochs and the last
    one also takes the remainder, as the reference implementation of Huang et
    al. (2017) does. With ``t_mult > 1`` each cycle is ``t_mult`` times as long
    as the one before (SGDR's ``T_mult``, Loshchilov & Hutter 2017): every cycle
    gets one epoch, the rest of the budget is shared in proportion to
    ``t_mult ** c`` (rounded down) and the last cycle takes the remainder. The
    snapshots then sit at a geometric series of training lengths, from which
    held-out rows can choose how much training the data want.

    Parameters
    ----------
    epochs : int
        Total number of epochs, at least ``n_cycles``.
    n_cycles : int
        Number of cycles, at least 1.
    t_mult : float, default=1.0
        How much longer each cycle is than the one before, at least 1.

    Returns
    -------
    lengths : list of int
        The number of epochs of each cycle; they sum to ``epochs``.

    Examples
    --------
    >>> from skl_snapshot import cycle_epochs
    >>> cycle_epochs(10, 3)
    [3, 3, 4]
    >>> cycle_epochs(64, 6, t_mult=2)
    [1, 2, 4, 8, 15, 34]
    """
    for name, value in (("epochs", epochs), ("n_cycles", n_cycles)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int. Got {name}={value!r}.")
    if n_cycles < 1:
        raise ValueError(f"n_cycles must be >= 1. Got n_cycles={n_cycles}.")
    if epochs < n_cycles:
        raise ValueError(
            "epochs must be >= n_cycles, so that every cycle has at least one epoch."
            f" Got epochs={epochs} with n_cycles={n_cycles}."
        )
    if not isinstance(t_mult, numbers.Real) or not t_mult >= 1 or t_mult == np.inf:
        raise ValueError(f"t_mult must be a finite number >= 1. Got t_mult={t_mult!r}.")
    if t_mult == 1:
        base = epochs // n_cycles
        return [base] * (n_cycles - 1) + [epochs - base * (n_cycles - 1)]
    shares = float(t_mult) ** np.arange(n_cycles)
    extra = np.floor((epochs - n_cycles) * shares / shares.sum()).astype(int)
    lengths = [1 + int(value) for value in extra[:-1]]
    return lengths + [epochs - sum(lengths)]


def _check_cycle_lengths(cycle_lengths):
    lengths = np.asarray(cycle_lengths)
    if lengths.ndim != 1 or lengths.size == 0 or lengths.dtype.kind not in "iu":
        raise ValueError(
            "cycle_lengths must be a non-empty 1-D sequence of ints."
            f" Got cycle_lengths={cycle_lengths!r}."
        )
    if np.any(lengths < 1):
        raise ValueError(
            f"Every cycle length must be >= 1. Got cycle_lengths={cycle_lengths!r}."
        )
    return lengths.astype(np.int64)


def _check_rates(lr_max, lr_min):
    if not lr_max > 0 or not math.isfinite(lr_max):
        raise ValueError(f"lr_max must be a finite number > 0. Got lr_max={lr_max!r}.")
    if not 0 <= lr_min <= lr_max:
        raise ValueError(
            f"lr_min must be in [0, lr_max]. Got lr_min={lr_min!r} with"
            f" lr_max={lr_max!r}."
        )


def cyclic_cosine_annealing(step, cycle_lengths, lr_max, lr_min=0.0):
    """Learning rate of cosine annealing with warm restarts at iteration ``step``.

    Within a cycle of ``T`` iterations, iteration ``t`` (counted from the cycle's
    start) gets ``lr_min + (lr_max - lr_min) / 2 * (1 + cos(pi * t / T))``: the rate
    starts at ``lr_max``, falls along half a cosine towards ``lr_min``, then jumps
    back to ``lr_max`` when the next cycle starts. Iterations past the last cycle
    stay at ``lr_min``.

    Parameters
    ----------
    step : int or array-like of int
        Zero-based iteration (mini-batch) index, or several.
    cycle_lengths : sequence of int
        Number of iterations of each cycle, in order.
    lr_max : float
        Rate at the start of every cycle.
    lr_min : float, default=0.0
        Rate the cosine falls towards at the end of every cycle.

    Returns
    -------
    rate : float or ndarray of float
        The learning rate, with the shape of ``step``.

    See Also
    --------
    CyclicCosineAnnealing : The same schedule as a Keras ``LearningRateSchedule``.

    References
    ----------
    .. [1] Loshchilov, I. and Hutter, F. (2017). SGDR: Stochastic Gradient Descent
       with Warm Restarts. ICLR. arXiv:1608.03983.
    .. [2] Huang, G. et al. (2017). Snapshot Ensembles: Train 1, get M for free.
       ICLR. arXiv:1704.00109.

    Examples
    --------
    >>> from skl_snapshot import cyclic_cosine_annealing
    >>> cyclic_cosine_annealing([0, 1, 2, 3, 4], cycle_lengths=[2, 3], lr_max=0.1)
    array([0.1  , 0.05 , 0.1  , 0.075, 0.025])
    """
    lengths = _check_cycle_lengths(cycle_lengths)
    _check_rates(lr_max, lr_min)
    step_array = np.asarray(step)
    if step_array.dtype.kind not in "iu" or np.any(step_array < 0):
        raise ValueError(f"step must be integers >= 0. Got step={step!r}.")
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    cycle = np.searchsorted(starts, step_array, side="right") - 1
    position = (step_array - starts[cycle]) / lengths[cycle]
    position = np.minimum(position, 1.0)
    rate = lr_min + (lr_max - lr_min) / 2 * (1 + np.cos(np.pi * position))
    return rate if rate.ndim else float(rate)


@keras.saving.register_keras_serializable(package="skl_snapshot")
class CyclicCosineAnnealing(keras.optimizers.schedules.LearningRateSchedule):
    """Cosine annealing with warm restarts as a Keras learning-rate schedule.

    The rate is computed in-graph from the optimizer's iteration counter, so it
    changes every mini-batch without any Python callback; see
    :func:`cyclic_cosine_annealing` for the formula.

    Parameters
    ----------
    cycle_lengths : sequence of int
        Number of iterations of each cycle, in order.
    lr_max : float
        Rate at the start of every cycle.
    lr_min : float, default=0.0
        Rate the cosine falls towards at the end of every cycle.

    See Also
    --------
    cyclic_cosine_annealing : The same schedule as a NumPy function.
    keras.optimizers.schedules.CosineDecayRestarts : Keras' own restarts schedule,
        whose cycles grow geometrically instead of ending at chosen iterations.

    Examples
    --------
    >>> import keras
    >>> from skl_snapshot import CyclicCosineAnnealing
    >>> schedule = CyclicCosineAnnealing(cycle_lengths=[100, 100], lr_max=0.1)
    >>> optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)
    >>> round(float(schedule(150)), 4)
    0.05
    """

    def __init__(self, cycle_lengths, lr_max, lr_min=0.0):
        lengths = _check_cycle_lengths(cycle_lengths)
        _check_rates(lr_max, lr_min)
        self.cycle_lengths = [int(length) for length in lengths]
        self.lr_max = float(lr_max)
        self.lr_min = float(lr_min)

    def __call__(self, step):
        # the general schedule of the training methods, all of whose cycles are
        # cosine ones for snapshot ensembles
        schedule = CycleSchedule(
            "snapshot", self.cycle_lengths, self.lr_max, self.lr_min
        )
        return schedule(step)

    def get_config(self):
        return {
            "cycle_lengths": list(self.cycle_lengths),
            "lr_max": self.lr_max,
            "lr_min": self.lr_min,
        }


#: The training methods and the shape of their cycles.
METHODS = ("snapshot", "fge", "swa")


def method_cycle_epochs(method, epochs, n_cycles, t_mult=1.0):
    """Epochs of each cycle of a training ``method``.

    ``"snapshot"`` splits the budget into cycles that grow by ``t_mult``
    (:func:`cycle_epochs`; evenly with ``t_mult=1``). ``"fge"`` and
    ``"swa"`` first train for half of it in one cosine cycle, then split the other
    half evenly into ``n_cycles - 1`` short cycles, as fast geometric ensembling
    starts from a trained network (Garipov et al. 2018).
    """
    if method == "snapshot" or n_cycles == 1:
        return cycle_epochs(epochs, n_cycles, t_mult)
    cycle_epochs(epochs, n_cycles)  # the same checks
    short = max(1, (epochs // 2) // (n_cycles - 1))
    return [epochs - short * (n_cycles - 1)] + [short] * (n_cycles - 1)


@keras.saving.register_keras_serializable(package="skl_snapshot")
class CycleSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate of a training method, cycle by cycle (internal).

    Each cycle has a start iteration, a length, a peak rate and a shape:
    ``"cosine"`` falls from the peak to ``lr_min`` along half a cosine (SGDR,
    every cycle of a snapshot ensemble, and the first cycle of the others);
    ``"triangle"`` rises linearly from ``lr_min`` to the peak and falls back
    (the short cycles of fast geometric ensembling and SWA, which reach
    ``lr_max / 2`` as in Garipov et al. 2018), so that every cycle ends at its
    low point, where the snapshot is taken.

    The rates exist as NumPy (:meth:`rates`, for histories and plots), in-graph
    from the iteration counter (``__call__``, as a Keras schedule) and as
    tensors (:meth:`tensors`, for the shared compiled training function); the
    three compute the same float32 expression.

    ``shape="triangular"`` makes every cycle a triangle that peaks at
    ``lr_max``: Smith's (2017) triangular cyclical rate, whatever the method;
    None and ``"cosine"`` leave the cycles to the method.
    """

    def __init__(self, method, cycle_lengths, lr_max, lr_min=0.0, shape=None):
        lengths = _check_cycle_lengths(cycle_lengths)
        _check_rates(lr_max, lr_min)
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}. Got {method!r}.")
        if shape not in (None, "cosine", "triangular"):
            raise ValueError(
                f"shape must be None, 'cosine' or 'triangular'. Got shape={shape!r}."
            )
        self.method = method
        self.cycle_lengths = [int(length) for length in lengths]
        self.lr_max = float(lr_max)
        self.lr_min = float(lr_min)
        self.shape = shape

    def _peaks(self):
        """Per cycle: the peak rate (float64) and 1.0 for a triangle."""
        n_cycles = len(self.cycle_lengths)
        triangle = np.zeros(n_cycles, dtype=np.float32)
        peaks = np.full(n_cycles, self.lr_max)
        if self.shape == "triangular":
            triangle[:] = 1.0
        elif self.method != "snapshot":
            triangle[1:] = 1.0
            peaks[1:] = self.lr_max / 2
        return peaks, triangle

    def _cycles(self):
        """Per cycle: start, length, peak - lr_min, and 1.0 for a triangle."""
        lengths = np.asarray(self.cycle_lengths, dtype=np.float32)
        starts = np.concatenate([[0.0], np.cumsum(lengths)[:-1]]).astype(np.float32)
        peaks, triangle = self._peaks()
        ranges = (peaks - self.lr_min).astype(np.float32)
        return starts, lengths, ranges, triangle

    def tensors(self):
        """The schedule as inputs of the shared training function."""
        starts, lengths, ranges, triangle = self._cycles()
        return starts, lengths, np.float32(self.lr_min), ranges, triangle

    @staticmethod
    def evaluate(ops, step, starts, lengths, lr_min, ranges, triangle):
        """The rate at float32 ``step`` (a scalar or a vector), with ``ops``."""
        if len(step.shape):
            passed = ops.greater_equal(step[:, None], starts[None, 1:])
            cycle = ops.sum(ops.cast(passed, "int32"), axis=1)
        else:
            cycle = ops.sum(ops.cast(ops.greater_equal(step, starts[1:]), "int32"))
        position = ops.minimum(
            (step - ops.take(starts, cycle)) / ops.take(lengths, cycle), 1.0
        )
        peak = ops.take(ranges, cycle)
        # 1 + cos(x) = 2 cos(x / 2)^2 keeps float32 precision near a cycle's end
        half_cosine = ops.cos(math.pi / 2.0 * position)
        cosine = peak * half_cosine * half_cosine
        tent = peak * (1.0 - ops.abs(2.0 * position - 1.0))
        return lr_min + ops.where(ops.take(triangle, cycle) > 0.5, tent, cosine)

    def rates(self, step):
        """The rate at each iteration of ``step``, in float64 NumPy.

        The cosine cycles are :func:`cyclic_cosine_annealing`'s formula.
        """
        step = np.asarray(step)
        peaks, triangle = self._peaks()
        # integer bounds: float32 ones would misplace cycles past 2**24 steps
        lengths = np.asarray(self.cycle_lengths, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        cycle = np.searchsorted(starts, step, side="right") - 1
        position = np.minimum((step - starts[cycle]) / lengths[cycle], 1.0)
        amplitude = peaks[cycle] - self.lr_min
        cosine = self.lr_min + amplitude / 2 * (1 + np.cos(np.pi * position))
        tent = self.lr_min + amplitude * (1 - np.abs(2 * position - 1))
        return np.where(triangle[cycle] > 0.5, tent, cosine)

    def __call__(self, step):
        ops = keras.ops
        starts, lengths, lr_min, ranges, triangle = (
            ops.convert_to_tensor(value) for value in self.tensors()
        )
        return self.evaluate(
            ops, ops.cast(step, "float32"), starts, lengths, lr_min, ranges, triangle
        )

    def get_config(self):
        config = {
            "method": self.method,
            "cycle_lengths": list(self.cycle_lengths),
            "lr_max": self.lr_max,
            "lr_min": self.lr_min,
        }
        if self.shape is not None:
            config["shape"] = self.shape
        return config
