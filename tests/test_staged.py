"""Staged evaluation, the displays, and the command's figures."""

import sys
from itertools import combinations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, log_loss

from skl_snapshot import EnsembleSizeDisplay, LearningRateDisplay

from .conftest import fast_classifier

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


@pytest.fixture
def fitted4(blobs):
    X, y, _, _ = blobs
    return fast_classifier(epochs=16, n_cycles=4).fit(X, y)


@pytest.mark.parametrize("member_order", ["newest", "oldest"])
def test_staged_predict_proba_equals_n_members(fitted4, blobs, member_order):
    _, _, X_test, _ = blobs
    fitted4.set_params(member_order=member_order)
    staged = list(fitted4.staged_predict_proba(X_test))
    assert len(staged) == 4
    for k, proba in enumerate(staged, start=1):
        expected = fitted4.set_params(n_members=k).predict_proba(X_test)
        np.testing.assert_allclose(proba, expected, rtol=1e-12)
    labels = list(fitted4.set_params(n_members=None).staged_predict(X_test))
    for proba, predicted in zip(staged, labels, strict=True):
        np.testing.assert_array_equal(predicted, fitted4.classes_[proba.argmax(1)])


def test_snapshot_scores_in_one_pass(fitted4, blobs):
    _, _, X_test, y_test = blobs
    scores = fitted4.snapshot_scores(X_test, y_test)
    np.testing.assert_array_equal(scores.n_members, [1, 2, 3, 4])
    np.testing.assert_array_equal(scores.snapshot, [3, 2, 1, 0])
    np.testing.assert_array_equal(scores.epoch, [16, 12, 8, 4])
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


def test_staged_methods_validate(fitted4, blobs):
    _, _, X_test, y_test = blobs
    with pytest.raises(ValueError, match="X has 3 features"):
        next(fitted4.staged_predict_proba(X_test[:, :3]))
    fitted4.set_params(member_order="sideways")
    with pytest.raises(ValueError, match="member_order"):
        fitted4.snapshot_scores(X_test, y_test)


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
    matplotlib.pyplot.close("all")


def test_ensemble_size_display_shows_the_disagreement(fitted4, blobs):
    _, _, X_test, y_test = blobs
    assert fitted4.snapshot_disagreement_.shape == (4, 4)
    # these blobs are so easy that the snapshots never disagree; distinct pair
    # values make the running means depend on the order in which snapshots join
    pairwise = np.zeros((4, 4))
    pairwise[np.triu_indices(4, 1)] = [0.1, 0.2, 0.3, 0.05, 0.15, 0.4]
    fitted4.snapshot_disagreement_ = pairwise + pairwise.T
    pairwise = fitted4.snapshot_disagreement_
    curves = {}
    for member_order, order in (("newest", [3, 2, 1, 0]), ("oldest", [0, 1, 2, 3])):
        fitted4.set_params(member_order=member_order)
        display = EnsembleSizeDisplay.from_estimator(fitted4, X_test, y_test)
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
    display = EnsembleSizeDisplay.from_estimator(fitted4, X_test, y_test)
    assert display.disagreement is None
    assert display.disagreement_ax_ is None
    assert display.disagreement_line_ is None
    matplotlib.pyplot.close("all")


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
    matplotlib.pyplot.close("all")


def test_learning_rate_display_marks_the_snapshots(fitted4):
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
    matplotlib.pyplot.close("all")


def test_displays_need_matplotlib(fitted4, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"skl_snapshot\[plot\]"):
        LearningRateDisplay.from_estimator(fitted4)


def test_command_writes_both_figures(tmp_path, capsys):
    from skl_snapshot._cli import main

    output = tmp_path / "figures"
    status = main(["--epochs", "20", "--cycles", "4", "--output-dir", str(output)])
    assert status == 0
    printed = capsys.readouterr().out
    assert "ensemble of the newest k" in printed
    for name in ("ensemble_size.png", "learning_rate.png"):
        assert (output / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert str(output / name) in printed


def test_command_reports_bad_options(capsys):
    from skl_snapshot._cli import main

    assert main(["--epochs", "3", "--cycles", "5"]) == 2
    assert "epochs must be >= n_cycles" in capsys.readouterr().err
