"""Snapshot directories that are damaged, hostile or misused.

Every bad input must raise a ``ValueError`` (``SnapshotDirectoryError`` or
scikit-learn's ``InvalidParameterError``) whose message names the offending file or
directory, never a raw error from ``os``, ``json`` or h5py, and a refusal must leave
the files it found as they were.
"""

import hashlib
import json
import os
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.utils._param_validation import InvalidParameterError

from skl_snapshot import SnapshotEnsembleClassifier
from skl_snapshot._persistence import SnapshotDirectoryError, labels_to_json

from .conftest import fast_classifier

# Three snapshots of a four-unit network: small enough to write in well under a second.
SMALL = {"hidden_layer_sizes": (4,), "epochs": 6, "n_cycles": 3}


def _digests(directory):
    """SHA-256 of every file in ``directory``, by name, but the writers' lock
    (whose content is the pid of the last process that took it)."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(Path(directory).iterdir())
        if path.name != ".skl_snapshot.lock"
    }


def _read_manifest(directory):
    return json.loads((Path(directory) / "manifest.json").read_text(encoding="utf-8"))


def _write_manifest(directory, manifest):
    (Path(directory) / "manifest.json").write_text(
        json.dumps(manifest), encoding="utf-8"
    )


def _edit_manifest(directory, edit):
    manifest = _read_manifest(directory)
    edit(manifest)
    _write_manifest(directory, manifest)


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_middle_bytes(path):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    for position in range(middle, middle + 16):
        data[position] ^= 0xFF
    path.write_bytes(bytes(data))


def _assert_names(error_info, path):
    message = str(error_info.value)
    assert os.fspath(path) in message, f"{os.fspath(path)!r} not in {message!r}"


@pytest.fixture(scope="module")
def training_data():
    """The data of the module's written run (the ``blobs`` recipe, training rows)."""
    X, y = make_blobs(n_samples=180, centers=3, n_features=4, random_state=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X[:120], y[:120]


@pytest.fixture(scope="module")
def written_run(training_data, tmp_path_factory):
    """A finished run of three snapshots, written once for the whole module."""
    X, y = training_data
    directory = tmp_path_factory.mktemp("written") / "run"
    fast_classifier(snapshot_dir=directory, **SMALL).fit(X, y)
    return directory


@pytest.fixture
def run_dir(written_run, tmp_path):
    """This test's own copy of the written run, free to damage."""
    return Path(shutil.copytree(written_run, tmp_path / "run"))


# -- damaged weights files -------------------------------------------------------------


def test_truncated_weights_file_is_refused(run_dir):
    damaged = run_dir / "snapshot-001.weights.h5"
    _truncate(damaged)
    with pytest.raises(SnapshotDirectoryError, match="corrupted or truncated") as info:
        SnapshotEnsembleClassifier.from_snapshot_dir(run_dir)
    _assert_names(info, damaged)
    assert "SHA-256" in str(info.value)


def test_truncated_weights_file_kept_on_disk_fails_when_it_votes(run_dir, blobs):
    # Loading with in_memory=False verifies only the newest file; the others are
    # verified each time they are read.
    damaged = run_dir / "snapshot-001.weights.h5"
    _truncate(damaged)
    _, _, X_test, _ = blobs
    clf = SnapshotEnsembleClassifier.from_snapshot_dir(run_dir, in_memory=False)
    with pytest.raises(SnapshotDirectoryError, match="corrupted or truncated") as info:
        clf.predict(X_test)
    _assert_names(info, damaged)

    clf.set_params(n_members=1)  # the newest snapshot alone is intact
    assert clf.predict(X_test).shape == (len(X_test),)


def test_truncated_newest_weights_file_is_refused_on_disk_only_load(run_dir):
    damaged = run_dir / "snapshot-002.weights.h5"
    _truncate(damaged)
    with pytest.raises(SnapshotDirectoryError, match="corrupted or truncated") as info:
        SnapshotEnsembleClassifier.from_snapshot_dir(run_dir, in_memory=False)
    _assert_names(info, damaged)


def test_weights_file_with_flipped_bytes_fails_its_checksum(run_dir):
    damaged = run_dir / "snapshot-001.weights.h5"
    size = damaged.stat().st_size
    _flip_middle_bytes(damaged)
    assert damaged.stat().st_size == size
    with pytest.raises(SnapshotDirectoryError, match="SHA-256") as info:
        SnapshotEnsembleClassifier.from_snapshot_dir(run_dir)
    _assert_names(info, damaged)


def test_truncated_weights_file_with_a_rerecorded_checksum_cannot_be_loaded(run_dir):
    # Someone "repaired" the manifest: the checksum passes, so h5py meets the
    # truncated file, and its error must still name the file.
    damaged = run_dir / "snapshot-001.weights.h5"
    _truncate(damaged)
    digest = hashlib.sha256(damaged.read_bytes()).hexdigest()
    _edit_manifest(run_dir, lambda m: m["snapshots"][1].update(sha256=digest))
    with pytest.raises(SnapshotDirectoryError, match="Cannot load snapshot") as info:
        SnapshotEnsembleClassifier.from_snapshot_dir(run_dir)
    _assert_names(info, damaged)


@pytest.mark.parametrize(
    "name, in_memory",
    [("snapshot-001.weights.h5", True), ("snapshot-002.weights.h5", False)],
)
def test_missing_weights_file(run_dir, name, in_memory):
    (run_dir / name).unlink()
    with pytest.raises(SnapshotDirectoryError, match="is missing") as info:
        SnapshotEnsembleClassifier.from_snapshot_dir(run_dir, in_memory=in_memory)
    _assert_names(info, run_dir / name)
    _assert_names(info, run_dir / "manifest.json")


# -- manifests that contradict the files -----------------------------------------------


def _widen_first_layer(manifest):
    """Five hidden units instead of four, consistently: the network builds."""
    layers = manifest["architecture"]["config"]["layers"]
    layers[1]["config"]["units"] = 5
    layers[2]["build_config"]["input_shape"] = [None, 5]


def _widen_first_layer_only(manifest):
    """Five hidden units, but the next layer still expects four inputs."""
    manifest["architecture"]["config"]["layers"][1]["config"]["units"] = 5


@pytest.mark.parametrize(
    "edit, named_file, match",
    [
        pytest.param(
            _widen_first_layer,
            "snapshot-000.weights.h5",
            "Cannot load snapshot file",
            id="weights-do-not-fit-architecture",
        ),
        pytest.param(
            _widen_first_layer_only,
            "manifest.json",
            "Cannot rebuild the network",
            id="inconsistent-architecture",
        ),
        pytest.param(
            lambda m: m.update(n_features_in=5),
            "manifest.json",
            "4 input features but records n_features_in=5",
            id="n_features_in",
        ),
        pytest.param(
            lambda m: m.update(classes={"dtype": "<i8", "values": [0, 1, 2, 3]}),
            "manifest.json",
            "3 output units but records 4 classes",
            id="more-classes",
        ),
        pytest.param(
            lambda m: m.update(classes={"dtype": "<i8", "values": [0, 1]}),
            "manifest.json",
            "3 output units but records 2 classes",
            id="fewer-classes",
        ),
    ],
)
@pytest.mark.parametrize("in_memory", [True, False])
def test_manifest_contradicting_the_files(
    run_dir, blobs, edit, named_file, match, in_memory
):
    _edit_manifest(run_dir, edit)
    _, _, X_test, _ = blobs
    with pytest.raises(SnapshotDirectoryError, match=match) as info:
        clf = SnapshotEnsembleClassifier.from_snapshot_dir(run_dir, in_memory=in_memory)
        clf.predict(X_test)  # in_memory=False may read the weights only now
    if in_memory or named_file == "manifest.json":
        _assert_names(info, run_dir / named_file)
    else:  # prediction reads the newest snapshot first
        _assert_names(info, run_dir / "snapshot-002.weights.h5")


def test_disk_only_load_refuses_weights_that_do_not_fit(run_dir):
    # The docstring promises that from_snapshot_dir raises when the files do not
    # match the manifest's architecture; with in_memory=False too, since it reads
    # the newest file to check its checksum anyway.
    _edit_manifest(run_dir, _widen_first_layer)
    with pytest.raises(SnapshotDirectoryError, match="Cannot load snapshot") as info:
        SnapshotEnsembleClassifier.from_snapshot_dir(run_dir, in_memory=False)
    _assert_names(info, run_dir / "snapshot-002.weights.h5")


# -- directories and manifests that cannot be read -------------------------------------


def test_empty_directory(tmp_path):
    with pytest.raises(SnapshotDirectoryError, match="holds no manifest.json") as info:
        SnapshotEnsembleClassifier.from_snapshot_dir(tmp_path)
    _assert_names(info, tmp_path)


def test_directory_that_does_not_exist(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(SnapshotDirectoryError, match="does not exist") as info:
        SnapshotEnsembleClassifier.from_snapshot_dir(missing)
    _assert_names(info, missing)


def test_loading_from_a_regular_file(tmp_path):
    not_a_directory = tmp_path / "snapshots"
    not_a_directory.write_text("not a directory")
    with pytest.raises(SnapshotDirectoryError) as info:
        SnapshotEnsembleClassifier.from_snapshot_dir(not_a_directory)
    _assert_names(info, not_a_directory)


@pytest.mark.parametrize(
    "content, match",
    [
        pytest.param(b"{ this is not json", "Cannot read", id="garbage"),
        pytest.param(b"\xff\xfe\x00binary", "Cannot read", id="not-utf8"),
        pytest.param(b"", "Cannot read", id="empty-file"),
        pytest.param(b"[1, 2, 3]", "not a skl_snapshot manifest", id="json-list"),
        pytest.param(
            json.dumps({"format": "keras.saving", "format_version": 1}).encode(),
            "not a skl_snapshot manifest",
            id="other-format",
        ),
    ],
)
def test_unreadable_manifest(run_dir, content, match):
    (run_dir / "manifest.json").write_bytes(content)
    with pytest.raises(SnapshotDirectoryError, match=match) as info:
        SnapshotEnsembleClassifier.from_snapshot_dir(run_dir)
    _assert_names(info, run_dir / "manifest.json")


@pytest.mark.parametrize(
    "edit, match",
    [
        pytest.param(
            lambda m: m.update(format_version=2),
            "format_version 2; this skl_snapshot reads version 1",
            id="newer-format-version",
        ),
        pytest.param(
            lambda m: m.update(architecture=None),
            "records no Keras config",
            id="no-architecture",
        ),
    ],
)
def test_manifest_that_cannot_be_used(run_dir, edit, match):
    _edit_manifest(run_dir, edit)
    with pytest.raises(SnapshotDirectoryError, match=match) as info:
        SnapshotEnsembleClassifier.from_snapshot_dir(run_dir)
    _assert_names(info, run_dir / "manifest.json")


def test_manifest_without_complete_snapshots(run_dir):
    _edit_manifest(run_dir, lambda m: m.update(snapshots=[]))
    with pytest.raises(SnapshotDirectoryError, match="no complete snapshot") as info:
        SnapshotEnsembleClassifier.from_snapshot_dir(run_dir)
    _assert_names(info, run_dir)


def _drop_record_checksum(manifest):
    del manifest["snapshots"][0]["sha256"]


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda m: m.pop("snapshots"), id="no-snapshots-key"),
        pytest.param(lambda m: m.pop("classes"), id="no-classes-key"),
        pytest.param(_drop_record_checksum, id="record-without-sha256"),
        pytest.param(lambda m: m.update(snapshots="snapshot-000"), id="not-a-list"),
    ],
)
def test_manifest_missing_fields(run_dir, edit):
    # The right format and version, but a field is gone: a damaged or hand-made
    # manifest must be refused as such, not crash with a KeyError or TypeError.
    _edit_manifest(run_dir, edit)
    with pytest.raises(SnapshotDirectoryError) as info:
        SnapshotEnsembleClassifier.from_snapshot_dir(run_dir)
    _assert_names(info, run_dir / "manifest.json")


# -- manifests naming files outside the directory --------------------------------------


@pytest.fixture
def outside_file(run_dir):
    """A valid copy of snapshot 0 beside the directory, with the right checksum.

    Were the manifest's file names followed, loading would succeed: only the
    refusal to leave the directory stops it.
    """
    outside = run_dir.parent / "evil.weights.h5"
    shutil.copyfile(run_dir / "snapshot-000.weights.h5", outside)
    return outside


@pytest.mark.parametrize("absolute", [False, True])
def test_manifest_naming_a_file_outside_the_directory(run_dir, outside_file, absolute):
    name = str(outside_file) if absolute else "../evil.weights.h5"
    _edit_manifest(run_dir, lambda m: m["snapshots"][0].update(file=name))
    with pytest.raises(SnapshotDirectoryError, match="outside the directory") as info:
        SnapshotEnsembleClassifier.from_snapshot_dir(run_dir)
    _assert_names(info, run_dir / "manifest.json")


def test_file_outside_the_directory_is_refused_when_it_votes(
    run_dir, outside_file, blobs
):
    _edit_manifest(
        run_dir, lambda m: m["snapshots"][0].update(file="../evil.weights.h5")
    )
    _, _, X_test, _ = blobs
    clf = SnapshotEnsembleClassifier.from_snapshot_dir(run_dir, in_memory=False)
    clf.set_params(member_order="oldest", n_members=1)
    with pytest.raises(SnapshotDirectoryError, match="outside the directory") as info:
        clf.predict(X_test)
    _assert_names(info, run_dir / "manifest.json")


def test_overwrite_never_deletes_a_file_outside_the_directory(
    run_dir, outside_file, training_data
):
    """overwrite=True removes the files of its naming scheme in the directory,
    never what a (hostile) manifest names."""
    _edit_manifest(
        run_dir, lambda m: m["snapshots"][0].update(file="../evil.weights.h5")
    )
    X, y = training_data
    content = outside_file.read_bytes()
    fast_classifier(snapshot_dir=run_dir, overwrite=True, **SMALL).fit(X, y)
    assert outside_file.read_bytes() == content
    names = [record["file"] for record in _read_manifest(run_dir)["snapshots"]]
    assert names == [f"snapshot-{i:03d}.weights.h5" for i in range(len(names))]


def test_refused_overwrite_leaves_the_directory_as_it_was(run_dir, training_data):
    (run_dir / "users-notes.txt").write_text("mine")
    X, y = training_data
    before = _digests(run_dir)
    with pytest.raises(SnapshotDirectoryError, match="users-notes.txt") as info:
        fast_classifier(snapshot_dir=run_dir, overwrite=True, **SMALL).fit(X, y)
    _assert_names(info, run_dir)
    assert _digests(run_dir) == before


# -- refusing to run code from the directory -------------------------------------------


def _lambda_net(meta):
    return keras.Sequential(
        [
            keras.Input(shape=(meta["n_features_in_"],)),
            keras.layers.Lambda(lambda inputs: inputs * 2.0),
            keras.layers.Dense(meta["n_classes_"], activation="softmax"),
        ]
    )


@pytest.mark.parametrize("in_memory", [True, False])
def test_lambda_layer_is_not_deserialised(blobs, tmp_path, in_memory):
    X, y, _, _ = blobs
    directory = tmp_path / "run"
    fast_classifier(
        snapshot_dir=directory, model=_lambda_net, epochs=6, n_cycles=2
    ).fit(X, y)
    with pytest.raises(SnapshotDirectoryError, match="Lambda") as info:
        SnapshotEnsembleClassifier.from_snapshot_dir(directory, in_memory=in_memory)
    _assert_names(info, directory / "manifest.json")
    assert "safe_mode" in str(info.value)


# -- resume ----------------------------------------------------------------------------


def _other_data(X, y):
    return X + 0.01, y


def _extra_column(X, y):
    return np.hstack([X, X[:, :1]]), y


def _relabelled(X, y):
    return X, y + 10


RESUME_MISMATCHES = [
    pytest.param(_other_data, {}, "the training data differs", id="other-X"),
    pytest.param(_extra_column, {}, "n_features_in differs", id="extra-column"),
    pytest.param(_relabelled, {}, "classes differs", id="other-classes"),
    pytest.param(
        lambda X, y: (X, y),
        {"hidden_layer_sizes": (5,)},
        "architecture differs",
        id="other-architecture",
    ),
    pytest.param(
        lambda X, y: (X, y),
        {"epochs": 9},
        r"epochs differs \(6 there, 9 now\)",
        id="other-epochs",
    ),
]


@pytest.mark.parametrize("change_data, params, match", RESUME_MISMATCHES)
def test_resume_refuses_another_fit(run_dir, training_data, change_data, params, match):
    X, y = change_data(*training_data)
    before = _digests(run_dir)
    clf = fast_classifier(snapshot_dir=run_dir, resume=True, **{**SMALL, **params})
    with pytest.raises(SnapshotDirectoryError, match=match) as info:
        clf.fit(X, y)
    _assert_names(info, run_dir / "manifest.json")
    assert "overwrite=True" in str(info.value)
    assert _digests(run_dir) == before


@pytest.mark.parametrize("change_data, params, match", RESUME_MISMATCHES)
def test_resume_with_overwrite_starts_a_new_run(
    run_dir, training_data, blobs, change_data, params, match
):
    X, y = change_data(*training_data)
    old_run = _read_manifest(run_dir)["run_id"]
    clf = fast_classifier(
        snapshot_dir=run_dir, resume=True, overwrite=True, **{**SMALL, **params}
    ).fit(X, y)
    manifest = _read_manifest(run_dir)
    assert manifest["run_id"] != old_run
    assert manifest["n_features_in"] == X.shape[1]
    assert len(manifest["fits"]) == 1

    loaded = SnapshotEnsembleClassifier.from_snapshot_dir(run_dir)
    _, _, X_test, _ = blobs
    X_test = change_data(X_test, np.zeros(len(X_test), dtype=int))[0]
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    np.testing.assert_array_equal(
        loaded.predict_proba(X_test), clf.predict_proba(X_test)
    )


@pytest.mark.parametrize(
    "damage, name",
    [
        (_truncate, "optimizer-002.npz"),
        (_truncate, "snapshot-002.weights.h5"),
        (Path.unlink, "optimizer-002.npz"),
    ],
    ids=["truncated-optimizer", "truncated-newest-weights", "missing-optimizer"],
)
def test_resume_refuses_damaged_state(run_dir, training_data, damage, name):
    damage(run_dir / name)
    with pytest.raises(SnapshotDirectoryError) as info:
        fast_classifier(snapshot_dir=run_dir, resume=True, **SMALL).fit(*training_data)
    _assert_names(info, run_dir / name)


def test_warm_start_into_a_directory_taken_by_another_run(run_dir, training_data):
    clf = SnapshotEnsembleClassifier.from_snapshot_dir(run_dir)
    _edit_manifest(run_dir, lambda m: m.update(run_id="0" * 32))
    before = _digests(run_dir)
    clf.set_params(warm_start=True, epochs=2, n_cycles=1)
    with pytest.raises(SnapshotDirectoryError, match="belongs to another run") as info:
        clf.fit(*training_data)
    _assert_names(info, run_dir / "manifest.json")
    assert _digests(run_dir) == before


# -- a directory holding another run ---------------------------------------------------


def test_second_fit_refuses_to_replace_another_run(run_dir, training_data):
    before = _digests(run_dir)
    clf = fast_classifier(snapshot_dir=run_dir, **SMALL)
    with pytest.raises(SnapshotDirectoryError, match="already holds snapshots") as info:
        clf.fit(*training_data)
    _assert_names(info, run_dir)
    assert "overwrite=True" in str(info.value)
    assert _digests(run_dir) == before


def test_overwrite_replaces_another_run(run_dir, training_data, blobs):
    old_run = _read_manifest(run_dir)["run_id"]
    clf = fast_classifier(
        snapshot_dir=run_dir, overwrite=True, **{**SMALL, "n_cycles": 2}
    ).fit(*training_data)
    manifest = _read_manifest(run_dir)
    assert manifest["run_id"] != old_run
    assert [record["file"] for record in manifest["snapshots"]] == [
        "snapshot-000.weights.h5",
        "snapshot-001.weights.h5",
    ]
    # the old run's third snapshot must not linger beside the new run
    assert not (run_dir / "snapshot-002.weights.h5").exists()

    loaded = SnapshotEnsembleClassifier.from_snapshot_dir(run_dir)
    _, _, X_test, _ = blobs
    assert loaded.n_snapshots_ == 2
    np.testing.assert_array_equal(
        loaded.predict_proba(X_test), clf.predict_proba(X_test)
    )


# -- directories that cannot be written ------------------------------------------------


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="permission bits do not stop root (or this platform has none)",
)
def test_directory_that_cannot_be_written(blobs, tmp_path):
    X, y, _, _ = blobs
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o500)
    try:
        if os.access(read_only, os.W_OK):
            pytest.skip("the file system ignores permission bits")
        with pytest.raises(SnapshotDirectoryError, match="cannot be written") as info:
            fast_classifier(snapshot_dir=read_only, **SMALL).fit(X, y)
        _assert_names(info, read_only)
    finally:
        read_only.chmod(0o700)


def test_snapshot_dir_that_is_a_regular_file(blobs, tmp_path):
    X, y, _, _ = blobs
    not_a_directory = tmp_path / "snapshots"
    not_a_directory.write_text("precious")
    with pytest.raises(SnapshotDirectoryError, match="cannot be created") as info:
        fast_classifier(snapshot_dir=not_a_directory, **SMALL).fit(X, y)
    _assert_names(info, not_a_directory)
    assert not_a_directory.read_text() == "precious"


def test_snapshot_dir_below_a_regular_file(blobs, tmp_path):
    X, y, _, _ = blobs
    not_a_directory = tmp_path / "snapshots"
    not_a_directory.write_text("precious")
    with pytest.raises(SnapshotDirectoryError, match="cannot be created") as info:
        fast_classifier(snapshot_dir=not_a_directory / "run", **SMALL).fit(X, y)
    _assert_names(info, not_a_directory)
    assert not_a_directory.read_text() == "precious"


# -- parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, match",
    [
        ({"in_memory": False}, "in_memory=False needs a snapshot_dir"),
        ({"resume": True}, "resume=True needs a snapshot_dir"),
    ],
)
def test_options_that_need_a_snapshot_dir(blobs, params, match):
    X, y, _, _ = blobs
    with pytest.raises(ValueError, match=match):
        fast_classifier(**SMALL, **params).fit(X, y)


def test_snapshot_dir_of_the_wrong_type(blobs):
    X, y, _, _ = blobs
    with pytest.raises(InvalidParameterError, match="'snapshot_dir' parameter"):
        fast_classifier(snapshot_dir=3, **SMALL).fit(X, y)


# -- labels a manifest cannot record ---------------------------------------------------


def test_string_labels_in_an_object_array_round_trip(blobs, tmp_path):
    """pandas keeps strings in object arrays: they are recorded as strings."""
    X, y, X_test, _ = blobs
    labels = np.array(["ant", "bee", "cat"], dtype=object)[y]
    directory = tmp_path / "run"
    clf = fast_classifier(snapshot_dir=directory, **SMALL).fit(X, labels)
    loaded = SnapshotEnsembleClassifier.from_snapshot_dir(directory)
    np.testing.assert_array_equal(loaded.predict(X_test), clf.predict(X_test))
    np.testing.assert_array_equal(loaded.classes_.astype(object), clf.classes_)


def test_labels_json_cannot_represent_are_refused():
    with pytest.raises(SnapshotDirectoryError, match="dtype object.*astype\\(str\\)"):
        labels_to_json(np.array([("a", 1), ("b", 2)], dtype=object))
