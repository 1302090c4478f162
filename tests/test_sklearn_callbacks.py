"""scikit-learn's callbacks (sklearn.callback) on a fit: one task a cycle."""

import collections

import numpy as np
import pytest

callback = pytest.importorskip("sklearn.callback")

from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


class Counting:
    """Counts the tasks it sees by estimator and name; can stop a cycle."""

    def __init__(self, stop_after_cycle=None):
        self.begun = collections.Counter()
        self.ended = collections.Counter()
        self.stop_after_cycle = stop_after_cycle

    def setup(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        self.begun[type(estimator).__name__, context.task_name] += 1

    def on_fit_task_end(self, estimator, context):
        self.ended[type(estimator).__name__, context.task_name] += 1
        return (
            context.task_name == "cycle"
            and self.stop_after_cycle is not None
            and context.task_id + 1 == self.stop_after_cycle
        )

    def teardown(self, estimator, context):
        pass


class PropagatedCounting(Counting):
    max_propagation_depth = None


def test_a_fit_is_a_task_of_one_subtask_a_cycle(task):
    counting = Counting()
    estimator = task.make().set_callbacks(counting)
    estimator.fit(task.X, task.y)
    name = type(estimator).__name__
    assert counting.begun == {(name, "fit"): 1, (name, "cycle"): 3}
    assert counting.ended == counting.begun
    assert estimator.n_snapshots_ == 3


def test_a_callback_stops_training_at_a_cycle_end(task):
    estimator = task.make().set_callbacks(Counting(stop_after_cycle=2))
    estimator.fit(task.X, task.y)
    assert estimator.n_snapshots_ == 2
    np.testing.assert_array_equal(estimator.snapshot_epochs_, [4, 8])
    reference = task.make(epochs=12).fit(task.X, task.y)
    # the two snapshots are those an uninterrupted run takes at epochs 4 and 8
    for kept, full in zip(
        estimator.snapshot_weights_, reference.snapshot_weights_[:2], strict=True
    ):
        for a, b in zip(kept, full, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert estimator.predict(task.X_test).shape[0] == len(task.X_test)


def test_callbacks_propagate_from_grid_search_through_a_pipeline(task):
    counting = PropagatedCounting()
    pipeline = make_pipeline(StandardScaler(), task.make())
    step = pipeline.steps[-1][0]
    search = GridSearchCV(pipeline, {f"{step}__n_members": [1, 2]}, cv=2)
    search.set_callbacks(counting).fit(task.X, task.y)
    name = type(pipeline[-1]).__name__
    # 2 candidates x 2 folds, and the refit, of 3 cycles each
    assert counting.begun[name, "fit"] == 5
    assert counting.begun[name, "cycle"] == 15
    assert counting.ended[name, "cycle"] == 15


def test_progress_bar_on_a_fit_and_in_a_search(task, capsys):
    pytest.importorskip("rich")
    task.make().set_callbacks(callback.ProgressBar()).fit(task.X, task.y)
    pipeline = make_pipeline(StandardScaler(), task.make())
    step = pipeline.steps[-1][0]
    GridSearchCV(pipeline, {f"{step}__n_members": [1, 2]}, cv=2).set_callbacks(
        callback.ProgressBar()
    ).fit(task.X, task.y)


def test_verbose_still_reports_with_callbacks(task, capsys):
    task.make(verbose=1).set_callbacks(Counting()).fit(task.X, task.y)
    assert capsys.readouterr().out.count("cycle ") >= 3
