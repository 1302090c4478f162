"""Thread safety: predictions and fits from many threads equal the serial ones."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from .conftest import fast_classifier, fast_regressor

N_THREADS, N_CALLS = 8, 25

PATHS = {
    # the NumPy forward pass over weights in memory
    "numpy": {},
    # every member read from disk as it votes, through one shared network
    "disk": {"in_memory": False},
    # an activation NumPy does not have: members vote through the Keras network
    "keras": {"activation": "elu"},
    "keras-disk": {"activation": "elu", "in_memory": False},
    # one averaged network
    "swa": {"method": "swa", "activation": "elu"},
}


def _in_threads(function, n_calls=N_THREADS * N_CALLS):
    with ThreadPoolExecutor(N_THREADS) as pool:
        return list(pool.map(lambda _: function(), range(n_calls)))


@pytest.mark.parametrize("path", PATHS)
def test_predict_proba_from_many_threads_equals_serial(path, blobs, tmp_path):
    X, y, X_test, _ = blobs
    params = PATHS[path]
    if not params.get("in_memory", True):
        params = {**params, "snapshot_dir": tmp_path / "run"}
    estimator = fast_classifier(**params).fit(X, y)
    # members disagree a little: a wrong member would change the probabilities
    serial = estimator.predict_proba(X_test)
    for result in _in_threads(lambda: estimator.predict_proba(X_test)):
        np.testing.assert_array_equal(result, serial)


@pytest.mark.parametrize("path", ["numpy", "keras-disk"])
def test_staged_methods_and_scores_from_many_threads(path, blobs, tmp_path):
    X, y, X_test, y_test = blobs
    params = {**PATHS[path], "snapshot_dir": tmp_path / "run"}
    estimator = fast_classifier(**params).fit(X, y)
    serial_staged = list(estimator.staged_predict_proba(X_test))
    serial_scores = estimator.snapshot_scores(X_test, y_test)
    results = _in_threads(
        lambda: (
            list(estimator.staged_predict_proba(X_test)),
            estimator.snapshot_scores(X_test, y_test),
        ),
        n_calls=N_THREADS * 4,
    )
    for staged, scores in results:
        for got, expected in zip(staged, serial_staged, strict=True):
            np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(
            scores.ensemble_log_loss, serial_scores.ensemble_log_loss
        )


@pytest.mark.parametrize("path", ["numpy", "keras-disk"])
def test_regressor_predict_from_many_threads(path, rng, tmp_path):
    X = rng.standard_normal((120, 4))
    y = X @ [1.0, -2.0, 0.5, 0.0] + 0.1 * rng.standard_normal(120)
    params = {**PATHS[path], "snapshot_dir": tmp_path / "run", "lr_max": 0.01}
    estimator = fast_regressor(**params).fit(X, y)
    serial = estimator.predict(X, return_std=True)
    for mean, std in _in_threads(lambda: estimator.predict(X, return_std=True)):
        np.testing.assert_array_equal(mean, serial[0])
        np.testing.assert_array_equal(std, serial[1])


def test_fits_in_threads_equal_fits_alone(blobs):
    X, y, X_test, _ = blobs
    configurations = [
        {"hidden_layer_sizes": (8,)},
        {"hidden_layer_sizes": (12, 6)},
        {"activation": "elu"},
        {"hidden_layer_sizes": (8,), "random_state": 3},
    ] * 2
    alone = [
        fast_classifier(**params).fit(X, y).predict_proba(X_test)
        for params in configurations[:4]
    ] * 2
    with ThreadPoolExecutor(4) as pool:
        threaded = list(
            pool.map(
                lambda params: (
                    fast_classifier(**params).fit(X, y).predict_proba(X_test)
                ),
                configurations,
            )
        )
    for got, expected in zip(threaded, alone, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_the_numpy_forward_pass_runs_on_one_blas_thread():
    """The ensemble's NumPy inference limits BLAS to one thread while it runs
    (a second one waits for a core right after training) and gives the limit
    back after, even when the pass fails."""
    from threadpoolctl import threadpool_info

    from skl_snapshot._network import one_blas_thread

    def blas_threads():
        return {
            info["filepath"]: info["num_threads"]
            for info in threadpool_info()
            if info["user_api"] == "blas"
        }

    before = blas_threads()
    with one_blas_thread():
        assert set(blas_threads().values()) <= {1}
    assert blas_threads() == before
    with pytest.raises(RuntimeError, match="inside"):
        with one_blas_thread():
            raise RuntimeError("inside")
    assert blas_threads() == before
    # overlapping contexts (two threads' predictions): the last one out
    # gives the original limits back, not the first one's view of them
    first, second = one_blas_thread(), one_blas_thread()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert set(blas_threads().values()) <= {1}
    second.__exit__(None, None, None)
    assert blas_threads() == before
