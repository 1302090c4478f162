"""The built-in network and the forward pass shared by every ensemble member."""

import contextlib
import threading

import keras
import numpy as np
import tensorflow as tf
from threadpoolctl import ThreadpoolController

__all__ = [
    "MLPForward",
    "MemberPredictor",
    "WeightsOnlyNetwork",
    "build_mlp",
    "fresh_initial_weights",
]

# Rows per forward call: large enough to amortise the call, small enough that
# activations of a wide network on a million rows stay in memory.
_PREDICT_BATCH_ROWS = 16384


def build_mlp(hidden_layer_sizes=(50,), activation="relu", meta=None):
    """Multi-layer perceptron: a softmax over the classes, or a linear output.

    This is the network the estimators build when ``model=None``; it follows the
    scikeras builder convention, reading the input width and the output from
    ``meta``: one softmax unit per class when it holds ``n_classes_``
    (``SnapshotEnsembleClassifier``), otherwise one linear unit per target column,
    ``n_outputs_`` (``SnapshotEnsembleRegressor``).

    Parameters
    ----------
    hidden_layer_sizes : sequence of int, default=(50,)
        Units of each hidden ``Dense`` layer.
    activation : str, default="relu"
        Keras activation of the hidden layers.
    meta : dict
        Fitted metadata; ``n_features_in_`` and ``n_classes_`` or ``n_outputs_``
        are used.

    Returns
    -------
    model : keras.Model
        The uncompiled network.
    """
    layers = [keras.Input(shape=(meta["n_features_in_"],))]
    layers += [
        keras.layers.Dense(units, activation=activation) for units in hidden_layer_sizes
    ]
    if "n_classes_" in meta:
        layers.append(keras.layers.Dense(meta["n_classes_"], activation="softmax"))
    else:
        layers.append(keras.layers.Dense(meta["n_outputs_"], activation="linear"))
    return keras.Sequential(layers, name="snapshot_mlp")


def fresh_initial_weights(network):
    """Initial weights of a new network of ``network``'s architecture, without
    building one.

    Each layer's initialisers are made anew from their configuration, as a new
    layer makes them, so unseeded ones draw their seeds from Python's ``random``
    in the order building the network would: under the same global seeds the
    weights are those a new :func:`build_mlp` network would have had. Building
    a Keras network costs about 14 ms; drawing its weights about 1 ms.
    """
    # a layer makes its initialisers when made, and draws from them when built
    initializers = []
    for layer in network.layers:
        for name in ("kernel", "bias"):
            if getattr(layer, name, None) is not None:
                initializer = getattr(layer, f"{name}_initializer")
                config = keras.initializers.serialize(initializer)
                variable = getattr(layer, name)
                initializers.append((keras.initializers.get(config), variable))
    return [
        np.asarray(initializer(variable.shape, dtype=variable.dtype))
        for initializer, variable in initializers
    ]


class _ArrayVariable:
    """A NumPy array behind the part of a variable's interface that training,
    restarts and snapshots use: ``shape``, ``dtype``, ``numpy()``, ``assign``."""

    __slots__ = ("_value",)

    def __init__(self, value):
        self._value = np.array(value)

    @property
    def shape(self):
        return self._value.shape

    @property
    def dtype(self):
        return self._value.dtype

    def numpy(self):
        return self._value

    def assign(self, value):
        self._value = np.array(value, dtype=self._value.dtype)


class WeightsOnlyNetwork:
    """A built-in network trained beside the first one, held as its weights.

    Several built-in networks train side by side on weights stacked along a
    leading axis (``_training._StackedNetworks``); in memory, only the first
    needs to be a Keras network (the user's callbacks see it, the predictor
    runs it). The others need only their weights, which this holds as arrays
    with the interface snapshots and restarts read (``get_weights``,
    ``set_weights``, ``trainable_variables``), instead of paying for building
    and compiling a Keras network each.
    """

    def __init__(self, weights):
        self.trainable_variables = [_ArrayVariable(value) for value in weights]

    def get_weights(self):
        return [variable.numpy().copy() for variable in self.trainable_variables]

    def set_weights(self, weights):
        weights = list(weights)
        if len(weights) != len(self.trainable_variables):
            raise ValueError(
                f"Expected {len(self.trainable_variables)} weight arrays. Got"
                f" {len(weights)}."
            )
        for variable, value in zip(self.trainable_variables, weights, strict=True):
            if np.shape(value) != variable.shape:
                raise ValueError(
                    f"Expected a weight array of shape {variable.shape}. Got"
                    f" {np.shape(value)}."
                )
            variable.assign(value)


class MemberPredictor:
    """Outputs of ensemble members through one traced forward pass.

    A member is loaded by assigning its weights to the network's variables, which
    leaves the traced function valid: no member or call pays for
    ``Model.predict``'s set-up or for retracing.
    """

    def __init__(self, network):
        self.network = network
        inputs = getattr(network, "inputs", None)
        n_features = inputs[0].shape[-1] if inputs else None
        self._forward = tf.function(
            lambda X: network(X, training=False),
            input_signature=[tf.TensorSpec([None, n_features], tf.float32)],
        )

    def predict(self, X):
        """The network's output for its current weights on float32 ``X``.

        In float64, of shape (n_samples, n_units).
        """
        chunks = [
            self._forward(tf.constant(X[start : start + _PREDICT_BATCH_ROWS])).numpy()
            for start in range(0, X.shape[0], _PREDICT_BATCH_ROWS)
        ]
        output = np.concatenate(chunks).astype(np.float64, copy=False)
        return output.reshape(output.shape[0], -1)


def _relu(values):
    return np.maximum(values, 0, out=values)


def _sigmoid(values):
    return 0.5 * (1.0 + np.tanh(0.5 * values))


_NUMPY_ACTIVATIONS = {
    "relu": _relu,
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "linear": lambda values: values,
}

# Activations per block of rows in the NumPy forward pass (4 MB of float32). The
# block's rows do not depend on the number of members, so a member's
# probabilities are bit-identical whether it votes alone or with others.
_BLOCK_VALUES = 1 << 20

_BLAS_CONTROLLER = None
# one process-wide limit per kind of pool ("blas", or None: every pool), shared
# by overlapping contexts: the first sets it, the last gives the limits back
_BLAS_LIMITS = {api: {"depth": 0, "limiter": None} for api in ("blas", None)}
_BLAS_LOCK = threading.Lock()


@contextlib.contextmanager
def _one_thread(user_api):
    """Thread pools of ``user_api`` (threadpoolctl's; None: all) limited to one
    thread while the context runs."""
    global _BLAS_CONTROLLER
    limit = _BLAS_LIMITS[user_api]
    with _BLAS_LOCK:
        if _BLAS_CONTROLLER is None:
            _BLAS_CONTROLLER = ThreadpoolController()
        if limit["depth"] == 0:
            limit["limiter"] = _BLAS_CONTROLLER.limit(limits=1, user_api=user_api)
        limit["depth"] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            limit["depth"] -= 1
            if limit["depth"] == 0:
                limit["limiter"].restore_original_limits()
                limit["limiter"] = None


@contextlib.contextmanager
def one_blas_thread():
    """NumPy's BLAS limited to one thread while the context runs.

    The forward pass multiplies blocks of a few thousand rows by matrices of a
    few dozen columns: microseconds of arithmetic, which a second BLAS thread
    cannot speed up but can slow down tenfold when it waits for a core. Right
    after training, TensorFlow's threads still spin on the cores: there one
    member's pass over 10,000 rows of 20 features took 14.6 ms with OpenBLAS'
    two threads against 1.4 ms with one (2 cores). The controller is made once
    (about 9 ms); each limit then costs microseconds.

    The limit is process-wide, so overlapping contexts (predictions from
    several threads) share one: the first sets it, the last gives the original
    limits back.
    """
    with _one_thread("blas"):
        yield


@contextlib.contextmanager
def one_thread_pools():
    """Every native thread pool (BLAS and OpenMP) limited to one thread while
    the context runs, for small scikit-learn fits right after training.

    There, scikit-learn's OpenMP loss and OpenBLAS wait for cores that
    TensorFlow's threads still spin on: ``LogisticRegression`` on digits' 898
    rows took 0.31 s with two threads against 0.007 s with one (2 cores).
    """
    with _one_thread(None):
        yield


class MLPForward:
    """The built-in MLP's ensemble forward pass in NumPy, without framework calls.

    Rows go through in blocks; within a block each member's layers are plain
    float32 matrix products on its own weight arrays, and the members' outputs
    (a softmax's probabilities, or a linear layer's values) are summed in
    float64. Stacking the members' weights along a new
    axis for batched products measured no faster on 1,000 rows, slower on
    1,000,000, and copies the whole ensemble at every call. A member's
    probabilities do not depend on which other members vote, so staged results
    equal ``n_members=k`` exactly. Supports the networks :func:`build_mlp` makes
    with the activations in ``SUPPORTED_ACTIVATIONS``; ``softmax`` says whether
    the output layer is a softmax (a classifier's) or linear (a regressor's).
    """

    SUPPORTED_ACTIVATIONS = frozenset(_NUMPY_ACTIVATIONS)

    def __init__(self, activation, softmax=True):
        self.activation = _NUMPY_ACTIVATIONS[activation]
        self.softmax = softmax

    def member_output(self, weights, X):
        """One member's output on float32 ``X``, in float64.

        An overflow gives infinities or NaN silently: the estimator refuses
        non-finite outputs with an error naming X.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            return self._member_output(weights, X)

    def _member_output(self, weights, X):
        hidden = X
        n_layers = len(weights) // 2
        for layer in range(n_layers):
            hidden = np.matmul(hidden, weights[2 * layer])
            hidden += weights[2 * layer + 1]
            if layer < n_layers - 1:
                hidden = self.activation(hidden)
        if not self.softmax:
            return hidden.astype(np.float64)
        hidden -= hidden.max(axis=-1, keepdims=True)
        np.exp(hidden, out=hidden)
        proba = hidden.astype(np.float64)
        return proba / proba.sum(axis=-1, keepdims=True)

    def mean_output(self, members, X, vote_weights=None):
        """Mean output of ``members`` (weight lists) on float32 ``X``.

        With ``vote_weights`` (one non-negative number per member), the weighted
        mean: ``sum(w_m p_m) / sum(w_m)``.
        """
        n_units = members[0][-1].shape[-1]
        widest = max(array.shape[-1] for array in members[0])
        block = max(1, _BLOCK_VALUES // widest)
        mean = np.empty((X.shape[0], n_units))
        with one_blas_thread():
            self._mean_blocks(members, X, vote_weights, block, mean)
        return mean

    def _mean_blocks(self, members, X, vote_weights, block, mean):
        for start in range(0, X.shape[0], block):
            rows = X[start : start + block]
            total = None
            for index, weights in enumerate(members):
                output = self.member_output(weights, rows)
                if vote_weights is not None:
                    output = vote_weights[index] * output
                total = output if total is None else total + output
            # a sequential sum, as the staged predictions' running one
            divisor = len(members) if vote_weights is None else sum(vote_weights)
            mean[start : start + block] = total / divisor


def average_weights(members):
    """Element-wise mean of the members' weight lists, in each array's dtype.

    ``members`` is any iterable of weight lists (snapshots on disk are read one
    at a time); the running sum is kept in float64.
    """
    total, dtypes, count = None, None, 0
    for weights in members:
        if total is None:
            dtypes = [np.asarray(array).dtype for array in weights]
            total = [np.array(array, dtype=np.float64) for array in weights]
        else:
            for running, array in zip(total, weights, strict=True):
                running += array
        count += 1
    return [
        (running / count).astype(dtype)
        for running, dtype in zip(total, dtypes, strict=True)
    ]


def _batch_norm_layers(network):
    for layer in getattr(network, "layers", []):
        if isinstance(layer, keras.layers.BatchNormalization):
            yield layer
        elif getattr(layer, "layers", None):
            # inside a nested model, a layer's input is not reachable from the
            # outer network's inputs
            if any(True for _ in _batch_norm_layers(layer)):
                raise ValueError(
                    "method='swa' recomputes BatchNormalization statistics, which"
                    " needs them as layers of the network itself; this network has"
                    f" some inside the nested model {layer.name!r}."
                )


def recompute_batch_norm(network, X, rows_per_batch=4096):
    """Set BatchNormalization statistics to those of ``X`` under averaged weights.

    Averaged weights change every layer's inputs, so the moving means and
    variances collected during training no longer fit: SWA recomputes them with
    one pass over the training data (Izmailov et al. 2018). Each layer, in
    order, gets the mean and (biased) variance of its inputs, the earlier layers
    already updated.

    Returns the number of layers updated.
    """
    layers = list(_batch_norm_layers(network))
    if layers and not getattr(network, "inputs", None):
        raise ValueError(
            "method='swa' recomputes BatchNormalization statistics through the"
            " network's symbolic inputs; a subclassed network with"
            " BatchNormalization layers has none."
        )
    for layer in layers:
        inputs = network.inputs
        probe = keras.Model(inputs[0] if len(inputs) == 1 else inputs, layer.input)
        total = squares = None
        count = 0
        for start in range(0, X.shape[0], rows_per_batch):
            values = np.asarray(
                probe(X[start : start + rows_per_batch], training=False),
                dtype=np.float64,
            )
            axis = layer.axis % values.ndim
            values = np.moveaxis(values, axis, -1).reshape(-1, values.shape[axis])
            total = values.sum(axis=0) + (0 if total is None else total)
            squares = (values**2).sum(axis=0) + (0 if squares is None else squares)
            count += values.shape[0]
        mean = total / count
        variance = np.maximum(squares / count - mean**2, 0.0)
        layer.moving_mean.assign(mean.astype(layer.moving_mean.dtype))
        layer.moving_variance.assign(variance.astype(layer.moving_variance.dtype))
    return len(layers)
