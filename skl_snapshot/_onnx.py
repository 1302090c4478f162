"""ONNX export of the built-in network's ensembles, as a skl2onnx converter.

:func:`register_onnx_converters` registers both estimators with skl2onnx
(``update_registered_converter``), so that ``skl2onnx.to_onnx`` converts them
alone or inside a Pipeline. The graph holds every voting member: each member's
layers are ``MatMul`` + ``Add`` + activation with its weights as initialisers,
its softmax (classifier) or linear output scaled by its voting weight, and the
members summed. The classifier's probabilities are renormalised and its label
taken by ``ArgMax`` over the classes; the regressor's sum goes back to the
target's units. Everything skl2onnx needs is imported here, on call: the
package imports without it (``pip install "skl_snapshot[onnx]"``).
"""

import numpy as np

__all__ = ["register_onnx_converters"]

#: ONNX operator of each activation the built-in network may have.
_ACTIVATIONS = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "linear": None}


def _members(estimator):
    """The voting networks' weight lists and their normalised voting weights,
    as ``predict_proba`` / ``predict`` average them."""
    networks, weights = estimator._voting_networks()
    weights = np.full(len(networks), 1.0) if weights is None else np.asarray(weights)
    return networks, weights / weights.sum()


def _check_convertible(estimator):
    if estimator.model is not None or estimator.activation not in _ACTIVATIONS:
        raise NotImplementedError(
            "ONNX export covers the built-in network (model=None) with activation"
            f" in {sorted(_ACTIVATIONS)}. Got model={estimator.model!r},"
            f" activation={estimator.activation!r}."
        )
    if not isinstance(estimator.snapshot_weights_, list):
        raise NotImplementedError(
            "ONNX export needs the snapshots in memory; this estimator keeps them"
            " on disk (in_memory=False). Load it with"
            " from_snapshot_dir(path, in_memory=True) first."
        )


def _add_constant(scope, container, name, array):
    from onnx import TensorProto

    array = np.asarray(array, dtype=np.float32)
    variable = scope.get_unique_variable_name(name)
    container.add_initializer(
        variable, TensorProto.FLOAT, list(array.shape), array.ravel().tolist()
    )
    return variable


def _node(scope, container, op_type, inputs, name, **attributes):
    output = scope.get_unique_variable_name(name)
    container.add_node(
        op_type,
        inputs,
        [output],
        name=scope.get_unique_operator_name(op_type),
        **attributes,
    )
    return output


def _weighted_sum(scope, operator, container, softmax):
    """The members' outputs, each times its voting weight, summed."""
    estimator = operator.raw_operator
    _check_convertible(estimator)
    activation = _ACTIVATIONS[estimator.activation]
    networks, weights = _members(estimator)
    total = None
    for weight_list, vote in zip(networks, weights, strict=True):
        hidden = operator.inputs[0].full_name
        n_layers = len(weight_list) // 2
        for layer in range(n_layers):
            kernel = _add_constant(scope, container, "kernel", weight_list[2 * layer])
            bias = _add_constant(scope, container, "bias", weight_list[2 * layer + 1])
            product = _node(scope, container, "MatMul", [hidden, kernel], "product")
            hidden = _node(scope, container, "Add", [product, bias], "layer")
            if layer < n_layers - 1 and activation is not None:
                hidden = _node(scope, container, activation, [hidden], "hidden")
        if softmax:
            hidden = _node(scope, container, "Softmax", [hidden], "proba", axis=1)
        factor = _add_constant(scope, container, "vote", np.float32(vote))
        scaled = _node(scope, container, "Mul", [hidden, factor], "vote")
        total = (
            scaled
            if total is None
            else _node(scope, container, "Add", [total, scaled], "total")
        )
    return total


def _convert_classifier(scope, operator, container):
    from onnx import TensorProto

    estimator = operator.raw_operator
    classes = np.asarray(estimator.classes_)
    if classes.dtype.kind in "iu":
        classes, class_type = classes.astype(np.int64), TensorProto.INT64
    elif classes.dtype.kind in "UO" and all(isinstance(c, str) for c in classes):
        classes = np.array([label.encode("utf-8") for label in classes])
        class_type = TensorProto.STRING
    else:
        raise NotImplementedError(
            "ONNX export supports integer or string class labels. Got classes_ of"
            f" dtype {classes.dtype}."
        )
    total = _weighted_sum(scope, operator, container, softmax=True)
    # float32 softmax rows sum to one only within ~1e-7, as predict_proba renormalises
    row_sums = _node(
        scope,
        container,
        "ReduceSum",
        [total, _axes(scope, container)],
        "rows",
        keepdims=1,
    )
    container.add_node(
        "Div",
        [total, row_sums],
        [operator.outputs[1].full_name],
        name=scope.get_unique_operator_name("Div"),
    )
    best = _node(
        scope, container, "ArgMax", [operator.outputs[1].full_name], "best", axis=1
    )
    labels = scope.get_unique_variable_name("classes")
    container.add_initializer(labels, class_type, [len(classes)], classes.tolist())
    picked = _node(
        scope,
        container,
        "ArrayFeatureExtractor",
        [labels, best],
        "label",
        op_domain="ai.onnx.ml",
    )
    shape = _int64_constant(scope, container, "shape", [-1])
    container.add_node(
        "Reshape",
        [picked, shape],
        [operator.outputs[0].full_name],
        name=scope.get_unique_operator_name("Reshape"),
    )


def _axes(scope, container):
    return _int64_constant(scope, container, "axes", [1])


def _int64_constant(scope, container, name, values):
    from onnx import TensorProto

    variable = scope.get_unique_variable_name(name)
    container.add_initializer(variable, TensorProto.INT64, [len(values)], values)
    return variable


def _convert_regressor(scope, operator, container):
    estimator = operator.raw_operator
    total = _weighted_sum(scope, operator, container, softmax=False)
    encoder = estimator._target_encoder
    scale = _add_constant(scope, container, "scale", encoder.scale_)
    mean = _add_constant(scope, container, "mean", encoder.mean_)
    scaled = _node(scope, container, "Mul", [total, scale], "scaled")
    container.add_node(
        "Add",
        [scaled, mean],
        [operator.outputs[0].full_name],
        name=scope.get_unique_operator_name("Add"),
    )


def _regressor_shape(operator):
    from skl2onnx.common.data_types import FloatTensorType

    estimator = operator.raw_operator
    n_rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = FloatTensorType([n_rows, int(estimator.n_outputs_)])


def register_onnx_converters():
    """Register both estimators' ONNX converters with skl2onnx.

    After this call, ``skl2onnx.to_onnx(estimator_or_pipeline, X[:1])`` converts
    a fitted :class:`SnapshotEnsembleClassifier` or :class:`SnapshotEnsembleRegressor`
    with the built-in network (``model=None``) into one graph in which all voting
    members are fused, alone or inside a Pipeline. The classifier's outputs are
    ``label`` and ``probabilities`` (a ZipMap of them unless
    ``options={"zipmap": False}``); the regressor's ``variable`` is always of
    shape (n_rows, n_outputs). Custom Keras networks are refused with
    ``NotImplementedError``.

    Needs the ``onnx`` extra: ``pip install "skl_snapshot[onnx]"`` (skl2onnx and
    onnxruntime).

    Examples
    --------
    >>> import numpy as np
    >>> from skl2onnx import to_onnx
    >>> from skl_snapshot import SnapshotEnsembleClassifier, register_onnx_converters
    >>> register_onnx_converters()
    >>> X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    >>> clf = SnapshotEnsembleClassifier(epochs=4, n_cycles=2, random_state=0)
    >>> clf = clf.fit(X, (X[:, 0] > 0).astype(int))
    >>> onx = to_onnx(clf, X[:1], options={"zipmap": False})
    >>> [output.name for output in onx.graph.output]
    ['label', 'probabilities']
    """
    from skl2onnx import update_registered_converter
    from skl2onnx.shape_calculators.linear_classifier import (
        calculate_linear_classifier_output_shapes,
    )

    from ._classifier import SnapshotEnsembleClassifier
    from ._regressor import SnapshotEnsembleRegressor

    update_registered_converter(
        SnapshotEnsembleClassifier,
        "SklSnapshotEnsembleClassifier",
        calculate_linear_classifier_output_shapes,
        _convert_classifier,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
    )
    update_registered_converter(
        SnapshotEnsembleRegressor,
        "SklSnapshotEnsembleRegressor",
        _regressor_shape,
        _convert_regressor,
    )
