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
