"""The benchmark's data sets (``bench/_datasets.py``) load as they promise.

Each data package is optional: a data set whose package is not installed is
skipped, not failed.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

_PATH = Path(__file__).resolve().parents[1] / "bench" / "_datasets.py"
_SPEC = importlib.util.spec_from_file_location("bench_datasets", _PATH)
datasets = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(datasets)

ALL = {**datasets.CLASSIFICATION, **datasets.REGRESSION}
INFO_KEYS = {
    "name",
    "task",
    "source",
    "package",
    "dataset",
    "citation",
    "target",
    "dropped",
    "real",
    "n_rows",
    "n_numeric",
    "n_categorical",
    "missing_share",
    "subsampled_from",
}


def load(name):
    pytest.importorskip(ALL[name].package)
    return ALL[name]()


@pytest.mark.parametrize("name", list(ALL))
def test_loads_with_the_promised_shapes_and_dtypes(name):
    X, y, info = load(name)
    assert isinstance(X, pd.DataFrame)
    assert set(info) == INFO_KEYS
    assert info["name"] == name
    assert info["package"].split()[0] == ALL[name].package
    assert info["package"] in info["source"] and info["citation"] in info["source"]
    assert len(X) == len(y) == info["n_rows"] <= datasets.MAX_ROWS
    assert X.index.equals(pd.RangeIndex(len(X)))
    assert not set(info["dropped"]) & set(X.columns)

    categorical = [c for c in X if isinstance(X[c].dtype, pd.CategoricalDtype)]
    numeric = [c for c in X if X[c].dtype == np.float64]
    assert len(categorical) + len(numeric) == X.shape[1]
    assert (info["n_numeric"], info["n_categorical"]) == (
        len(numeric),
        len(categorical),
    )
    assert info["missing_share"] == pytest.approx(X.isna().to_numpy().mean())

    if name in datasets.CLASSIFICATION:
        assert info["task"] == "classification"
        assert y.dtype.kind == "U"
        _, counts = np.unique(y, return_counts=True)
        assert len(counts) >= 2
        assert counts.min() >= 30
    else:
        assert info["task"] == "regression"
        assert y.dtype == np.float64
        assert np.isfinite(y).all()


@pytest.mark.parametrize("name", list(ALL))
def test_preprocessor_makes_a_finite_float_matrix(name):
    X, _, _ = load(name)
    # Fit on one half and transform the other, as the benchmark's splits do:
    # categories or missing values seen only in the second half must not break it.
    half = len(X) // 2
    transformer = datasets.preprocessor(X).fit(X.iloc[:half])
    for part in (X.iloc[:half], X.iloc[half:]):
        Z = transformer.transform(part)
        assert isinstance(Z, np.ndarray)
        assert Z.dtype == np.float64
        assert Z.shape[0] == len(part)
        assert np.isfinite(Z).all()


@pytest.mark.parametrize("name", list(ALL))
def test_loading_is_deterministic(name):
    X_first, y_first, info_first = load(name)
    X_second, y_second, info_second = ALL[name]()
    pd.testing.assert_frame_equal(X_first, X_second)
    np.testing.assert_array_equal(y_first, y_second)
    assert info_first == info_second


def test_the_registry_holds_what_the_benchmark_needs():
    assert len(datasets.CLASSIFICATION) >= 12
    assert len(datasets.REGRESSION) >= 6
    if len(datasets.available()) < len(ALL):
        pytest.skip("some data packages are not installed")
    infos = [ALL[name]()[2] for name in ALL]
    real_mixed = [i for i in infos if i["real"] and i["n_categorical"] > 0]
    classification = [i for i in real_mixed if i["task"] == "classification"]
    assert len(classification) >= 6
    assert sum(i["missing_share"] > 0 for i in classification) >= 3
    assert sum(i["task"] == "regression" for i in real_mixed) >= 3


def test_a_missing_package_raises_an_import_error_naming_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "palmerpenguins", None)
    assert "penguins" not in datasets.available()
    assert "wine" in datasets.available("classification")
    with pytest.raises(ImportError, match="pip install 'palmerpenguins>="):
        datasets.CLASSIFICATION["penguins"]()


def test_available_refuses_an_unknown_task():
    with pytest.raises(ValueError, match="Got task='clustering'"):
        datasets.available("clustering")


def test_load_names_the_known_data_sets_when_the_name_is_unknown():
    with pytest.raises(KeyError, match="No data set is named 'nope'"):
        datasets.load("nope")
