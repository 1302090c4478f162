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
    "ClassifierLabelEncoder",
    "build_network",
    "check_callbacks",
    "is_one_hot_loss",
    "make_callbacks",
    "make_loss",
    "routed_params",
    "seeded",
]

#: Prefixes of the scikeras-style routed parameters, ``<prefix>__<name>``.
ROUTING_PREFIXES = ("model", "optimizer", "loss", "fit")


def routed_params(params, destination):
    """The parameters routed to ``destination``, with the prefix removed."""
    return route_params(params, destination=destination, pass_filter=set())


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


def _callback_items(callbacks):
    """The elements of a ``fit__callbacks`` value: one, a list, or a dict's."""
    if isinstance(callbacks, keras.callbacks.Callback | type):
        return [callbacks]
    if isinstance(callbacks, Mapping):
        return list(callbacks.values())
    return list(callbacks)


def check_callbacks(params):
    """Refuse a ``fit__callbacks`` element that is neither a Keras callback nor
    a callback class, without making any."""
    callbacks = params.get("fit__callbacks")
    for callback in [] if callbacks is None else _callback_items(callbacks):
        if not (
            isinstance(callback, keras.callbacks.Callback)
            or (
                isinstance(callback, type)
                and issubclass(callback, keras.callbacks.Callback)
            )
        ):
            raise ValueError(
                "fit__callbacks must be a Keras callback, or a list or dict of"
                " them (instances, or classes with their fit__callbacks__*"
                f" arguments). Got an element {callback!r}."
            )


def make_callbacks(params):
    """The Keras callbacks of ``fit__callbacks``, as scikeras builds them.

    ``fit__callbacks`` may be one callback, a list or a dict of them, each an
    instance or a class; ``fit__callbacks__0__monitor`` (by position) or
    ``fit__callbacks__name__monitor`` (by key) are a class's arguments.
    """
    callbacks = params.get("fit__callbacks")
    if callbacks is None:
        return []
    check_callbacks(params)
    if isinstance(callbacks, keras.callbacks.Callback | type):
        callbacks = [callbacks]
    made = unflatten_params(
        items=callbacks,
        params=route_params(params, destination="fit__callbacks", pass_filter=set()),
    )
    return _callback_items(made)


def is_one_hot_loss(loss):
    """Whether ``loss`` expects one-hot targets (categorical cross-entropy)."""
    try:
        return loss is not None and loss_name(loss) == "categorical_crossentropy"
    except (TypeError, ValueError):
        return False


def build_network(builder, params, user_param_names, meta, compile_kwargs):
    """Call a scikeras-style ``builder`` the way scikeras does.

    The builder receives its ``model__*`` parameters and the user's extra,
    un-prefixed keyword arguments, plus ``meta``, ``compile_kwargs`` and ``params``
    when its signature asks for them (or takes ``**kwargs``).
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
    return builder(**build_params)


@contextlib.contextmanager
def seeded(seed, tensorflow=True):
    """Seed Python's, NumPy's and TensorFlow's global generators, then restore them.

    Keras draws unseeded initialiser and dropout seeds from Python's ``random``.
    Unlike scikeras' ``tensorflow_random_state`` this leaves TensorFlow's op
    determinism off: on CPU the training ops used here give identical results
    without it, and turning it on made a small fit about a third slower.

    With ``tensorflow=False`` TensorFlow's global seed is left alone: changing it
    makes every compiled function rebuild its graph on its next call (about 0.2 s
    each time), which a fit through an already compiled function should not pay
    when nothing in it draws from TensorFlow's stateful generators.
    """
    python_state = random.getstate()
    numpy_state = np.random.get_state()
    tensorflow_seed = tf_get_seed() if tensorflow else None
    try:
        random.seed(seed)
        np.random.seed(seed)
        if tensorflow:
            tf_set_seed(seed)
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        if tensorflow:
            tf_set_seed(tensorflow_seed)
