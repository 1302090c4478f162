"""Snapshot ensembles of Keras networks as scikit-learn estimators.

Train one network with a cyclic cosine learning rate, keep its weights at the end
of every cycle, and average their predictions: M classifiers for the cost of one
(Huang et al. 2017, arXiv:1704.00109).
"""

from importlib.metadata import PackageNotFoundError, version

from ._classifier import SnapshotEnsembleClassifier
from ._network import build_mlp
from ._schedules import CyclicCosineAnnealing, cycle_epochs, cyclic_cosine_annealing

try:
    __version__ = version("skl_snapshot")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "CyclicCosineAnnealing",
    "SnapshotEnsembleClassifier",
    "__version__",
    "build_mlp",
    "cycle_epochs",
    "cyclic_cosine_annealing",
]
