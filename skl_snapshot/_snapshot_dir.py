"""The estimator's side of a snapshot directory.

:mod:`._persistence` writes and reads the files; this module says what the
manifest records about a :class:`~skl_snapshot.SnapshotEnsembleClassifier`
(:func:`manifest_header`) and rebuilds a fitted estimator from a directory
(:func:`estimator_from_snapshot_dir`, behind ``from_snapshot_dir``).
"""

import uuid

import numpy as np

from ._members import evaluation_from_json
from ._network import MemberPredictor
from ._persistence import (
    SnapshotDirectory,
    SnapshotDirectoryError,
    SnapshotWeights,
    architecture_of,
    labels_from_json,
    labels_to_json,
    load_network,
    versions,
)
from ._scikeras import ClassifierLabelEncoder
from ._training import PLAN_RESTART_DEFAULTS

__all__ = [
    "estimator_from_snapshot_dir",
    "ledger_record",
    "manifest_header",
    "optional_float",
    "read_snapshots",
]


def manifest_header(estimator, network, meta, loss, classes):
    """What a snapshot directory records about ``estimator``, being fitted."""
    # A callable activation has no JSON form: the directory then describes the
    # network by its Keras config alone, as for a custom model.
    built_in = estimator.model is None and isinstance(estimator.activation, str)
    estimator_params = {
        "built_in_network": built_in,
        "epochs": int(estimator.epochs),
        "n_cycles": int(estimator.n_cycles),
        "method": estimator.method,
        "restart_shrink": float(estimator.restart_shrink),
        "restart_noise": float(estimator.restart_noise),
        "restart_loss_threshold": optional_float(estimator.restart_loss_threshold),
        "lr_max": float(estimator.lr_max),
        "lr_min": float(estimator.lr_min),
        "momentum": float(estimator.momentum),
        "batch_size": int(estimator.batch_size),
        "n_members": None if estimator.n_members is None else int(estimator.n_members),
        "member_order": estimator.member_order,
        "member_weights": estimator.member_weights,
        "validation_fraction": (
            None
            if estimator.validation_fraction is None
            else float(estimator.validation_fraction)
        ),
    }
    if built_in:
        estimator_params["hidden_layer_sizes"] = [
            int(units) for units in estimator.hidden_layer_sizes
        ]
        estimator_params["activation"] = estimator.activation
    feature_names = getattr(estimator, "feature_names_in_", None)
    return {
        "run_id": uuid.uuid4().hex,
        "versions": versions(),
        "architecture": architecture_of(network),
        "n_features_in": int(meta["n_features_in_"]),
        "feature_names_in": None if feature_names is None else list(feature_names),
        "classes": labels_to_json(classes),
        "loss": loss if isinstance(loss, str) else _loss_name(loss),
        "estimator_params": estimator_params,
    }


def estimator_from_snapshot_dir(cls, path, *, in_memory=True):
    """A fitted ``cls`` from the snapshot directory ``path``; see
    ``SnapshotEnsembleClassifier.from_snapshot_dir``."""
    directory = SnapshotDirectory(path)
    manifest = directory.read_manifest()
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
    network = load_network(architecture, directory.manifest_path)
    classes = labels_from_json(manifest["classes"])
    n_features = int(manifest["n_features_in"])
    _check_network_matches(network, n_features, len(classes), directory)

    # directories written before the restart parameters existed restarted
    # the learning rate only
    estimator_params = {**PLAN_RESTART_DEFAULTS, **manifest["estimator_params"]}
    if not estimator_params.pop("built_in_network"):
        estimator_params["model"] = network
    if "hidden_layer_sizes" in estimator_params:
        estimator_params["hidden_layer_sizes"] = tuple(
            estimator_params["hidden_layer_sizes"]
        )
    estimator = cls(
        **estimator_params,
        snapshot_dir=directory.path,
        in_memory=in_memory,
    )
    encoder = ClassifierLabelEncoder(loss=manifest["loss"]).fit(classes)
    estimator.classes_ = encoder.classes_
    estimator.n_features_in_ = n_features
    if manifest.get("feature_names_in") is not None:
        estimator.feature_names_in_ = np.asarray(
            manifest["feature_names_in"], dtype=object
        )
    if in_memory:
        estimator.snapshot_weights_ = read_snapshots(directory, records, network)
    else:
        estimator.snapshot_weights_ = SnapshotWeights(directory, records, architecture)
        # Read the newest file now, so that weights that do not fit the
        # architecture fail here; the others are checked when they vote.
        directory.load_weights(network, records[-1])
    estimator._set_history(
        [dict(fit) for fit in manifest["fits"]],
        [ledger_record(record) for record in records],
    )
    estimator._run_id = manifest["run_id"]
    estimator._init_scales = list(manifest["fits"][-1].get("init_scales") or [])
    try:
        evaluation = evaluation_from_json(
            manifest.get("evaluation"), estimator.n_snapshots_
        )
    except ValueError as error:
        raise SnapshotDirectoryError(f"{directory.manifest_path} {error}") from None
    vars(estimator).update(evaluation)
    estimator.averaged_weights_ = None
    if estimator_params.get("method") == "swa":
        if not isinstance(manifest.get("averaged"), dict):
            raise SnapshotDirectoryError(
                f"{directory.manifest_path} is a method='swa' run whose fit did"
                " not finish: the averaged network that predicts was never"
                " written. Finish it with fit(..., resume=True)."
            )
        directory.load_weights(network, manifest["averaged"])
        estimator.averaged_weights_ = [
            np.array(array) for array in network.get_weights()
        ]
    estimator._meta = {
        "n_features_in_": n_features,
        **encoder.get_metadata(),
    }
    estimator._loss = manifest["loss"]
    estimator._target_encoder = encoder
    estimator._predictor = MemberPredictor(network)
    return estimator


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


def _check_network_matches(network, n_features, n_classes, directory):
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
    if units is not None and units not in (n_classes, 1 if n_classes == 2 else -1):
        raise SnapshotDirectoryError(
            f"{directory.manifest_path} describes a network with {units} output"
            f" units but records {n_classes} classes."
        )
