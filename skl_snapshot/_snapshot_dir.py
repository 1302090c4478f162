"""The estimator's side of a snapshot directory.

:mod:`._persistence` writes and reads the files; this module says what the
manifest records about a snapshot ensemble, classifier or regressor
(:func:`manifest_header`, with the estimator's ``_target_record``), and rebuilds
a fitted estimator from a directory (:func:`estimator_from_snapshot_dir`, behind
``from_snapshot_dir``), refusing the other task's directories.
"""

import uuid

import keras
import numpy as np

from ._members import evaluation_from_json, linear_member_from_json
from ._persistence import (
    SnapshotDirectory,
    SnapshotDirectoryError,
    SnapshotWeights,
    architecture_of,
    file_records,
    load_network,
    versions,
)
from ._plan import RESTART_DEFAULTS, FitPlan

__all__ = [
    "TASKS",
    "estimator_from_snapshot_dir",
    "ledger_record",
    "manifest_header",
    "manifest_task",
    "optional_float",
    "read_snapshots",
]


#: Parameters a manifest does not record: the network itself (recorded as its
#: Keras config) and how a fit runs rather than what it computes.
_UNRECORDED_PARAMETERS = frozenset(
    {
        "model",
        "snapshot_dir",
        "in_memory",
        "resume",
        "overwrite",
        "warm_start",
        "random_state",
        "verbose",
    }
)

#: The tasks of the estimators; a manifest from before the regressor has none.
TASKS = ("classification", "regression")


def manifest_header(estimator, network, meta, loss):
    """What a snapshot directory records about ``estimator``, being fitted.

    The estimator's parameters come from ``get_params``: those of
    :data:`_UNRECORDED_PARAMETERS` and any value without a JSON form (a
    callable, a Keras object) are left out. The target's description is the
    estimator's ``_target_record``.
    """
    # A callable activation has no JSON form: the directory then describes the
    # network by its Keras config alone, as for a custom model.
    built_in = estimator._has_built_in_network() and isinstance(
        estimator.activation, str
    )
    estimator_params = {"built_in_network": built_in}
    for name, value in estimator.get_params(deep=False).items():
        if name in _UNRECORDED_PARAMETERS:
            continue
        if name in ("hidden_layer_sizes", "activation") and not built_in:
            continue
        value = _json_value(value)
        if value is not _NO_JSON:
            estimator_params[name] = value
    feature_names = getattr(estimator, "feature_names_in_", None)
    return {
        "run_id": uuid.uuid4().hex,
        "versions": versions(),
        "task": estimator._task,
        "architecture": architecture_of(network),
        "n_features_in": int(meta["n_features_in_"]),
        "feature_names_in": None if feature_names is None else list(feature_names),
        "loss": loss if isinstance(loss, str) else _loss_name(loss),
        "estimator_params": estimator_params,
    }


_NO_JSON = object()


def _json_value(value):
    """``value`` as JSON data (NumPy scalars and tuples converted), or _NO_JSON."""
    if isinstance(value, tuple | list | np.ndarray):
        items = [_json_value(item) for item in value]
        return _NO_JSON if any(item is _NO_JSON for item in items) else items
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return _NO_JSON


def manifest_task(manifest):
    """The task a manifest records; directories from before it are classifiers'."""
    return manifest.get("task", "classification")


def estimator_from_snapshot_dir(cls, path, *, in_memory=True):
    """A fitted ``cls`` from the snapshot directory ``path``; see
    ``BaseSnapshotEnsemble.from_snapshot_dir``.

    Every check refuses with a :class:`SnapshotDirectoryError` naming the file and
    what is wrong. Whatever else a directory makes fail is the directory's fault
    too, and is reported as such rather than as a raw error.
    """
    directory = SnapshotDirectory(path)
    try:
        return _load_estimator(cls, directory, in_memory)
    except SnapshotDirectoryError:
        raise
    except Exception as error:
        raise SnapshotDirectoryError(
            f"Cannot load snapshot directory {directory.path}: reading"
            f" {directory.manifest_path} failed unexpectedly"
            f" ({type(error).__name__}: {error})."
        ) from error


def _load_estimator(cls, directory, in_memory):
    manifest = directory.read_manifest()
    _check_task(cls, manifest, directory)
    records = manifest["snapshots"]
    if not records:
        raise SnapshotDirectoryError(
            f"Snapshot directory {directory.path} holds no complete snapshot yet."
        )
    architecture = manifest.get("architecture")
    if architecture is None:
        raise SnapshotDirectoryError(
            f"{directory.manifest_path} records no Keras config of the network"
            " (a subclassed model cannot be described as data), so the"
            " directory cannot be loaded without running code."
        )
    # the newest weights file holds every variable: a network that needs more
    # memory than it is refused before it is allocated
    network = load_network(
        architecture,
        directory.manifest_path,
        max_bytes=directory.weights_size(records[-1]),
    )
    target = cls._target_from_manifest(manifest, directory.manifest_path)
    n_features = int(manifest["n_features_in"])
    _check_network_matches(network, n_features, target, directory)
    fits = [FitPlan.from_json(fit) for fit in manifest["fits"]]
    _check_plans_match(fits, network, directory)
    estimator = _estimator_of(
        cls, manifest, network, directory, in_memory, fits[-1].cross_fit
    )
    estimator.n_features_in_ = n_features
    if manifest.get("feature_names_in") is not None:
        estimator.feature_names_in_ = np.asarray(
            manifest["feature_names_in"], dtype=object
        )
    snapshot_weights = _snapshot_weights(
        directory, records, network, architecture, in_memory
    )
    if estimator._has_built_in_network():
        # after the weights, whose mismatch with the files is the clearer error
        _check_built_in_network(estimator, network, directory)
    estimator._set_fitted_state(
        target=target,
        meta={"n_features_in_": n_features, **target.get_metadata()},
        loss=manifest["loss"],
        network=network,
        snapshot_weights=snapshot_weights,
        fits=fits,
        records=[ledger_record(record) for record in records],
        run_id=manifest["run_id"],
        averaged_weights=_averaged_weights(estimator, manifest, directory, network),
        evaluation=_evaluation(
            manifest, len(records), directory, n_features, _vote_units(target)
        ),
    )
    return estimator


def _check_task(cls, manifest, directory):
    task = manifest_task(manifest)
    if task not in TASKS:
        raise SnapshotDirectoryError(
            f"{directory.manifest_path} records an unknown task {task!r}; this"
            f" skl_snapshot knows {', '.join(TASKS)}."
        )
    if task != cls._task:
        raise SnapshotDirectoryError(
            f"{directory.manifest_path} holds a {task} ensemble, which"
            f" {cls.__name__} cannot load: load it with the {task} estimator"
            " (SnapshotEnsembleClassifier or SnapshotEnsembleRegressor)."
        )


#: What a manifest written before these parameters existed meant by their absence.
_ABSENT_PARAMETERS = {
    "n_networks": 1,
    "t_mult": 1.0,
    "cross_fit": "auto",
    "clipnorm": None,
    "schedule": "cosine",
    "linear_member": False,
}


def _estimator_of(cls, manifest, network, directory, in_memory, cross_fitted):
    """An unfitted ``cls`` with the manifest's parameters, checked as ``fit``
    checks them: a manifest is data from disk, never trusted. ``cross_fitted``
    says whether the newest fit had out-of-fold rows to choose members on."""
    from sklearn.utils._param_validation import InvalidParameterError

    # directories written before the restart parameters existed restarted
    # the learning rate only; those written before n_networks, t_mult,
    # cross_fit and clipnorm trained one network on equal cycles, unclipped
    recorded = {
        **RESTART_DEFAULTS,
        **_ABSENT_PARAMETERS,
        **manifest["estimator_params"],
    }
    built_in = recorded.pop("built_in_network", True)
    named = set(cls._named_parameters()) - _UNRECORDED_PARAMETERS
    params = {name: value for name, value in recorded.items() if name in named}
    if not built_in:
        params["model"] = network
    if isinstance(params.get("hidden_layer_sizes"), list):
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    estimator = cls(**params, snapshot_dir=directory.path, in_memory=in_memory)
    try:
        estimator._validate_params()
        estimator._check_network_and_budget()
        # prediction checks these too: a loaded estimator must be able to predict
        estimator._check_voting_parameters(warm=True)
        if estimator.validation_fraction is None and not cross_fitted:
            estimator._check_held_out_voting(
                "the directory's fit had no held-out rows (validation_fraction=None"
                " and no cross-fitting)"
            )
    except (InvalidParameterError, ValueError) as error:
        raise SnapshotDirectoryError(
            f"{directory.manifest_path} records estimator parameters that are not"
            f" valid: {error}"
        ) from None
    return estimator


def _check_built_in_network(estimator, network, directory):
    """The built-in network predicts through NumPy (``MLPForward``) from its
    weights and the estimator's ``activation``: the architecture must be the
    one ``build_mlp`` makes of the recorded parameters, or the two ways of
    predicting would differ."""
    sizes = [int(size) for size in np.atleast_1d(estimator.hidden_layer_sizes)]
    output = "softmax" if estimator._softmax_output else "linear"
    expected = [(size, estimator.activation) for size in sizes] + [(None, output)]
    layers = [
        layer
        for layer in getattr(network, "layers", [])
        if not isinstance(layer, keras.layers.InputLayer)
    ]
    matches = (
        isinstance(network, keras.Sequential)
        and len(layers) == len(expected)
        and all(
            type(layer) is keras.layers.Dense
            and layer.use_bias
            and units in (None, layer.units)
            and layer.get_config().get("activation") == activation
            for layer, (units, activation) in zip(layers, expected, strict=True)
        )
    )
    if not matches:
        raise SnapshotDirectoryError(
            f"{directory.manifest_path} records the built-in network of"
            f" hidden_layer_sizes={tuple(sizes)} and activation"
            f" {estimator.activation!r}, but its architecture is another network."
        )


def _check_plans_match(fits, network, directory):
    """A restart perturbs each trainable variable by its recorded scale."""
    n_variables = len(network.trainable_variables)
    for number, plan in enumerate(fits):
        if plan.init_scales is not None and len(plan.init_scales) != n_variables:
            raise SnapshotDirectoryError(
                f"{directory.manifest_path} records {len(plan.init_scales)}"
                f" init_scales in fits[{number}] for a network of {n_variables}"
                " trainable variables."
            )


def _snapshot_weights(directory, records, network, architecture, in_memory):
    if in_memory:
        return read_snapshots(directory, records, network)
    # Read the newest file now, so that weights that do not fit the
    # architecture fail here; the others are checked when they vote.
    directory.load_weights(network, records[-1])
    return SnapshotWeights(directory, records, architecture)


def _averaged_weights(estimator, manifest, directory, network):
    if estimator.method != "swa":
        return None
    averaged = manifest.get("averaged")
    if not isinstance(averaged, dict | list):
        raise SnapshotDirectoryError(
            f"{directory.manifest_path} is a method='swa' run whose fit did"
            " not finish: the averaged network that predicts was never"
            " written. Finish it with fit(..., resume=True)."
        )
    networks = []
    for record in file_records(averaged):
        directory.load_weights(network, record)
        networks.append([np.array(array) for array in network.get_weights()])
    # one network keeps the format of a single record and a single weight list
    return networks[0] if isinstance(averaged, dict) else networks


def _vote_units(target):
    """Columns of a member's vote: the classes, or the regression outputs."""
    classes = getattr(target, "classes_", None)
    return len(classes) if classes is not None else target.n_outputs


def _evaluation(manifest, n_snapshots, directory, n_features, n_units):
    try:
        evaluation = evaluation_from_json(manifest.get("evaluation"), n_snapshots)
        linear, weight = linear_member_from_json(
            manifest.get("evaluation"), n_features, n_units
        )
    except ValueError as error:
        raise SnapshotDirectoryError(f"{directory.manifest_path} {error}") from None
    if linear is not None and evaluation["voting_weights_"] is None:
        raise SnapshotDirectoryError(
            f"{directory.manifest_path} records a linear_member without the"
            " voting weights it is weighed against."
        )

    for name, value in evaluation.items():
        if value is not None and not np.isfinite(value).all():
            raise SnapshotDirectoryError(
                f"{directory.manifest_path} records an evaluation {name} that is"
                " not finite."
            )
    weights = evaluation.get("voting_weights_")
    # fitted weights lie on the simplex (up to the optimiser's rounding)
    if weights is not None and not ((weights > -1e-6) & (weights < 1 + 1e-6)).all():
        raise SnapshotDirectoryError(
            f"{directory.manifest_path} records voting weights outside [0, 1]."
        )
    evaluation["linear_member_"], evaluation["linear_weight_"] = linear, weight
    return evaluation


def optional_float(value):
    return None if value is None else float(value)


def ledger_record(record):
    """The part of a manifest's snapshot record that the history is made of."""
    return {key: record[key] for key in ("epoch", "learning_rate", "loss")}


def _loss_name(loss):
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None)
    return str(name) if name else repr(loss)


def read_snapshots(directory, records, network):
    """Each listed snapshot's weights as NumPy arrays, read through ``network``."""
    weights = []
    for record in records:
        directory.load_weights(network, record)
        weights.append([np.array(weight) for weight in network.get_weights()])
    return weights


def _check_network_matches(network, n_features, target, directory):
    """Refuse a manifest whose architecture contradicts its data description."""
    inputs = getattr(network, "inputs", None)
    width = inputs[0].shape[-1] if inputs else None
    if width is not None and width != n_features:
        raise SnapshotDirectoryError(
            f"{directory.manifest_path} describes a network with {width} input"
            f" features but records n_features_in={n_features}."
        )
    outputs = getattr(network, "outputs", None)
    units = outputs[0].shape[-1] if outputs else None
    accepted = target.output_units()
    if units is not None and units not in accepted:
        raise SnapshotDirectoryError(
            f"{directory.manifest_path} describes a network with {units} output"
            f" units but records {target.description()}."
        )
