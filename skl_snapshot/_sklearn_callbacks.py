"""scikit-learn's callbacks (``sklearn.callback``, scikit-learn >= 1.9) on a fit.

A fit is one task whose subtasks are its cycles: ``ProgressBar`` shows the
cycles of a fit on its own and inside Pipeline or GridSearchCV (which propagate
their callbacks to it), and a callback whose ``on_fit_task_end`` returns True at
a cycle's end stops training there, keeping the snapshots taken so far. The
cycles reach the callbacks through a Keras callback of the training loop,
which reports each cycle as one epoch. On an older scikit-learn the
estimators have no ``set_callbacks``.
"""

import keras

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9

    class CallbackSupportMixin:
        """Stand-in without callbacks for scikit-learn releases before 1.9."""

        def _init_callback_context(self, **kwargs):
            return None


__all__ = ["CallbackSupportMixin", "CycleTasks", "has_callbacks"]


def has_callbacks(estimator):
    """Whether callbacks were set on ``estimator`` or propagated to it."""
    return bool(getattr(estimator, "_skl_callbacks", None))


class CycleTasks(keras.callbacks.Callback):
    """Report each cycle to scikit-learn's callbacks as a subtask of the fit.

    Parameters
    ----------
    estimator : estimator instance
        The estimator being fitted.
    context : sklearn.callback.CallbackContext
        The fit's root context.
    X, y : ndarray
        The training rows, as the hooks may ask for them.
    metadata : dict or None
        ``{"sample_weight": ...}`` when the rows are weighted.
    """

    def __init__(self, estimator, context, X, y, metadata):
        super().__init__()
        self._estimator = estimator
        self._context = context
        self._data = {"X": X, "y": y, "metadata": metadata}
        self._cycle = None
        self.stopped_after = None

    def on_epoch_begin(self, epoch, logs=None):
        self._cycle = self._context.subcontext(task_name="cycle")
        self._cycle.call_on_fit_task_begin(estimator=self._estimator, **self._data)

    def on_epoch_end(self, epoch, logs=None):
        stop = self._cycle.call_on_fit_task_end(estimator=self._estimator, **self._data)
        if stop:
            self.stopped_after = epoch
            self.model.stop_training = True
