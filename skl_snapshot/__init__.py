"""Snapshot ensembles of Keras networks as scikit-learn estimators.

Train one network with a cyclic cosine learning rate, keep its weights at the end
of every cycle, and average their predictions: M classifiers for the cost of one
(Huang et al. 2017, arXiv:1704.00109).

The public names are imported on first use, so that ``import skl_snapshot`` and the
``skl-snapshot --help`` command do not pay for importing TensorFlow.
"""

import importlib
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("skl_snapshot")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

_PUBLIC_NAMES = {
    "CyclicCosineAnnealing": "._schedules",
    "EnsembleSizeDisplay": "._plotting",
    "LearningRateDisplay": "._plotting",
    "SnapshotEnsembleCallback": "._ensemble_callback",
    "SnapshotEnsembleClassifier": "._classifier",
    "SnapshotEnsembleRegressor": "._regressor",
    "SnapshotDirectoryError": "._persistence",
    "build_mlp": "._network",
    "register_onnx_converters": "._onnx",
    "cycle_epochs": "._schedules",
    "cyclic_cosine_annealing": "._schedules",
}

__all__ = sorted([*_PUBLIC_NAMES, "__version__"])


def __getattr__(name):
    if name in _PUBLIC_NAMES:
        from ._quiet import import_tensorflow_quietly

        import_tensorflow_quietly()
        value = getattr(importlib.import_module(_PUBLIC_NAMES[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return __all__
