"""Keras' tests of keras.wrappers (keras 3.15.1, Apache License 2.0: see
LICENSE.keras), adapted to our estimators by a class swap (_swap.py)."""
