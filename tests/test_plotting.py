"""The displays: EnsembleSizeDisplay and LearningRateDisplay, for both tasks."""

import sys
from itertools import combinations

import numpy as np
import pytest

from skl_snapshot import EnsembleSizeDisplay, LearningRateDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    matplotlib.pyplot.close("all")


def test_ensemble_size_display_carries_the_scores(fitted4, blobs):
    _, _, X_test, y_test = blobs
    scores = fitted4.snapshot_scores(X_test, y_test)
    display = EnsembleSizeDisplay.from_estimator(fitted4, X_test, y_test)
    np.testing.assert_array_equal(display.ensemble_scores, scores.ensemble_accuracy)
    np.testing.assert_array_equal(
        display.ensemble_line_.get_ydata(), scores.ensemble_accuracy
    )
    np.testing.assert_array_equal(
        display.single_points_.get_offsets()[:, 1], scores.single_accuracy
    )
    newest_alone = scores.single_accuracy[0]
    assert display.final_score == newest_alone
    assert display.final_line_.get_ydata()[0] == newest_alone
    assert display.figure_ is display.ax_.figure
    assert display.ax_.get_ylabel() == "Accuracy"

    _, ax = matplotlib.pyplot.subplots()
    display = EnsembleSizeDisplay.from_estimator(
        fitted4, X_test, y_test, metric="log_loss", ax=ax
    )
    assert display.ax_ is ax
    np.testing.assert_array_equal(display.ensemble_scores, scores.ensemble_log_loss)
    with pytest.raises(ValueError, match="metric must be one of.*Got metric='f1'"):
        EnsembleSizeDisplay.from_estimator(fitted4, X_test, y_test, metric="f1")


def test_ensemble_size_display_of_a_regressor(fitted_regressor, linear):
    _, _, X_test, y_test = linear
    scores = fitted_regressor.snapshot_scores(X_test, y_test)
    r2 = EnsembleSizeDisplay.from_estimator(
        fitted_regressor, X_test, y_test, metric="r2"
    )
    np.testing.assert_allclose(r2.ensemble_scores, scores.ensemble_r2)
    np.testing.assert_allclose(r2.ensemble_line_.get_ydata(), scores.ensemble_r2)
    default = EnsembleSizeDisplay.from_estimator(fitted_regressor, X_test, y_test)
    assert default.metric == "r2"
    np.testing.assert_allclose(default.ensemble_scores, scores.ensemble_r2)
    rmse = EnsembleSizeDisplay.from_estimator(
        fitted_regressor, X_test, y_test, metric="rmse"
    )
    np.testing.assert_allclose(rmse.ensemble_scores, np.sqrt(scores.ensemble_mse))
    np.testing.assert_allclose(rmse.single_scores, np.sqrt(scores.single_mse))
    assert rmse.figure_ is rmse.ax_.figure
    for metric in ("accuracy", "log_loss"):
        with pytest.raises(
            ValueError,
            match=f"metric must be one of.*for SnapshotEnsembleRegressor"
            f"\\. Got metric='{metric}'",
        ):
            EnsembleSizeDisplay.from_estimator(
                fitted_regressor, X_test, y_test, metric=metric
            )


def test_ensemble_size_display_shows_the_disagreement(task, task_fitted4):
    fitted4 = task_fitted4
    assert fitted4.snapshot_disagreement_.shape == (4, 4)
    # distinct pair values, set by hand, make the running means depend on the
    # order in which snapshots join
    pairwise = np.zeros((4, 4))
    pairwise[np.triu_indices(4, 1)] = [0.1, 0.2, 0.3, 0.05, 0.15, 0.4]
    fitted4.snapshot_disagreement_ = pairwise + pairwise.T
    pairwise = fitted4.snapshot_disagreement_
    curves = {}
    for member_order, order in (("newest", [3, 2, 1, 0]), ("oldest", [0, 1, 2, 3])):
        fitted4.set_params(member_order=member_order)
        display = EnsembleSizeDisplay.from_estimator(fitted4, task.X_test, task.y_test)
        expected = [0.0] + [
            np.mean([pairwise[a, b] for a, b in combinations(order[:k], 2)])
            for k in range(2, 5)
        ]
        np.testing.assert_allclose(display.disagreement, expected)
        line = display.disagreement_line_
        assert line.axes is display.disagreement_ax_
        assert display.disagreement_ax_ in display.figure_.axes
        assert display.disagreement_ax_ is not display.ax_
        assert line.get_linestyle() == ":"
        assert line.get_label() == "mean disagreement of the first k"
        np.testing.assert_allclose(line.get_ydata(), expected)
        legend = [text.get_text() for text in display.ax_.get_legend().get_texts()]
        assert "mean disagreement of the first k" in legend
        curves[member_order] = display.disagreement
    np.testing.assert_allclose(curves["newest"], [0, 0.4, 0.6 / 3, 0.2])
    np.testing.assert_allclose(curves["oldest"], [0, 0.1, 0.35 / 3, 0.2])

    # an estimator from before the disagreement was recorded: no line
    del fitted4.snapshot_disagreement_
    display = EnsembleSizeDisplay.from_estimator(fitted4, task.X_test, task.y_test)
    assert display.disagreement is None
    assert display.disagreement_ax_ is None
    assert display.disagreement_line_ is None


def test_hand_built_ensemble_size_display_has_no_twin_axis():
    _, ax = matplotlib.pyplot.subplots()
    display = EnsembleSizeDisplay(
        n_members=np.arange(1, 4),
        single_scores=np.array([0.8, 0.7, 0.6]),
        ensemble_scores=np.array([0.8, 0.85, 0.86]),
        final_score=0.8,
    ).plot(ax=ax)
    assert display.disagreement_ax_ is None
    assert display.disagreement_line_ is None
    assert display.figure_.axes == [ax]
    assert len(display.ax_.get_legend().get_texts()) == 3


def test_learning_rate_display_marks_the_snapshots(task_fitted4):
    fitted4 = task_fitted4
    display = LearningRateDisplay.from_estimator(fitted4)
    np.testing.assert_array_equal(
        display.line_.get_ydata(), fitted4.learning_rate_history_
    )
    points = display.snapshot_points_.get_offsets()
    np.testing.assert_array_equal(points[:, 0], [32, 64, 96, 128])
    # the markers show the rates recorded in training, computed in float32
    np.testing.assert_allclose(
        points[:, 1],
        fitted4.learning_rate_history_[points[:, 0].astype(int) - 1],
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        points[:, 1], fitted4.snapshot_learning_rates_, rtol=1e-5
    )


def test_displays_need_matplotlib(task, task_fitted4, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"skl_snapshot\[plot\]"):
        LearningRateDisplay.from_estimator(task_fitted4)
    with pytest.raises(ImportError, match=r"skl_snapshot\[plot\]"):
        EnsembleSizeDisplay.from_estimator(task_fitted4, task.X_test, task.y_test)
