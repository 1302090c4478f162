"""clipnorm: each weight tensor's gradient clipped to a norm, on both paths."""

import numpy as np
import pytest
from sklearn.base import is_classifier
from sklearn.utils._param_validation import InvalidParameterError

from skl_snapshot import SnapshotEnsembleClassifier, SnapshotEnsembleRegressor
from skl_snapshot._plan import FitPlan

from .conftest import (
    _blobs,
    _linear,
    fast_classifier,
    fast_regressor,
    old_plan_record,
    output,
)

TASKS = {
    "classifier": (fast_classifier, _blobs),
    "regressor": (fast_regressor, _linear),
}


@pytest.fixture(params=list(TASKS))
def task(request):
    make, data = TASKS[request.param]
    return make, data()


@pytest.mark.parametrize("n_networks", [1, 3])
def test_the_shared_path_clips_as_keras_does(task, n_networks):
    """A norm small enough to clip most steps: the built-in network's shared
    function and Keras' SGD(clipnorm=...) train the same networks alike."""
    make, (X, y, X_test, _) = task
    # tanh: a rounding difference moving a relu unit across zero would let the
    # runs drift apart
    params = {"activation": "tanh", "n_networks": n_networks, "clipnorm": 0.05}
    shared = make(**params).fit(X, y)
    # any routed optimizer argument sends the built-in network down the Keras path
    general = make(**params, optimizer__nesterov=False).fit(X, y)
    unclipped = make(**{**params, "clipnorm": None}).fit(X, y)
    assert shared._shared_training_activation(shared.get_params(), shared._loss)
    assert not general._shared_training_activation(general.get_params(), None)
    np.testing.assert_allclose(shared.loss_history_, general.loss_history_, rtol=1e-4)
    np.testing.assert_allclose(
        output(shared, X_test), output(general, X_test), rtol=1e-4, atol=1e-5
    )
    # the norm did clip: without it the networks train otherwise
    assert not np.allclose(shared.loss_history_, unclipped.loss_history_, rtol=1e-2)


def test_clipping_keeps_a_runaway_fit_finite(task):
    """Unscaled features and a high rate blow an unclipped fit up; clipped, the
    same fit stays finite (and the classifier still separates the blobs)."""
    make, (X, y, X_test, y_test) = task
    scale = 100.0 if make is fast_classifier else 30.0
    with pytest.raises(ValueError, match=r"diverged.*in cycle \d+.*clipnorm=None"):
        make(lr_max=0.5, clipnorm=None).fit(X * scale, y)
    clipped = make(lr_max=0.5, clipnorm=1.0).fit(X * scale, y)
    assert np.isfinite(output(clipped, X_test * scale)).all()
    if is_classifier(clipped):
        assert clipped.score(X_test * scale, y_test) > 0.9


def test_the_divergence_error_counts_cycles_not_snapshots():
    X, y, _, _ = _linear()
    with pytest.raises(ValueError, match=r"in cycle 1\. "):
        fast_regressor(lr_max=5.0, clipnorm=None, n_networks=3, cross_fit=False).fit(
            X * 100, y
        )


@pytest.mark.parametrize(
    "Estimator", [SnapshotEnsembleClassifier, SnapshotEnsembleRegressor]
)
@pytest.mark.parametrize("value", [0, -1.0, "large", np.nan, np.inf])
def test_bad_clipnorm_is_refused_by_name(Estimator, value):
    X, y, _, _ = _blobs()
    with pytest.raises(InvalidParameterError, match="'clipnorm' parameter"):
        Estimator(clipnorm=value, epochs=2, n_cycles=1).fit(X, y)


def test_clipnorm_owns_the_optimizer_s_clipping(task):
    make, (X, y, _, _) = task
    with pytest.raises(ValueError, match="optimizer__clipnorm cannot be set.*Set"):
        make(optimizer__clipnorm=1.0).fit(X, y)
    for name in ("clipvalue", "global_clipnorm"):
        with pytest.raises(ValueError, match=rf"set clipnorm=None.*{name}=1\.0"):
            make(**{f"optimizer__{name}": 1.0}).fit(X, y)
        # with clipnorm=None, Keras' other rules clip instead
        make(clipnorm=None, **{f"optimizer__{name}": 1.0}).fit(X, y)


def test_the_plan_records_clipnorm():
    """A run resumes only with the norm it trained with; a plan written before
    clipnorm existed trained unclipped."""
    record = old_plan_record()
    old = FitPlan.from_json(record)
    assert old.clipnorm is None
    clipped = FitPlan.from_json({**record, "clipnorm": 20.0})
    assert "clipnorm differs (None there, 20.0 now)" in old.mismatch(clipped)
    for bad in (0, -1.0, "20", float("nan")):
        with pytest.raises(ValueError, match=r"\['clipnorm'\]"):
            FitPlan.from_json({**record, "clipnorm": bad})


def test_a_fit_records_its_norm_and_a_loaded_directory_keeps_it(task, tmp_path):
    make, (X, y, X_test, _) = task
    fitted = make(clipnorm=3.0, snapshot_dir=tmp_path / "run").fit(X, y)
    assert fitted._fits[-1].clipnorm == 3.0
    loaded = type(fitted).from_snapshot_dir(tmp_path / "run")
    assert loaded.clipnorm == 3.0
    np.testing.assert_allclose(output(loaded, X_test), output(fitted, X_test))
