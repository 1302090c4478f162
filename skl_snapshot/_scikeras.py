"""Everything that leans on scikeras lives here, so that it can be replaced.

We use scikeras for what its users know: the ``model=`` builder called with
``meta`` and ``compile_kwargs``, the ``model__``/``optimizer__``/``loss__``/``fit__``
parameter routing, its target encoder and its seeded-TensorFlow context. We do not
subclass its wrappers: they put ``BaseEstimator`` before the mixin and rely on the
removed ``_more_tags``, so no subclass is a correct classifier under today's
scikit-learn tags.
"""

import contextlib
import random
import sys
import threading
from collections.abc import Mapping

import keras
import numpy as np

# Importing scikeras replaces ``__reduce__``/``__deepcopy__`` on Keras base classes
# for the whole process. Keras 3 pickles models itself, so when we are the first to
# import scikeras we put the originals back: importing skl_snapshot must not change
# how the user's Keras objects behave. If the user imported scikeras first, its
# patches are theirs and stay.
_PATCHED = (
    (keras.Model, "__reduce__"),
    (keras.Model, "__deepcopy__"),
    (keras.losses.Loss, "__reduce__"),
    (keras.metrics.Metric, "__reduce__"),
    (keras.optimizers.Optimizer, "__reduce__"),
)
if "scikeras" not in sys.modules:
    _originals = [(owner, name, owner.__dict__.get(name)) for owner, name in _PATCHED]
    import scikeras  # noqa: F401

    for owner, name, original in _originals:
        if original is None:
            delattr(owner, name)
        else:
            setattr(owner, name, original)

from scikeras._utils import (  # noqa: E402
    accepts_kwargs,
    get_loss_class_function_or_string,
    get_metric_class,
    has_param,
    route_params,
    try_to_convert_strings_to_classes,
    unflatten_params,
)
from scikeras.utils import loss_name  # noqa: E402
from scikeras.utils.random_state import tf_get_seed, tf_set_seed  # noqa: E402
from scikeras.utils.transformers import ClassifierLabelEncoder  # noqa: E402

__all__ = [
    "ROUTING_PREFIXES",
    "SCIKERAS_PARAMETERS",
    "UNSUPPORTED_PREFIXES",
    "check_scikeras_parameters",
    "chosen_loss",
    "ClassifierLabelEncoder",
    "build_network",
    "check_callbacks",
    "is_one_hot_loss",
    "make_callbacks",
    "make_compile_kwargs",
    "make_loss",
    "optimizer_arguments",
    "routed_params",
    "seeded",
]

#: Prefixes of the scikeras-style routed parameters, ``<prefix>__<name>``.
ROUTING_PREFIXES = ("model", "optimizer", "loss", "metrics", "fit", "callbacks")

#: The keys of the ``compile_kwargs`` a builder receives (scikeras' name).
COMPILE_KWARGS = frozenset({"optimizer", "loss", "metrics"})

#: scikeras' constructor parameters that these estimators do not take, with
#: why and what to use instead (a builder that names one still gets it).
SCIKERAS_PARAMETERS = {
    "optimizer": (
        "snapshot ensembles train with SGD and momentum on the cyclic"
        " learning-rate schedule: set lr_max, lr_min and momentum (optimizer__*"
        " for SGD's other arguments). To take snapshots with another optimizer,"
        " train your own Keras model with SnapshotEnsembleCallback"
    ),
    "validation_split": (
        "set validation_fraction, which holds rows out to order and weight the members"
    ),
    "validation_batch_size": "held-out rows are scored in one pass",
    "shuffle": "each network draws its own data order every epoch from random_state",
    "run_eagerly": "training is one compiled function per cycle",
    "build_fn": "pass the builder as model= (scikeras renamed it too)",
}

#: scikeras' routing prefixes that have no destination here, and why.
UNSUPPORTED_PREFIXES = {
    "predict": (
        "the members predict through one compiled forward pass, not keras.Model.predict"
    ),
    "compile": (
        "the network is trained by a compiled loop, not through"
        " keras.Model.compile; route the loss with loss__* and SGD's arguments"
        " with optimizer__*"
    ),
}


def check_scikeras_parameters(names, builder, estimator_name):
    """Refuse scikeras parameters and prefixes that have no meaning here.

    ``names`` are the estimator's extra (``**kwargs``) parameter names. A
    scikeras parameter that ``builder`` names in its signature is the builder's.
    """
    for name in names:
        prefix = name.split("__", 1)[0] if "__" in name else None
        if prefix in UNSUPPORTED_PREFIXES:
            raise ValueError(
                f"Unsupported routing prefix {prefix!r} in parameter {name}"
                f" ({estimator_name} has no such destination):"
                f" {UNSUPPORTED_PREFIXES[prefix]}. Routed parameters start with"
                f" one of {', '.join(ROUTING_PREFIXES)}."
            )
        if prefix is not None and prefix not in ROUTING_PREFIXES:
            raise ValueError(
                f"Unknown routing prefix {prefix!r} in parameter {name}. Routed"
                f" parameters start with one of {', '.join(ROUTING_PREFIXES)}."
            )
        if name in SCIKERAS_PARAMETERS and not (
            callable(builder) and has_param(builder, name)
        ):
            raise ValueError(
                f"{name} is a scikeras parameter that {estimator_name} does not"
                f" take: {SCIKERAS_PARAMETERS[name]}."
            )


def routed_params(params, destination):
    """The parameters routed to ``destination``, with the prefix removed."""
    return route_params(params, destination=destination, pass_filter=set())


def optimizer_arguments(params):
    """``(arguments, nested)``: the ``optimizer__*`` arguments for SGD, and the
    sorted nested names (``a__b`` of ``optimizer__a__b``) that reach no object.

    scikeras' rule: ``optimizer__a__b`` is an argument of the object given as
    ``optimizer__a``, and SGD takes no such object (its one, the learning rate,
    is the schedule's).
    """
    routed = routed_params(params, "optimizer")
    nested = sorted(name for name in routed if "__" in name)
    return {name: value for name, value in routed.items() if "__" not in name}, nested


def make_loss(params):
    """The loss the user asked for with ``loss=`` and ``loss__*``, or None."""
    loss = params.get("loss")
    if loss is None:
        return None
    loss = try_to_convert_strings_to_classes(loss, get_loss_class_function_or_string)
    return unflatten_params(
        items=loss,
        params=route_params(params, destination="loss", pass_filter=set()),
    )


def make_metrics(params):
    """The metrics of ``metrics=`` and ``metrics__*``, made as scikeras makes
    them (names to classes, routed arguments, one metric to a list), or None."""
    metrics = params.get("metrics")
    if metrics is None:
        return None
    metrics = unflatten_params(
        items=try_to_convert_strings_to_classes(metrics, get_metric_class),
        params=route_params(params, destination="metrics", pass_filter=set()),
    )
    if not isinstance(metrics, dict | list):
        metrics = [metrics]
    return metrics


def make_compile_kwargs(params, optimizer):
    """The ``compile_kwargs`` a builder receives: ``optimizer``, the loss as
    the user gave it (None when not given, as scikeras hands it, so that a
    builder chooses its output) and the metrics.

    The metrics are for the builder to compile into the network, as in
    scikeras; the snapshot loop itself computes only the loss.
    """
    return {
        "optimizer": optimizer,
        "loss": make_loss(params),
        "metrics": make_metrics(params),
    }


def _callback_items(callbacks):
    """The elements of a ``fit__callbacks`` value: one, a list, or a dict's."""
    if isinstance(callbacks, keras.callbacks.Callback | type):
        return [callbacks]
    if isinstance(callbacks, Mapping):
        return list(callbacks.values())
    return list(callbacks)


def _callbacks_source(params):
    """``(callbacks, destination)``: ``fit__callbacks`` if given, else scikeras'
    un-prefixed ``callbacks``, and where their routed arguments are."""
    if params.get("fit__callbacks") is not None:
        return params["fit__callbacks"], "fit__callbacks"
    return params.get("callbacks"), "callbacks"


def check_callbacks(params):
    """Refuse a ``fit__callbacks`` (or ``callbacks``) element that is neither a
    Keras callback nor a callback class, without making any."""
    callbacks, destination = _callbacks_source(params)
    for callback in [] if callbacks is None else _callback_items(callbacks):
        if not (
            isinstance(callback, keras.callbacks.Callback)
            or (
                isinstance(callback, type)
                and issubclass(callback, keras.callbacks.Callback)
            )
        ):
            raise ValueError(
                f"{destination} must be a Keras callback, or a list or dict of"
                f" them (instances, or classes with their {destination}__*"
                f" arguments). Got an element {callback!r}."
            )


def make_callbacks(params):
    """The Keras callbacks of ``fit__callbacks``, as scikeras builds them.

    ``fit__callbacks`` may be one callback, a list or a dict of them, each an
    instance or a class; ``fit__callbacks__0__monitor`` (by position) or
    ``fit__callbacks__name__monitor`` (by key) are a class's arguments.
    scikeras' ``callbacks`` and ``callbacks__*`` are taken when
    ``fit__callbacks`` is not given.
    """
    callbacks, destination = _callbacks_source(params)
    if callbacks is None:
        return []
    check_callbacks(params)
    if isinstance(callbacks, keras.callbacks.Callback | type):
        callbacks = [callbacks]
    made = unflatten_params(
        items=callbacks,
        params=route_params(params, destination=destination, pass_filter=set()),
    )
    return _callback_items(made)


def _loss_names(loss):
    """A loss (or a list or dict of them, one per output) by Keras names;
    a loss without a name stands for itself."""
    if isinstance(loss, Mapping):
        return {key: _loss_names(value) for key, value in loss.items()}
    if isinstance(loss, list | tuple):
        return [_loss_names(value) for value in loss]
    try:
        return loss_name(loss)
    except (TypeError, ValueError):
        return id(loss)


def chosen_loss(given, compiled):
    """The loss to train with: scikeras' rule for ``loss=`` and a network the
    builder compiled.

    Either alone is used. Both: the same loss (by Keras name, or the same
    object) keeps the compiled one, with its configuration; different losses
    are refused, since one of them would be silently ignored.
    """
    if given is None or compiled is None:
        return compiled if given is None else given
    if given is not compiled and _loss_names(given) != _loss_names(compiled):
        raise ValueError(
            f"loss={given!r} was given, but model compiled with loss={compiled!r}."
            " Give the loss once: as the estimator's loss (the builder gets it in"
            " compile_kwargs['loss']), or by compiling the network in the builder."
        )
    return compiled


def is_one_hot_loss(loss):
    """Whether ``loss`` expects one-hot targets (categorical cross-entropy)."""
    try:
        return loss is not None and loss_name(loss) == "categorical_crossentropy"
    except (TypeError, ValueError):
        return False


def build_network(builder, params, user_param_names, meta, compile_kwargs, data):
    """Call a scikeras-style ``builder`` the way scikeras does.

    The builder receives its ``model__*`` parameters and the user's extra,
    un-prefixed keyword arguments, plus ``meta``, ``compile_kwargs`` and ``params``
    when its signature asks for them (or takes ``**kwargs``). A builder that
    names ``X`` and ``y`` gets ``data``, ``(X, y)``, as keras.wrappers'
    ``model(X, y, **model_kwargs)`` does.
    """
    build_params = route_params(
        params, destination="model", pass_filter=user_param_names, strict=True
    )
    if has_param(builder, "meta") or accepts_kwargs(builder):
        build_params["meta"] = meta
    if has_param(builder, "compile_kwargs") or accepts_kwargs(builder):
        build_params["compile_kwargs"] = compile_kwargs
    if has_param(builder, "params") or accepts_kwargs(builder):
        build_params["params"] = params
    if has_param(builder, "X") and has_param(builder, "y"):
        build_params["X"], build_params["y"] = data
    return builder(**build_params)


class _ThreadSeeds:
    """Python's ``random`` for Keras: one thread draws from its own generator.

    Keras draws every unseeded initialiser's and dropout layer's seed from
    Python's global ``random``. Other threads of the process draw from it too: in
    a Dask worker the event loop draws a few times a second while a task runs,
    so a fit that seeded the global generator got, now and then, other initial
    weights than the same fit elsewhere (issue 18). Seeds drawn on the fitting
    thread come from a generator of its own, seeded as the global one would be
    (the same sequence, so an undisturbed fit is unchanged); other threads get
    the global generator as before.
    """

    def __init__(self, seed):
        self._thread = threading.get_ident()
        self._own = random.Random(seed)

    def __getattr__(self, name):
        source = self._own if threading.get_ident() == self._thread else random
        return getattr(source, name)


def _keras_seed_source():
    """The module whose ``python_random`` Keras draws default seeds from, or None."""
    try:
        from keras.src.random import seed_generator
    except ImportError:  # pragma: no cover - a Keras without it
        return None
    if getattr(seed_generator, "python_random", None) is None:  # pragma: no cover
        return None
    return seed_generator


@contextlib.contextmanager
def seeded(seed, tensorflow=True):
    """Seed Python's, NumPy's and TensorFlow's global generators, then restore them.

    Keras draws unseeded initialiser and dropout seeds from Python's ``random``;
    while this is active, those drawn on the calling thread come from a
    generator of their own seeded with ``seed`` (see :class:`_ThreadSeeds`), so
    other threads drawing from ``random`` cannot change them. Unlike scikeras'
    ``tensorflow_random_state`` this leaves TensorFlow's op determinism off: on
    CPU the training ops used here give identical results without it, and
    turning it on made a small fit about a third slower.

    With ``tensorflow=False`` TensorFlow's global seed is left alone: changing it
    makes every compiled function rebuild its graph on its next call (about 0.2 s
    each time), which a fit through an already compiled function should not pay
    when nothing in it draws from TensorFlow's stateful generators.
    """
    python_state = random.getstate()
    numpy_state = np.random.get_state()
    tensorflow_seed = tf_get_seed() if tensorflow else None
    keras_seeds = _keras_seed_source()
    keras_source = keras_seeds.python_random if keras_seeds is not None else None
    try:
        random.seed(seed)
        np.random.seed(seed)
        if keras_seeds is not None:
            keras_seeds.python_random = _ThreadSeeds(seed)
        if tensorflow:
            tf_set_seed(seed)
        yield
    finally:
        if keras_seeds is not None:
            keras_seeds.python_random = keras_source
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        if tensorflow:
            tf_set_seed(tensorflow_seed)
