"""Staged evaluation: staged predictions, snapshot scores, their validation.

The tests that take the ``task`` fixture run for both estimators; the scores only
a classifier reports are checked here, a regressor's in test_regressor.py, and the
displays drawn from them in test_plotting.py.
"""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, log_loss

from .conftest import output, staged_output


@pytest.mark.parametrize("member_order", ["newest", "oldest"])
def test_staged_predictions_equal_n_members(task, task_fitted4, member_order):
    fitted4 = task_fitted4.set_params(member_order=member_order)
    staged = list(staged_output(fitted4, task.X_test))
    assert len(staged) == 4
    for k, stage in enumerate(staged, start=1):
        expected = output(fitted4.set_params(n_members=k), task.X_test)
        assert stage.shape == expected.shape
        np.testing.assert_allclose(stage, expected, rtol=1e-12)
    # the last stage is the prediction of the whole ensemble
    whole = output(fitted4.set_params(n_members=None), task.X_test)
    np.testing.assert_allclose(staged[-1], whole, rtol=1e-12)
    assert not np.allclose(staged[0], whole)


@pytest.mark.parametrize(
    "member_order, snapshots",
    [("newest", [3, 2, 1, 0]), ("oldest", [0, 1, 2, 3])],
)
def test_snapshot_scores_list_the_members_in_voting_order(
    task, task_fitted4, member_order, snapshots
):
    task_fitted4.set_params(member_order=member_order)
    scores = task_fitted4.snapshot_scores(task.X_test, task.y_test)
    np.testing.assert_array_equal(scores.n_members, [1, 2, 3, 4])
    np.testing.assert_array_equal(scores.snapshot, snapshots)
    np.testing.assert_array_equal(scores.epoch, 4 * np.array(snapshots) + 4)


def test_snapshot_scores_in_one_pass(fitted4, blobs):
    _, _, X_test, y_test = blobs
    scores = fitted4.snapshot_scores(X_test, y_test)
    staged = list(fitted4.staged_predict_proba(X_test))
    for k in range(4):
        fitted4.set_params(n_members=1, member_order="oldest")
        alone = next(
            fitted4._snapshot_votes(fitted4._validate_features(X_test), [3 - k])
        )
        assert scores.single_accuracy[k] == accuracy_score(
            y_test, fitted4.classes_[alone.argmax(1)]
        )
        assert scores.single_log_loss[k] == pytest.approx(log_loss(y_test, alone))
        assert scores.ensemble_accuracy[k] == accuracy_score(
            y_test, fitted4.classes_[staged[k].argmax(1)]
        )
        assert scores.ensemble_log_loss[k] == pytest.approx(log_loss(y_test, staged[k]))


def test_staged_methods_validate(task, task_fitted):
    with pytest.raises(ValueError, match="X has 3 features"):
        next(staged_output(task_fitted, task.X_test[:, :3]))
    with pytest.raises(ValueError, match="X has 3 features"):
        task_fitted.snapshot_scores(task.X_test[:, :3], task.y_test)
    task_fitted.set_params(member_order="sideways")
    with pytest.raises(ValueError, match="member_order"):
        task_fitted.snapshot_scores(task.X_test, task.y_test)
    with pytest.raises(ValueError, match="member_order"):
        next(staged_output(task_fitted, task.X_test))
