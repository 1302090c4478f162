"""The class swap of Keras' adapted wrapper tests.

keras.wrappers' ``SKLearnClassifier(model, model_kwargs, fit_kwargs)`` and
``SKLearnRegressor`` become our estimators: ``model_kwargs`` are the builder's
arguments (``model__*``, which a builder ``model(X, y, **kwargs)`` receives with
the training X and y, as keras.wrappers passes them), and ``fit_kwargs``'
``epochs`` (Keras' default 1) is the budget, in one cycle of one network.
"""

from skl_snapshot import SnapshotEnsembleClassifier, SnapshotEnsembleRegressor

__all__ = ["SKLearnClassifier", "SKLearnRegressor"]


def _swapped(Estimator):
    def make(model, model_kwargs=None, fit_kwargs=None):
        fit_kwargs = dict(fit_kwargs or {})
        epochs = fit_kwargs.pop("epochs", 1)
        if fit_kwargs:
            raise ValueError(f"the swap maps only fit_kwargs' epochs: {fit_kwargs}")
        return Estimator(
            model=model,
            epochs=epochs,
            n_cycles=1,
            t_mult=1.0,
            n_networks=1,
            **{f"model__{name}": value for name, value in (model_kwargs or {}).items()},
        )

    return make


SKLearnClassifier = _swapped(SnapshotEnsembleClassifier)
SKLearnRegressor = _swapped(SnapshotEnsembleRegressor)
