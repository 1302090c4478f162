"""Hostile snapshot directories: code, bombs, traversal, links, schema, fuzz.

Every attack copies one valid directory and changes it. Loading it must either
give an estimator that predicts finite probabilities, or raise a
``SnapshotDirectoryError`` naming the file at fault (the manifest or a weights
file); never another exception, never code from the directory run, never memory
the directory merely asks for (the bombs declare gigabytes they never hold, so a
loader that believed them would exhaust the machine). Damage that
``test_snapshot_errors.py`` already covers (truncated or missing files, files
named by ``../`` or absolute paths) is not repeated here.
"""

import copy
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keras.src.backend.common import global_state

from skl_snapshot import SnapshotEnsembleClassifier
from skl_snapshot._persistence import (
    SnapshotDirectoryError,
    _deserialize_deferred,
    sha256_of,
)

from .conftest import _blobs, fast_classifier

SMALL = {"hidden_layer_sizes": (4,), "epochs": 6, "n_cycles": 3}
NEWEST = "snapshot-002.weights.h5"
OPTIMIZER = "optimizer-002.npz"
# The message of the loader's last line of defence: a failure no check foresaw.
UNFORESEEN = "failed unexpectedly"


@pytest.fixture(scope="module")
def data():
    """The ``blobs`` data (training and test rows), once for the module."""
    return _blobs()


@pytest.fixture(scope="module")
def valid_dir(data, tmp_path_factory):
    """A finished run of three snapshots, written once for the module."""
    X, y, _, _ = data
    directory = tmp_path_factory.mktemp("valid") / "run"
    fast_classifier(snapshot_dir=directory, **SMALL).fit(X, y)
    return directory


@pytest.fixture
def run_dir(valid_dir, tmp_path):
    """This test's own copy of the valid run, free to attack."""
    return Path(shutil.copytree(valid_dir, tmp_path / "run"))


@pytest.fixture
def unsafe_deserialization():
    """The process has called keras.config.enable_unsafe_deserialization(), as
    some other library may have; the flag is restored afterwards."""
    previous = global_state.get_global_attribute("safe_mode_saving")
    keras.config.enable_unsafe_deserialization()
    yield
    global_state.set_global_attribute("safe_mode_saving", previous)


# -- helpers ---------------------------------------------------------------------------


def _read(directory):
    return json.loads((directory / "manifest.json").read_text(encoding="utf-8"))


def _write(directory, manifest):
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _edit(edit):
    """A mutation that edits the manifest's data; the manifest is at fault."""

    def mutate(directory):
        manifest = _read(directory)
        edit(manifest)
        _write(directory, manifest)
        return directory / "manifest.json"

    return mutate


def _raw(text_of):
    """A mutation that writes the manifest's text itself."""

    def mutate(directory):
        (directory / "manifest.json").write_text(text_of(directory), encoding="utf-8")
        return directory / "manifest.json"

    return mutate


def _rerecord(directory, name):
    """Record the new checksum of file ``name``: only the content is hostile."""
    manifest = _read(directory)
    digest = sha256_of(directory / name)
    for record in [*manifest["snapshots"], manifest["optimizer_state"]]:
        if record["file"] == name:
            record["sha256"] = digest
    _write(directory, manifest)


def _datasets(path):
    names = []
    with h5py.File(path, "r") as handle:
        handle.visititems(
            lambda name, item: (
                names.append(name) if isinstance(item, h5py.Dataset) else None
            )
        )
    return sorted(names)


def _weights(edit):
    """A mutation of the newest weights file's HDF5 content, checksum kept
    valid; ``edit(handle, kernel)`` gets the open file and the path of the first
    layer's kernel (Keras names layers per process)."""

    def mutate(directory):
        path = directory / NEWEST
        kernel = next(name for name in _datasets(path) if name.endswith("vars/0"))
        with h5py.File(path, "r+") as handle:
            edit(handle, kernel)
        _rerecord(directory, NEWEST)
        return path

    return mutate


def _set_first_value(value):
    def edit(handle, kernel):
        array = handle[kernel][()]
        array.flat[0] = value
        handle[kernel][...] = array

    return edit


def _replace_dataset(**create):
    def edit(handle, kernel):
        del handle[kernel]
        handle.create_dataset(kernel, **create)

    return edit


def _outside(directory, name="outside"):
    """A file beside the run directory (where a hostile link points)."""
    return directory.parent / name


def _external_link(handle, kernel):
    outside = Path(handle.filename).parent.parent / "outside.h5"
    with h5py.File(outside, "w") as other:
        other.create_dataset("kernel", data=np.zeros((4, 4), "f4"))
    del handle[kernel]
    handle[kernel] = h5py.ExternalLink(str(outside), "/kernel")


def _soft_link(handle, kernel):
    del handle[kernel]
    handle[kernel] = h5py.SoftLink("/" + kernel.rsplit("/", 1)[0] + "/1")


def _external_storage(handle, kernel):
    outside = Path(handle.filename).parent.parent / "outside.raw"
    outside.write_bytes(np.zeros(16, "f4").tobytes())
    del handle[kernel]
    handle.create_dataset(
        kernel, shape=(4, 4), dtype="f4", external=[(str(outside), 0, 64)]
    )


def _extra_datasets(handle, kernel):
    for number in range(40):
        handle.create_dataset(f"junk/{number}", data=np.zeros((4, 4), "f4"))


def _link_newest_to(target_of):
    def mutate(directory):
        path = directory / NEWEST
        target = target_of(directory)
        if target != path.with_name("snapshot-001.weights.h5"):
            shutil.copyfile(path, target)
        path.unlink()
        path.symlink_to(target)
        _rerecord(directory, NEWEST)
        return path

    return mutate


def _fifo_as_newest(directory):
    path = directory / NEWEST
    path.unlink()
    os.mkfifo(path)
    return path


def _directory_as_newest(directory):
    path = directory / NEWEST
    path.unlink()
    path.mkdir()
    return path


def _manifest_as_link(directory):
    path = directory / "manifest.json"
    outside = _outside(directory, "manifest.json")
    shutil.copyfile(path, outside)
    path.unlink()
    path.symlink_to(outside)
    return path


def _oversized_manifest(directory):
    path = directory / "manifest.json"
    with open(path, "r+b") as handle:  # sparse: costs no disk
        handle.truncate(65 * 2**20)
    return path


def _truncated_manifest(directory):
    path = directory / "manifest.json"
    text = path.read_bytes()
    path.write_bytes(text[: len(text) // 2])
    return path


def _nested(depth):
    def text(directory):
        manifest = json.dumps(_read(directory))
        return manifest[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"

    return text


def _long_int(directory):
    manifest = json.dumps({**_read(directory), "n_features_in": 0})
    return manifest.replace('"n_features_in": 0', '"n_features_in": ' + "9" * 5000)


def _plan(**changes):
    return _edit(lambda m: m["fits"][0].update(changes))


def _record(number, **changes):
    return _edit(lambda m: m["snapshots"][number].update(changes))


def _classes(dtype, values):
    return _edit(lambda m: m.update(classes={"dtype": dtype, "values": values}))


def _params(**changes):
    return _edit(lambda m: m["estimator_params"].update(changes))


def _layers(manifest):
    return manifest["architecture"]["config"]["layers"]


def _widen_hidden_layer(units):
    def edit(manifest):
        _layers(manifest)[1]["config"]["units"] = units
        _layers(manifest)[2]["build_config"]["input_shape"] = [None, units]

    return _edit(edit)


def _replace_initializer(config):
    return _edit(lambda m: _layers(m)[1]["config"].update(kernel_initializer=config))


def _duplicate_newest_record(manifest):
    manifest["snapshots"].append({**manifest["snapshots"][-1], "index": 3})


def _averaged(file_name):
    """An SWA run whose averaged network is the file ``file_name``."""

    def edit(manifest):
        manifest["estimator_params"]["method"] = "swa"
        manifest["averaged"] = {
            "file": file_name,
            "sha256": manifest["snapshots"][0]["sha256"],
        }

    return _edit(edit)


def _evaluation(**changes):
    return _edit(lambda m: m["evaluation"].update(changes))


# -- the attacks -----------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")

#: Attacks that must be refused: (id, mutation returning the file at fault).
REFUSED = [
    # bombs: sizes and numbers that would exhaust the process
    ("manifest-over-64-MiB", _oversized_manifest),
    ("nesting-100000-deep", _raw(_nested(100_000))),
    ("nesting-500-deep", _raw(_nested(500))),
    ("5000-digit-integer", _raw(_long_int)),
    ("4000-digit-epochs", _plan(epochs=10**3999)),
    ("cycles-of-1e12-epochs", _plan(epochs=3 * 10**12, cycle_epochs=[10**12] * 3)),
    ("1e9-rows-batch-1", _plan(n_samples=10**9, batch_size=1)),
    ("rows-beyond-limit", _plan(n_samples=10**10)),
    ("batch-larger-than-data", _plan(batch_size=1000)),
    ("network-of-4e9-weights", _widen_hidden_layer(10**9)),
    # plans: NaN, negative, zero, wrong types
    ("zero-batch-size", _plan(batch_size=0)),
    ("nan-lr-max", _plan(lr_max=NAN)),
    ("negative-lr-min", _plan(lr_min=-0.1)),
    ("lr-min-above-lr-max", _plan(lr_min=0.5)),
    ("momentum-above-1", _plan(momentum=2.0)),
    ("negative-restart-noise", _plan(restart_noise=-1.0)),
    ("empty-cycle-list", _plan(cycle_epochs=[])),
    ("string-cycle-list", _plan(cycle_epochs="222")),
    ("string-epochs", _plan(epochs="6")),
    ("bool-n-cycles", _plan(n_cycles=True)),
    ("seed-beyond-32-bits", _plan(seed=2**40)),
    ("init-scales-for-another-network", _plan(init_scales=[0.1])),
    ("fits-empty", _edit(lambda m: m.update(fits=[]))),
    ("fit-not-starting-at-0", _plan(first_snapshot=1)),
    ("more-snapshots-than-cycles", _edit(_duplicate_newest_record)),
    # snapshot records
    ("index-not-position", _record(1, index=2)),
    ("epochs-not-increasing", _record(2, epoch=1)),
    ("epoch-beyond-the-fits", _record(2, epoch=10**6)),
    ("infinite-learning-rate", _record(0, learning_rate=INF)),
    ("nan-loss", _record(1, loss=NAN)),
    ("bool-loss", _record(1, loss=True)),
    ("checksum-not-hex", _record(0, sha256="../../etc/passwd")),
    ("file-listed-twice", _record(1, file="snapshot-000.weights.h5")),
    ("record-not-an-object", _edit(lambda m: m["snapshots"].__setitem__(0, [1, 2]))),
    # the rest of the manifest: missing and mistyped fields at every level
    ("manifest-is-a-string", _raw(lambda directory: '"skl_snapshot"')),
    ("truncated-manifest", _truncated_manifest),
    ("no-fits", _edit(lambda m: m.pop("fits"))),
    ("no-n-features-in", _edit(lambda m: m.pop("n_features_in"))),
    ("n-features-in-zero", _edit(lambda m: m.update(n_features_in=0))),
    ("n-features-in-float", _edit(lambda m: m.update(n_features_in=4.0))),
    ("estimator-params-a-list", _edit(lambda m: m.update(estimator_params=[]))),
    ("task-a-list", _edit(lambda m: m.update(task=["classification"]))),
    ("unknown-task", _edit(lambda m: m.update(task="clustering"))),
    ("feature-names-not-strings", _edit(lambda m: m.update(feature_names_in=[1] * 4))),
    ("feature-names-too-few", _edit(lambda m: m.update(feature_names_in=["a"]))),
    ("evaluation-a-string", _edit(lambda m: m.update(evaluation="good"))),
    ("evaluation-nan-loss", _evaluation(train_loss=[NAN, 0.1, 0.1])),
    ("negative-voting-weights", _evaluation(voting_weights=[-1.0, 1.0, 1.0])),
    ("architecture-a-list", _edit(lambda m: m.update(architecture=[1]))),
    ("architecture-not-a-model", _edit(lambda m: m.update(architecture=_layers(m)[1]))),
    # classes: duplicate, bool, truncated, structured and other dtypes
    ("duplicate-classes", _classes("<i8", [0, 0, 2])),
    ("bool-classes-duplicated", _classes("|b1", [False, True, True])),
    ("ints-as-bools", _classes("|b1", [0, 1, 2])),
    ("truncated-unicode", _classes("<U1", ["ant", "bee", "cat"])),
    ("structured-dtype", _classes("i8,i8", [[0, 1], [1, 2], [2, 3]])),
    ("object-dtype", _classes("|O", [0, 1, 2])),
    ("void-dtype", _classes("|V8", [0, 1, 2])),
    ("sub-array-dtype", _classes("(2,)<i8", [0, 1, 2])),
    ("gigabyte-unicode-dtype", _classes("<U300000000", ["a", "b", "c"])),
    ("ints-out-of-range", _classes("|i1", [0, 1, 300])),
    ("floats-as-ints", _classes("<i8", [0.5, 1.5, 2.5])),
    ("nan-class", _classes("<f8", [0.0, 1.0, NAN])),
    ("nested-class-values", _classes("<i8", [[0], [1], [2]])),
    ("unknown-dtype", _classes("not-a-dtype", [0, 1, 2])),
    # estimator parameters
    ("invalid-n-members", _params(n_members=-1)),
    ("nested-hidden-layer-sizes", _params(hidden_layer_sizes=[[4]])),
    ("built-in-network-a-string", _params(built_in_network="yes")),
    ("activation-not-the-architecture's", _params(activation="tanh")),
    ("hidden-sizes-not-the-architecture's", _params(hidden_layer_sizes=[5])),
    ("fitted-weights-without-held-out-rows", _params(member_weights="fitted")),
    ("param-an-object", _params(lr_max={"__class__": "os.system"})),
    # traversal and names Keras would treat as paths or other formats
    ("name-with-nul-byte", _record(2, file="snapshot-002.weights.h5\u0000")),
    ("remote-url-name", _record(2, file="gs://bucket/snapshot-002.weights.h5")),
    ("manifest-as-weights", _record(2, file="manifest.json")),
    ("dot-name", _record(2, file=".")),
    ("keras-archive-name", _record(2, file="snapshot-002.keras")),
    ("averaged-outside", _averaged("../snapshot-000.weights.h5")),
    ("averaged-absolute", _averaged("/etc/passwd")),
    # code from the directory, whatever Keras' own safe mode would do
    (
        "module-os-initializer",
        _replace_initializer(
            {
                "class_name": "system",
                "module": "os",
                "config": {},
                "registered_name": None,
            }
        ),
    ),
    (
        "function-from-subprocess",
        _replace_initializer(
            {
                "class_name": "function",
                "module": "subprocess",
                "config": "call",
                "registered_name": "call",
            }
        ),
    ),
    (
        "tfsm-layer",
        _edit(
            lambda m: _layers(m).insert(
                1,
                {
                    "class_name": "TFSMLayer",
                    "module": "keras.layers",
                    "config": {"filepath": "/tmp", "name": "saved"},
                    "registered_name": None,
                },
            )
        ),
    ),
    (
        "unregistered-custom-layer",
        _edit(
            lambda m: _layers(m)[1].update(
                module="evil.layers",
                class_name="Backdoor",
                registered_name="evil>Backdoor",
            )
        ),
    ),
    # symbolic links, devices and other non-files
    ("weights-link-outside", _link_newest_to(lambda d: _outside(d, "x.weights.h5"))),
    ("weights-link-inside", _link_newest_to(lambda d: d / "snapshot-001.weights.h5")),
    ("manifest-link-outside", _manifest_as_link),
    ("weights-fifo", _fifo_as_newest),
    ("weights-directory", _directory_as_newest),
    # weights files: non-finite values, huge declared shapes, links inside HDF5
    ("nan-weight", _weights(_set_first_value(NAN))),
    ("inf-weight", _weights(_set_first_value(-INF))),
    ("1e38-weight", _weights(_set_first_value(1e38))),
    (
        "4-GiB-declared-dataset",
        _weights(_replace_dataset(shape=(2**28, 4), dtype="f4")),
    ),
    ("dataset-of-strings", _weights(_replace_dataset(data=np.full((4, 4), b"x")))),
    (
        "compound-dataset",
        _weights(
            _replace_dataset(data=np.zeros((4, 4), dtype=[("a", "f4"), ("b", "f4")]))
        ),
    ),
    ("missing-dataset", _weights(lambda handle, kernel: handle.__delitem__(kernel))),
    ("external-link", _weights(_external_link)),
    ("soft-link", _weights(_soft_link)),
    ("external-storage", _weights(_external_storage)),
    ("datasets-beyond-the-network", _weights(_extra_datasets)),
    (
        "huge-attribute",
        _weights(
            lambda handle, kernel: handle[kernel].attrs.create("x", np.zeros(1000))
        ),
    ),
]

#: Hostile-looking directories that load and predict as the valid one.
LOADS = [
    (
        "params-named-like-attributes",
        _params(
            snapshot_dir="/etc",
            predict_proba=1,
            _private=2,
            classes_="x",
            model="evil",
            fit=None,
            __class__="os",
            units=10**9,
        ),
    ),
    ("unknown-keys", _edit(lambda m: m.update(extra={"deep": [1, 2, 3]}))),
    ("unsorted-classes", _classes("<i8", [2, 0, 1])),
]


def _load_and_predict(directory, X, in_memory=True):
    clf = SnapshotEnsembleClassifier.from_snapshot_dir(directory, in_memory=in_memory)
    return clf, clf.predict_proba(X)


@pytest.mark.parametrize("in_memory", [True, False])
@pytest.mark.parametrize(
    "mutate", [case[1] for case in REFUSED], ids=[case[0] for case in REFUSED]
)
def test_hostile_directory_is_refused_naming_the_file(run_dir, data, mutate, in_memory):
    named = mutate(run_dir)
    with pytest.raises(SnapshotDirectoryError) as info:
        _load_and_predict(run_dir, data[2], in_memory)
    message = str(info.value)
    assert os.fspath(named) in message, f"{named} not in {message!r}"
    assert UNFORESEEN not in message, message


@pytest.mark.parametrize(
    "mutate", [case[1] for case in LOADS], ids=[case[0] for case in LOADS]
)
def test_harmless_changes_load_and_predict_as_before(run_dir, valid_dir, data, mutate):
    _, expected = _load_and_predict(valid_dir, data[2])
    mutate(run_dir)
    clf, proba = _load_and_predict(run_dir, data[2])
    np.testing.assert_array_equal(proba, expected)
    # no manifest entry becomes an attribute of the estimator
    assert clf.snapshot_dir == os.fspath(run_dir)
    assert callable(clf.predict_proba) and clf.model is None
    assert not hasattr(clf, "_private") and not hasattr(clf, "units")


@pytest.mark.parametrize(
    "relabel",
    [
        lambda y: y == 1,
        lambda y: (y == 1).astype(np.uint8),
        lambda y: np.array([-1.0, 0.0, 2.0])[y],
        lambda y: np.array(["ant", "bee", "cat"])[y],
    ],
    ids=["bool", "uint8", "float", "unicode"],
)
def test_labels_of_every_plain_dtype_load(data, tmp_path, relabel):
    """What the label checks accept: every dtype a fit records."""
    X, y, X_test, _ = data
    labels = relabel(y)
    clf = fast_classifier(snapshot_dir=tmp_path / "run", **SMALL).fit(X, labels)
    loaded, proba = _load_and_predict(tmp_path / "run", X_test)
    assert loaded.classes_.dtype == clf.classes_.dtype
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    np.testing.assert_array_equal(proba, clf.predict_proba(X_test))


# -- no code runs, whatever Keras' global setting --------------------------------------


def _marker_lambda(marker):
    # Keras serialises the code with its closure, the path
    path = os.fspath(marker)
    return keras.layers.Lambda(lambda x: x + len(open(path, "w").write("ran") * ""))


def _lambda_directly(marker):
    return [keras.Input((4,)), _marker_lambda(marker)]


def _lambda_in_sub_model(marker):
    inner = keras.Sequential([keras.Input((4,)), _marker_lambda(marker)], name="inner")
    return [keras.Input((4,)), inner]


def _lambda_in_functional_sub_model(marker):
    inputs = keras.Input((4,))
    inner = keras.Model(inputs, _marker_lambda(marker)(inputs), name="inner")
    return [keras.Input((4,)), keras.Sequential([keras.Input((4,)), inner])]


@pytest.mark.parametrize(
    "front", [_lambda_directly, _lambda_in_sub_model, _lambda_in_functional_sub_model]
)
@pytest.mark.parametrize("in_memory", [True, False])
def test_no_code_runs_with_unsafe_deserialization_enabled(
    run_dir, data, tmp_path, unsafe_deserialization, front, in_memory
):
    marker = tmp_path / "code-ran"
    network = keras.Sequential(
        [
            *front(marker),
            keras.layers.Dense(4, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    architecture = keras.saving.serialize_keras_object(network)
    marker.unlink()  # building the network here ran the lambda once
    manifest = _read(run_dir)
    manifest["architecture"] = architecture
    manifest["estimator_params"]["built_in_network"] = False
    _write(run_dir, manifest)

    with pytest.raises(SnapshotDirectoryError, match="Lambda") as info:
        _load_and_predict(run_dir, data[2], in_memory)
    assert os.fspath(run_dir / "manifest.json") in str(info.value)
    assert not marker.exists()
    # and the process' setting is left as it was
    assert global_state.get_global_attribute("safe_mode_saving") is False


def test_keras_safe_mode_is_forced_beneath_the_config_check(
    tmp_path, unsafe_deserialization
):
    """Were a class that runs code to pass the check of the config, Keras itself
    would refuse it: the loader forces its safe mode for the load."""
    marker = tmp_path / "code-ran"
    network = keras.Sequential([*_lambda_directly(marker), keras.layers.Dense(3)])
    architecture = keras.saving.serialize_keras_object(network)
    marker.unlink()
    with pytest.raises(ValueError, match="safe_mode"):
        _deserialize_deferred(architecture)
    assert not marker.exists()
    assert global_state.get_global_attribute("safe_mode_saving") is False


# -- resuming from hostile optimizer state ---------------------------------------------


def _npz(arrays_of):
    def mutate(directory):
        path = directory / OPTIMIZER
        with np.load(path) as state:
            arrays = {key: state[key] for key in state.files}
        arrays = arrays_of(arrays)
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)
        _rerecord(directory, OPTIMIZER)
        return path

    return mutate


def _with(key, value):
    return lambda arrays: {**arrays, key: value}


def _declared_shape_bomb(directory):
    """A member whose .npy header declares 8 GiB over a few bytes of data."""
    path = directory / OPTIMIZER
    with np.load(path) as state:
        arrays = {key: state[key] for key in state.files}
    header = {"descr": "<f4", "fortran_order": False, "shape": (2**31,)}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    with zipfile.ZipFile(path, "w") as archive:
        for key, array in arrays.items():
            if key == "1":
                archive.writestr("1.npy", buffer.getvalue() + b"\0" * 64)
            else:
                with archive.open(f"{key}.npy", "w") as member:
                    np.lib.format.write_array(member, array)
    _rerecord(directory, OPTIMIZER)
    return path


def _optimizer_link(directory):
    path = directory / OPTIMIZER
    outside = _outside(directory, OPTIMIZER)
    shutil.copyfile(path, outside)
    path.unlink()
    path.symlink_to(outside)
    return path


def _not_a_zip(directory):
    path = directory / OPTIMIZER
    path.write_bytes(b"PK\x03\x04 not really a zip")
    _rerecord(directory, OPTIMIZER)
    return path


OPTIMIZER_ATTACKS = [
    ("nan-momentum", _npz(lambda a: {**a, "1": np.full_like(a["1"], np.nan)})),
    ("wrong-shape", _npz(lambda a: {**a, "1": np.zeros((5, 5), "f4")})),
    ("extra-array", _npz(_with("99", np.zeros(3, "f4")))),
    ("missing-array", _npz(lambda a: {k: v for k, v in a.items() if k != "2"})),
    ("string-array", _npz(lambda a: {**a, "2": np.array(["xxxx"] * 4)})),
    ("declared-8-GiB", _declared_shape_bomb),
    ("link-outside", _optimizer_link),
    ("not-a-zip", _not_a_zip),
]


@pytest.mark.parametrize(
    "mutate",
    [case[1] for case in OPTIMIZER_ATTACKS],
    ids=[case[0] for case in OPTIMIZER_ATTACKS],
)
def test_resume_refuses_hostile_optimizer_state(run_dir, data, mutate):
    named = mutate(run_dir)
    X, y, _, _ = data
    with pytest.raises(SnapshotDirectoryError) as info:
        fast_classifier(snapshot_dir=run_dir, resume=True, **SMALL).fit(X, y)
    assert os.fspath(named) in str(info.value)


def test_resume_accepts_the_optimizer_state_it_wrote(run_dir, valid_dir, data):
    X, y, X_test, _ = data
    resumed = fast_classifier(snapshot_dir=run_dir, resume=True, **SMALL).fit(X, y)
    _, expected = _load_and_predict(valid_dir, X_test)
    np.testing.assert_array_equal(resumed.predict_proba(X_test), expected)


# -- fuzz: random mutations of the manifest --------------------------------------------


def _paths(value, prefix=()):
    """Every path (tuple of keys and indices) into parsed JSON ``value``."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)
_MUTATION = st.tuples(
    st.sampled_from(["replace", "delete"]), st.integers(0, 10**6), _JSON
)


def _mutated(manifest, mutations):
    manifest = copy.deepcopy(manifest)
    for kind, choice, value in mutations:
        paths = _paths(manifest)[1:]
        if not paths:
            break
        *parents, last = paths[choice % len(paths)]
        container = manifest
        for key in parents:
            container = container[key]
        if kind == "delete":
            del container[last]
        else:
            container[last] = value
    return manifest


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mutations=st.lists(_MUTATION, min_size=1, max_size=3))
def test_fuzzed_manifest_loads_or_is_refused(valid_dir, data, fuzz_dir, mutations):
    manifest = _mutated(_read(valid_dir), mutations)
    _write(fuzz_dir, manifest)  # the weights files and their checksums stay valid
    try:
        _, proba = _load_and_predict(fuzz_dir, data[2])
    except SnapshotDirectoryError as error:
        message = str(error)
        assert os.fspath(fuzz_dir) in message
        assert UNFORESEEN not in message, message
    else:
        assert np.isfinite(proba).all()
        assert np.allclose(proba.sum(axis=1), 1.0)


@pytest.fixture(scope="module")
def fuzz_dir(valid_dir, tmp_path_factory):
    """One copy of the valid run whose manifest each fuzzed example rewrites."""
    return Path(shutil.copytree(valid_dir, tmp_path_factory.mktemp("fuzz") / "run"))
