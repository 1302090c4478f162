"""Hostile and extreme inputs: a clear error naming X, or finite predictions."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from .conftest import fast_classifier, fast_regressor

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def fitted_pair():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    classifier = fast_classifier().fit(X, (X[:, 0] > 0).astype(int))
    keras_path = fast_classifier(activation="elu").fit(X, (X[:, 0] > 0).astype(int))
    regressor = fast_regressor(lr_max=0.01).fit(X, X @ [1.0, -1.0, 2.0])
    return classifier, keras_path, regressor


def _outputs(estimator, X):
    if hasattr(estimator, "predict_proba"):
        return estimator.predict_proba(X)
    return estimator.predict(X)


@pytest.mark.parametrize("value", [1e39, -1e300, np.finfo(np.float64).max])
def test_values_beyond_float32_are_refused_naming_x(fitted_pair, value):
    for estimator in fitted_pair:
        X = np.zeros((2, 3))
        X[1, 2] = value
        with pytest.raises(ValueError, match="X holds values beyond float32's range"):
            _outputs(estimator, X)
        with pytest.raises(ValueError, match="X holds values beyond float32"):
            list(estimator.staged_predict(X))


def test_fit_refuses_values_beyond_float32():
    X = np.ones((20, 2))
    X[3, 1] = 1e40
    for estimator, y in [
        (fast_classifier(), np.arange(20) % 2),
        (fast_regressor(), np.arange(20.0)),
    ]:
        with pytest.raises(ValueError, match="Got a value of magnitude 1e\\+40"):
            estimator.fit(X, y)


def test_overflow_inside_the_network_is_an_error_not_nan(fitted_pair):
    X = np.full((1, 3), 3e38)  # representable, but products overflow
    for estimator in fitted_pair:
        try:
            outputs = _outputs(estimator, X)
        except ValueError as error:
            assert "not finite" in str(error) and "X" in str(error)
        else:
            assert np.isfinite(outputs).all()


finite_or_extreme = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.sampled_from([0.0, -0.0, 1e-45, 3.4e38, -3.4e38, 1e39, 1e308]),
)


@FUZZ
@given(
    X=arrays(
        np.float64, st.tuples(st.integers(1, 5), st.just(3)), elements=finite_or_extreme
    )
)
def test_fuzzed_prediction_inputs(fitted_pair, X):
    """Every input gives finite probabilities summing to one, or a ValueError
    that names X."""
    for estimator in fitted_pair:
        try:
            outputs = _outputs(estimator, X)
        except ValueError as error:
            assert "X" in str(error)
            continue
        assert outputs.shape[0] == X.shape[0] and np.isfinite(outputs).all()
        if hasattr(estimator, "predict_proba"):
            np.testing.assert_allclose(outputs.sum(axis=1), 1.0, rtol=1e-5)


@settings(max_examples=15, deadline=None)
@given(
    X=arrays(
        np.float64,
        st.tuples(st.integers(2, 12), st.integers(1, 3)),
        elements=st.one_of(
            st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0.0, 1e39])
        ),
    ),
    labels=st.lists(st.integers(0, 2), min_size=12, max_size=12),
)
def test_fuzzed_training_inputs(X, labels):
    """fit either succeeds and predicts finite probabilities, or raises a
    ValueError (never another exception, never NaN)."""
    y = np.asarray(labels[: X.shape[0]])
    estimator = fast_classifier(epochs=4, n_cycles=2)
    try:
        estimator.fit(X, y)
    except ValueError:
        return
    try:
        proba = estimator.predict_proba(X)
    except ValueError as error:
        assert "X" in str(error)
        return
    assert np.isfinite(proba).all()
