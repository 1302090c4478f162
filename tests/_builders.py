"""Model builders at module level, so that a fresh process can unpickle them."""

import keras


def small_net(meta, units=8):
    """A scikeras-style builder: one hidden layer, softmax over the classes."""
    return keras.Sequential(
        [
            keras.Input(shape=(meta["n_features_in_"],)),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(meta["n_classes_"], activation="softmax"),
        ],
        name="small_net",
    )


def output_layer(meta):
    """One softmax unit per class, or one linear unit per target column."""
    if "n_classes_" in meta:
        return keras.layers.Dense(meta["n_classes_"], activation="softmax")
    return keras.layers.Dense(meta["n_outputs_"])


def small_network(meta, units=8, compile_kwargs=None):
    """A scikeras-style builder for either task: reads the data's shape from
    ``meta``."""
    return keras.Sequential(
        [
            keras.Input((meta["n_features_in_"],)),
            keras.layers.Dense(units, activation="tanh"),
            output_layer(meta),
        ]
    )
