"""Snapshot directories: crash-safe files, a JSON manifest, loading that runs no code.

Layout of a directory::

    manifest.json               what the directory holds; rewritten atomically
    snapshot-000.weights.h5     Keras' weights format, one file per snapshot
    snapshot-001.weights.h5
    optimizer-001.npz           optimizer state after the newest snapshot (resume)
    .skl_snapshot.lock          held by the process writing the directory

Every file is written to a temporary name in the same directory, flushed and
fsynced, then renamed to its final name, and the directory is fsynced. The
manifest is the commit point: a snapshot exists once the manifest lists it. No
file a committed manifest names is ever replaced: a new snapshot's optimizer
state gets a new name, and the old one is removed only after the manifest that
no longer names it is committed. A crash at any instant therefore leaves a
manifest whose every file is intact; at worst orphans (temporary files, or a
snapshot the manifest does not list yet), which are never read and are removed
by the next writer.

A writer holds an exclusive lock on ``.skl_snapshot.lock`` (``flock``: released
by the kernel when the process dies, so a dead writer's lock is taken over).
``overwrite=True`` removes only files of this naming scheme, never a file the
directory's manifest merely names, and refuses a directory holding anything else.

Loading never unpickles anything: the manifest is JSON, the architecture is
rebuilt with Keras' ``safe_mode`` (no Lambda layers or arbitrary code), the weights
are plain HDF5 arrays, the optimizer state is an ``.npz`` read with
``allow_pickle=False``, and every file's SHA-256 is checked before it is read.
"""

import contextlib
import errno
import hashlib
import json
import os
import re
import sys
import tempfile
import threading
import uuid
from collections.abc import Sequence

import keras
import numpy as np
import sklearn
import tensorflow as tf

from ._plan import FitPlan

__all__ = [
    "FORMAT",
    "SnapshotDirectory",
    "SnapshotDirectoryError",
    "SnapshotWeights",
    "load_network",
]

FORMAT = "skl_snapshot.snapshot_dir"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
AVERAGED_WEIGHTS = "averaged.weights.h5"
LOCK = ".skl_snapshot.lock"
# Every name a writer gives a file: what overwrite=True and the orphan clean-up
# may remove. optimizer.npz is the optimizer state of format-1 writers before
# the per-snapshot names.
_OWNED_NAMES = re.compile(
    r"(manifest\.json|averaged\.weights\.h5|\.skl_snapshot\.lock"
    r"|snapshot-\d{3,}\.weights\.h5|optimizer(-\d{3,})?\.npz"
    r"|\.tmp-[0-9a-f]{32}(\.part|\.npz|\.weights\.h5)|\.tmp-probe-\w+)"
)


def owned(name):
    """Whether ``name`` is a file name this library writes."""
    return _OWNED_NAMES.fullmatch(name) is not None


def _optimizer_state_name(index):
    return f"optimizer-{index:03d}.npz"


class SnapshotDirectoryError(ValueError):
    """A snapshot directory cannot be written, read or trusted."""


def _fsync_directory(path):
    if sys.platform.startswith("win"):  # directories cannot be opened there
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _commit(temporary, final):
    """Make ``temporary`` durable, rename it over ``final``, make the rename durable."""
    with open(temporary, "rb+") as handle:
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, final)
    _fsync_directory(os.path.dirname(final))


def _temporary_path(directory, suffix):
    # Keras decides the weights format from the file name, so the temporary name
    # keeps the final suffix; the leading dot and "tmp" mark it as never read.
    return os.path.join(directory, f".tmp-{uuid.uuid4().hex}{suffix}")


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one."""
    temporary = _temporary_path(os.path.dirname(path), ".part")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
        _commit(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _save_model_weights(network, path):
    """Save the network's own weights in Keras' ``.weights.h5`` format.

    ``Model.save_weights`` also writes a compiled model's optimizer variables,
    which would double the size of every snapshot; only Keras' saving library
    (not yet public API) can leave them out. The optimizer state is saved once,
    separately, for resuming.
    """
    _model_weights(network, path, "save")


def _load_model_weights(network, path):
    """Load weights saved by :func:`_save_model_weights`, leaving any optimizer be."""
    _model_weights(network, path, "load")


def _model_weights(network, path, action):
    optimizer = getattr(network, "optimizer", None)
    if optimizer is None:
        getattr(network, f"{action}_weights")(path)
        return
    from keras.src.saving import saving_lib

    getattr(saving_lib, f"{action}_weights_only")(
        network, path, objects_to_skip=[optimizer]
    )


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def labels_to_json(classes):
    """``classes_`` as JSON: values and the NumPy dtype to rebuild them."""
    classes = np.asarray(classes)
    if classes.dtype == object and all(isinstance(label, str) for label in classes):
        classes = classes.astype(str)  # pandas keeps strings in object arrays
    if classes.dtype.kind not in "biufU":
        raise SnapshotDirectoryError(
            "snapshot_dir can only record class labels that are numbers, booleans or"
            f" strings. Got labels of mixed or other types (dtype {classes.dtype}):"
            " convert y, for example with y.astype(str)."
        )
    return {"dtype": classes.dtype.str, "values": classes.tolist()}


def labels_from_json(record):
    return np.asarray(record["values"], dtype=np.dtype(record["dtype"]))


def versions():
    from . import __version__

    return {
        "skl_snapshot": __version__,
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
    }


def architecture_of(network):
    """The network's architecture as a JSON-able Keras config, or None."""
    try:
        config = keras.saving.serialize_keras_object(network)
        json.dumps(config)
    except (NotImplementedError, TypeError, ValueError):
        return None
    return config


def load_network(architecture, source):
    """Rebuild a network from its config without running code from ``source``."""
    try:
        network = keras.saving.deserialize_keras_object(architecture, safe_mode=True)
    except Exception as error:  # Keras raises many types for an unusable config
        raise SnapshotDirectoryError(
            f"Cannot rebuild the network described in {source}: {error}. Custom"
            " layers must be registered with keras.saving.register_keras_serializable"
            " in the loading process; Lambda layers are refused (safe_mode)."
        ) from error
    if not isinstance(network, keras.Model):
        raise SnapshotDirectoryError(
            f"The architecture in {source} is not a Keras model. Got"
            f" {type(network).__name__}."
        )
    return network


class SnapshotDirectory:
    """A directory of snapshots with its manifest.

    Parameters
    ----------
    path : str or path-like
        The directory.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self.manifest_path = os.path.join(self.path, MANIFEST)

    # -- reading ------------------------------------------------------------------

    def exists(self):
        return os.path.isfile(self.manifest_path)

    def read_manifest(self):
        """The manifest, checked for format and consistency."""
        if not os.path.isdir(self.path):
            raise SnapshotDirectoryError(
                f"Snapshot directory {self.path} does not exist or is not a directory."
            )
        if not self.exists():
            raise SnapshotDirectoryError(
                f"Snapshot directory {self.path} holds no {MANIFEST}: it is empty or"
                " was not written by skl_snapshot."
            )
        try:
            with open(self.manifest_path, encoding="utf-8") as handle:
                manifest = json.load(handle)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SnapshotDirectoryError(
                f"Cannot read {self.manifest_path}: {error}."
            ) from error
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise SnapshotDirectoryError(
                f"{self.manifest_path} is not a skl_snapshot manifest."
            )
        if manifest.get("format_version") != FORMAT_VERSION:
            raise SnapshotDirectoryError(
                f"{self.manifest_path} has format_version"
                f" {manifest.get('format_version')!r}; this skl_snapshot reads"
                f" version {FORMAT_VERSION}."
            )
        problem = _schema_problem(manifest)
        if problem is not None:
            raise SnapshotDirectoryError(
                f"{self.manifest_path} is damaged or incomplete: {problem}."
            )
        return manifest

    def file_path(self, name):
        # Only plain file names from the manifest: never a path outside the
        # directory.
        if os.path.basename(name) != name or name in ("", ".", ".."):
            raise SnapshotDirectoryError(
                f"{self.manifest_path} names a file outside the directory: {name!r}."
            )
        return os.path.join(self.path, name)

    def verified_path(self, record):
        """Path of a file listed in the manifest, after checking its SHA-256."""
        path = self.file_path(record["file"])
        if not os.path.isfile(path):
            raise SnapshotDirectoryError(
                f"Snapshot file {path} listed in {self.manifest_path} is missing."
            )
        digest = sha256_of(path)
        if digest != record["sha256"]:
            raise SnapshotDirectoryError(
                f"Snapshot file {path} is corrupted or truncated: its SHA-256 is"
                f" {digest}, the manifest records {record['sha256']}."
            )
        return path

    def load_weights(self, network, record):
        """Load one snapshot's weights, after checking them, into ``network``."""
        path = self.verified_path(record)
        try:
            _load_model_weights(network, path)
        except Exception as error:  # h5py and Keras raise many types
            raise SnapshotDirectoryError(
                f"Cannot load snapshot file {path} into the network: {error}."
            ) from error

    def load_optimizer_state(self, optimizer, network, record):
        """Restore optimizer variables saved with the newest snapshot."""
        path = self.verified_path(record)
        with np.load(path, allow_pickle=False) as state:
            store = {key: state[key] for key in state.files}
        optimizer.build(network.trainable_variables)
        try:
            optimizer.load_own_variables(store)
        except (ValueError, KeyError) as error:
            raise SnapshotDirectoryError(
                f"Optimizer state {path} does not fit this optimizer: {error}."
            ) from error

    # -- writing ------------------------------------------------------------------

    def _refuse_foreign_files(self):
        foreign = sorted(name for name in os.listdir(self.path) if not owned(name))
        if foreign:
            raise SnapshotDirectoryError(
                f"Snapshot directory {self.path} holds files that skl_snapshot did"
                f" not write ({', '.join(foreign[:5])}"
                f"{', ...' if len(foreign) > 5 else ''}): a run writes into an"
                " empty directory or one of its own, and never deletes files it"
                " does not own. Choose another snapshot_dir."
            )

    def lock(self):
        """Create the directory if needed and take its writer's lock."""
        if os.path.isdir(self.path) and not os.path.lexists(self.manifest_path):
            # no run of ours there: leave not even a lock file in a user's folder
            self._refuse_foreign_files()
        try:
            os.makedirs(self.path, exist_ok=True)
            return _DirectoryLock(self.path).acquire()
        except SnapshotDirectoryError:
            raise
        except OSError as error:
            raise SnapshotDirectoryError(
                f"Snapshot directory {self.path} cannot be created or written: {error}."
            ) from error

    def prepare(self, header, overwrite):
        """Start a new run in the directory, refusing to clobber another one."""
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise SnapshotDirectoryError(
                f"Snapshot directory {self.path} cannot be written."
            )
        try:
            probe, probe_path = tempfile.mkstemp(prefix=".tmp-probe-", dir=self.path)
            os.close(probe)
            os.remove(probe_path)
        except OSError as error:
            raise SnapshotDirectoryError(
                f"Snapshot directory {self.path} cannot be written: {error}."
            ) from error
        self._refuse_foreign_files()
        if os.path.lexists(self.manifest_path):
            if not overwrite:
                raise SnapshotDirectoryError(
                    f"Snapshot directory {self.path} already holds snapshots of"
                    " another run. Pass overwrite=True to replace them, resume=True"
                    " to continue that run, or choose another snapshot_dir."
                )
            self._remove_run()
        else:
            self.remove_orphans()
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            **header,
            "snapshots": [],
            "optimizer_state": None,
        }
        self.write_manifest(manifest)
        return manifest

    def _remove_run(self):
        """Remove the run in the directory, damaged or not: every file of the
        naming scheme (the only files the directory holds, see ``prepare``),
        whatever the manifest says; the manifest first, so that a crash midway
        never leaves a manifest listing missing files."""
        os.remove(self.manifest_path)
        _fsync_directory(self.path)
        self._remove_owned(sorted(os.listdir(self.path)))

    def remove_orphans(self, manifest=None):
        """Delete what a writer that died mid-write left: temporary files, and
        files of the naming scheme that ``manifest`` does not name. Only the
        holder of the directory's lock calls this."""
        if not os.path.isdir(self.path):
            return
        named = {MANIFEST, LOCK}
        if manifest is not None:
            named.update(record["file"] for record in manifest["snapshots"])
            for extra in ("optimizer_state", "averaged"):
                if isinstance(manifest.get(extra), dict):
                    named.add(manifest[extra]["file"])
        elif self.exists():
            return  # a manifest that could not be read: leave its files be
        self._remove_owned(name for name in os.listdir(self.path) if name not in named)

    def write_manifest(self, manifest):
        data = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
        with self._writing(MANIFEST):
            atomic_write_bytes(self.manifest_path, data)

    def _write_weights(self, network, name):
        """Write the network's weights to file ``name``, atomically; its path."""
        weights_path = os.path.join(self.path, name)
        temporary = _temporary_path(self.path, ".weights.h5")
        try:
            _save_model_weights(network, temporary)
            _commit(temporary, weights_path)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
        return weights_path

    def add_snapshot(self, manifest, network, optimizer, info):
        """Write one snapshot and the optimizer state, commit the manifest, then
        remove the optimizer state it no longer names."""
        index = len(manifest["snapshots"])
        name = f"snapshot-{index:03d}.weights.h5"
        with self._writing(name):
            weights_path = self._write_weights(network, name)
        record = {"index": index, "file": name, "sha256": sha256_of(weights_path)}
        record.update(info)

        store = {}
        optimizer.save_own_variables(store)
        state_name = _optimizer_state_name(index)
        state_path = os.path.join(self.path, state_name)
        temporary = _temporary_path(self.path, ".npz")
        with self._writing(state_name):
            try:
                with open(temporary, "wb") as handle:
                    np.savez(handle, **{str(k): v for k, v in store.items()})
                _commit(temporary, state_path)
            finally:
                if os.path.exists(temporary):
                    os.remove(temporary)
        previous = manifest.get("optimizer_state")
        manifest["snapshots"].append(record)
        manifest["optimizer_state"] = {
            "file": state_name,
            "sha256": sha256_of(state_path),
            "after_snapshot": index,
        }
        self.write_manifest(manifest)
        if previous is not None and previous["file"] != state_name:
            self._remove_owned([previous["file"]])
        return record

    @contextlib.contextmanager
    def _writing(self, name):
        """Turn a failed write of file ``name`` into an error that names the
        directory and the cause (a full disk, say)."""
        try:
            yield
        except SnapshotDirectoryError:
            raise
        except Exception as error:  # OSError, or h5py's RuntimeError
            cause = (
                "the disk is full"
                if getattr(error, "errno", None) == errno.ENOSPC
                or "No space left" in str(error)
                else f"{type(error).__name__}: {error}"
            )
            raise SnapshotDirectoryError(
                f"Cannot write {name} in snapshot directory {self.path}: {cause}."
                " What the manifest lists is intact; free space and fit again"
                " with resume=True to continue."
            ) from error

    def _remove_owned(self, names):
        """Remove the files ``names`` that this library's naming scheme owns."""
        for name in names:
            if owned(name) and name != LOCK:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(self.path, name))

    def write_averaged(self, manifest, network):
        """Write the network's weights as the averaged (SWA) network, then commit."""
        with self._writing(AVERAGED_WEIGHTS):
            weights_path = self._write_weights(network, AVERAGED_WEIGHTS)
        manifest["averaged"] = {
            "file": AVERAGED_WEIGHTS,
            "sha256": sha256_of(weights_path),
        }
        self.write_manifest(manifest)


class SnapshotWeights(Sequence):
    """Snapshot weights read from a directory on access, one snapshot at a time.

    Holds no weights itself, so that an ensemble kept on disk costs the memory of
    about one member at prediction time. Every access verifies the file's
    checksum. Pickling keeps the directory's path, not the weights: the directory
    must stay where it is.

    Parameters
    ----------
    directory : SnapshotDirectory
        Where the snapshots are.
    records : list of dict
        The manifest's records of the snapshots, oldest first.
    architecture : dict
        Keras config of the network, to read the weights files into.
    """

    def __init__(self, directory, records, architecture):
        self.directory = directory
        self.records = list(records)
        self.architecture = architecture
        self._network = None
        # reads go through one network: one at a time, whatever the threads
        self._lock = threading.Lock()

    def __len__(self):
        return len(self.records)

    def load_into(self, network, index):
        """Load snapshot ``index`` into ``network``'s variables."""
        self.directory.load_weights(network, self.records[index])

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        with self._lock:
            if self._network is None:
                self._network = load_network(self.architecture, self.directory.path)
            self.load_into(self._network, index)
            return [np.array(weight) for weight in self._network.get_weights()]

    def __getstate__(self):
        state = dict(vars(self))
        state["_network"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state):
        vars(self).update(state)
        self._lock = threading.Lock()


# The architecture last: it also encodes n_features_in and the number of classes,
# which make clearer messages.
_HEADER_KEYS_TO_MATCH = (
    "task",
    "n_features_in",
    "classes",
    "target",
    "loss",
    "architecture",
)
# What a manifest from before a header key existed meant by its absence.
_HEADER_DEFAULTS = {"task": "classification"}


class _DirectoryLock:
    """An exclusive, non-blocking lock on a directory's ``.skl_snapshot.lock``.

    ``flock`` locks belong to the open file: the kernel releases them when the
    holder dies, so the lock of a killed writer is simply taken over. Where
    ``fcntl`` does not exist (Windows) directories are not locked.
    """

    def __init__(self, directory):
        self.path = os.path.join(directory, LOCK)
        self._handle = None

    def acquire(self):
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise SnapshotDirectoryError(
                f"Snapshot directory {os.path.dirname(self.path)} is being written"
                f" by another fit (process {holder}); two writers would mix their"
                " snapshots. Wait for it to finish, or choose another snapshot_dir."
            ) from error
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return self

    def release(self):
        if self._handle is not None:
            self._handle.close()  # closing the file releases the flock
            self._handle = None


class SnapshotStore:
    """The snapshot directory of one ``fit``: what to resume, and the writer.

    Parameters
    ----------
    directory : SnapshotDirectory
        The directory.
    manifest : dict
        Its manifest, kept in step with the files.
    done_cycles : int
        Cycles of the current fit already in the directory (resume).
    """

    def __init__(self, directory, manifest, done_cycles):
        self.directory = directory
        self.manifest = manifest
        self.done_cycles = done_cycles
        self._lock = None

    def close(self):
        """Release the directory's lock: the fit is over."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    @property
    def plans(self):
        """The :class:`~skl_snapshot._plan.FitPlan` of every fit of the run."""
        return [FitPlan.from_json(plan) for plan in self.manifest["fits"]]

    @property
    def plan(self):
        """The plan of the newest fit."""
        return self.plans[-1]

    @classmethod
    def open(cls, path, header, plan, *, resume, overwrite, continues_run=None):
        """Prepare ``path`` for a fit and say where training starts.

        ``continues_run`` is the run id of the fitted estimator that a warm start
        extends; its directory must be the one it wrote.
        """
        directory = SnapshotDirectory(path)
        lock = directory.lock()
        try:
            store = cls._open_locked(
                directory, header, plan, resume, overwrite, continues_run
            )
        except BaseException:
            lock.release()
            raise
        store._lock = lock
        return store

    @classmethod
    def _open_locked(cls, directory, header, plan, resume, overwrite, continues_run):
        if continues_run is not None:
            manifest = directory.read_manifest()
            directory.remove_orphans(manifest)
            if manifest.get("run_id") != continues_run:
                raise SnapshotDirectoryError(
                    f"warm_start=True appends to the snapshot directory of the"
                    f" first fit, but {directory.manifest_path} belongs to another"
                    " run."
                )
            plan = plan.replace(first_snapshot=len(manifest["snapshots"]))
            manifest["fits"].append(plan.to_json())
            directory.write_manifest(manifest)
            return cls(directory, manifest, 0)
        if resume and directory.exists():
            manifest = directory.read_manifest()
            mismatch = _first_mismatch(manifest, header, plan)
            if mismatch is None:
                directory.remove_orphans(manifest)
                last = FitPlan.from_json(manifest["fits"][-1])
                done = len(manifest["snapshots"]) - last.first_snapshot
                return cls(directory, manifest, done)
            if not overwrite:
                raise SnapshotDirectoryError(
                    f"resume=True, but {directory.manifest_path} records a run that"
                    f" differs from this fit: {mismatch}. Pass overwrite=True to"
                    " start a new run there, or choose another snapshot_dir."
                )
        manifest = directory.prepare(
            {**header, "fits": [plan.replace(first_snapshot=0).to_json()]},
            overwrite=overwrite,
        )
        return cls(directory, manifest, 0)

    def restore(self, network, optimizer):
        """Put the newest snapshot's weights and the optimizer state back."""
        self.directory.load_weights(network, self.manifest["snapshots"][-1])
        state = self.manifest.get("optimizer_state")
        newest = len(self.manifest["snapshots"]) - 1
        if state is None or state["after_snapshot"] != newest:
            raise SnapshotDirectoryError(
                f"{self.directory.manifest_path} records no optimizer state for its"
                " newest snapshot, so the run cannot be resumed exactly."
            )
        self.directory.load_optimizer_state(optimizer, network, state)

    def writer(self, network, optimizer, epoch_offset):
        """An ``on_snapshot`` hook writing each snapshot as its cycle ends."""

        def write(cycle, info):
            record = {
                "epoch": epoch_offset + info["epoch"],
                "learning_rate": info["learning_rate"],
                "loss": info["loss"],
            }
            self.directory.add_snapshot(self.manifest, network, optimizer, record)

        return write

    def record_averaged(self, network):
        """Write the averaged network of ``method="swa"``."""
        self.directory.write_averaged(self.manifest, network)

    def record_evaluation(self, evaluation):
        """Add the fitted estimator's evaluation of its snapshots to the manifest."""
        self.manifest["evaluation"] = evaluation
        self.directory.write_manifest(self.manifest)

    def lazy_weights(self):
        return SnapshotWeights(
            self.directory, self.manifest["snapshots"], self.manifest["architecture"]
        )


def _first_mismatch(manifest, header, plan):
    for key in _HEADER_KEYS_TO_MATCH:
        default = _HEADER_DEFAULTS.get(key)
        there = _without_names(manifest.get(key, default))
        if there != _without_names(header.get(key, default)):
            if key == "architecture":
                return "the network's architecture differs"
            return (
                f"{key} differs ({manifest.get(key)!r} there, {header.get(key)!r} now)"
            )
    return FitPlan.from_json(manifest["fits"][-1]).mismatch(plan)


def _without_names(config):
    """A config with layer and model names removed.

    Keras numbers default names per process (``dense_3``), so two builds of the
    same network differ in names only.
    """
    if isinstance(config, dict):
        return {k: _without_names(v) for k, v in config.items() if k != "name"}
    if isinstance(config, list | tuple):
        # JSON has no tuples: compare what the manifest would hold
        return [_without_names(item) for item in config]
    return config


_RECORD_FIELDS = {
    "index": int,
    "file": str,
    "sha256": str,
    "epoch": int,
    "learning_rate": (int, float),
    "loss": (int, float),
}
_MANIFEST_FIELDS = {
    "run_id": str,
    "architecture": (dict, type(None)),
    "n_features_in": int,
    "classes": (dict, type(None)),
    "loss": str,
    "estimator_params": dict,
    "fits": list,
    "snapshots": list,
    "optimizer_state": (dict, type(None)),
}


def _field_problem(record, fields, where):
    if not isinstance(record, dict):
        return f"{where} is not an object"
    for key, kind in fields.items():
        if key not in record:
            return f"{where} has no {key!r}"
        value = record[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return f"{where}[{key!r}] has the wrong type ({type(value).__name__})"
    return None


def _schema_problem(manifest):
    """What is missing or mistyped in a manifest, or None."""
    problem = _field_problem(manifest, _MANIFEST_FIELDS, "the manifest")
    if problem:
        return problem
    classes = manifest["classes"]
    if classes is None:
        if manifest.get("task", "classification") == "classification":
            return "a classifier's manifest needs its classes"
    elif not isinstance(classes.get("dtype"), str) or not isinstance(
        classes.get("values"), list
    ):
        return "classes needs a 'dtype' string and a 'values' list"
    if not manifest["fits"]:
        return "fits is empty"
    for number, plan in enumerate(manifest["fits"]):
        try:
            FitPlan.from_json(plan, f"fits[{number}]")
        except ValueError as error:
            return str(error)
    for number, record in enumerate(manifest["snapshots"]):
        problem = _field_problem(record, _RECORD_FIELDS, f"snapshots[{number}]")
        if problem:
            return problem
    state = manifest["optimizer_state"]
    if state is not None:
        fields = {"file": str, "sha256": str, "after_snapshot": int}
        return _field_problem(state, fields, "optimizer_state")
    return None
