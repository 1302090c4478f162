"""The class swap of the adapted scikeras tests.

scikeras' ``KerasClassifier`` and ``KerasRegressor`` are replaced by our
estimators with scikeras' own budget: one epoch, so one cycle, of one network
(scikeras' default is ``epochs=1``). Every other default is ours. A test that
passes ``epochs=`` trains that many epochs in one cycle.

``BaseWrapper`` (scikeras' task-free base, which has no counterpart here) is
our common base class, so that annotations and ``isinstance`` checks keep
their meaning; tests that build a bare ``BaseWrapper`` are marked not
applicable.
"""

import inspect

from skl_snapshot import SnapshotEnsembleClassifier, SnapshotEnsembleRegressor
from skl_snapshot._base import BaseSnapshotEnsemble as BaseWrapper

__all__ = ["BaseWrapper", "KerasClassifier", "KerasRegressor"]

#: scikeras' budget: ``epochs=1`` (its default), hence one cycle and one network.
SHORT_BUDGET = {"epochs": 1, "n_cycles": 1, "t_mult": 1.0, "n_networks": 1}


def _with_short_budget(base):
    """``base`` with the defaults of :data:`SHORT_BUDGET`, as a subclass whose
    signature (read by ``get_params`` and ``clone``) shows them."""

    def __init__(self, model=None, **params):
        base.__init__(self, model=model, **{**SHORT_BUDGET, **params})

    signature = inspect.signature(base.__init__)
    __init__.__signature__ = signature.replace(
        parameters=[
            parameter.replace(default=SHORT_BUDGET[name])
            if name in SHORT_BUDGET
            else parameter
            for name, parameter in signature.parameters.items()
        ]
    )
    name = {"SnapshotEnsembleClassifier": "KerasClassifier"}.get(
        base.__name__, "KerasRegressor"
    )
    return type(name, (base,), {"__init__": __init__, "__module__": __name__})


KerasClassifier = _with_short_budget(SnapshotEnsembleClassifier)
KerasRegressor = _with_short_budget(SnapshotEnsembleRegressor)
