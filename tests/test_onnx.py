"""ONNX export: onnxruntime reproduces predict_proba / predict."""

import numpy as np
import pytest

pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

from skl2onnx import to_onnx  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skl_snapshot import register_onnx_converters  # noqa: E402

from ._builders import small_net  # noqa: E402
from .conftest import (  # noqa: E402
    fast_classifier,
    fast_regressor,
    noisy_linear_classes,
)


@pytest.fixture(scope="module", autouse=True)
def converters():
    register_onnx_converters()


def _data(labels=("a", "b", "c")):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4)).astype(np.float32) * 3 + 1
    index = (X[:, 0] > 1).astype(int) + (X[:, 1] > 1).astype(int)
    return X, np.asarray(labels)[index]


def _run(onx, X):
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {session.get_inputs()[0].name: X})


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"n_networks": 2},  # cross-fitted: fitted voting weights
        {"n_members": 1},
        {"member_order": "oldest", "n_members": 2},
        {"method": "swa"},
        {"activation": "tanh", "hidden_layer_sizes": (8, 6)},
    ],
)
def test_pipeline_classifier_matches_predict_proba(params):
    X, y = _data()
    pipeline = make_pipeline(StandardScaler(), fast_classifier(**params)).fit(X, y)
    labels, proba = _run(to_onnx(pipeline, X[:1], options={"zipmap": False}), X)
    np.testing.assert_allclose(proba, pipeline.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(labels, pipeline.predict(X))


def test_integer_labels_and_zipmap():
    X, y = _data(labels=(3, 7, 9))
    classifier = fast_classifier().fit(X, y)
    labels, proba = _run(to_onnx(classifier, X[:1]), X)
    np.testing.assert_array_equal(labels, classifier.predict(X))
    expected = classifier.predict_proba(X)
    for row, mapping in zip(expected, proba, strict=True):
        np.testing.assert_allclose([mapping[c] for c in (3, 7, 9)], row, atol=1e-5)


@pytest.mark.parametrize("n_targets", [1, 2])
def test_pipeline_regressor_matches_predict(n_targets):
    X, _ = _data()
    y = X[:, :n_targets] * 10 + 3 if n_targets > 1 else X[:, 0] * 10 + 3
    pipeline = make_pipeline(StandardScaler(), fast_regressor(n_networks=2)).fit(X, y)
    (predicted,) = _run(to_onnx(pipeline, X[:1]), X)
    assert predicted.shape == (len(X), n_targets)
    np.testing.assert_allclose(
        predicted.reshape(pipeline.predict(X).shape),
        pipeline.predict(X),
        rtol=1e-5,
        atol=1e-4,
    )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_the_linear_member_is_exported(n_classes):
    X, y, _, _ = noisy_linear_classes(n_classes)
    X = X.astype(np.float32)
    classifier = fast_classifier(n_networks=2).fit(X, y)
    assert classifier.linear_weight_ > 0
    labels, proba = _run(to_onnx(classifier, X[:1], options={"zipmap": False}), X)
    np.testing.assert_allclose(proba, classifier.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(labels, classifier.predict(X))


def test_regressor_pipelines_export_their_linear_member():
    X, _ = _data()
    y = X[:, 0] * 10 + 3  # linear: the held-out rows give the linear member weight
    pipeline = make_pipeline(StandardScaler(), fast_regressor(n_networks=2)).fit(X, y)
    assert pipeline[-1].linear_weight_ > 0
    (predicted,) = _run(to_onnx(pipeline, X[:1]), X)
    np.testing.assert_allclose(
        predicted.ravel(), pipeline.predict(X), rtol=1e-5, atol=1e-4
    )


def test_custom_networks_are_refused():
    X, y = _data()
    classifier = fast_classifier(model=small_net).fit(X, y)
    with pytest.raises(NotImplementedError, match="built-in network"):
        to_onnx(classifier, X[:1])
