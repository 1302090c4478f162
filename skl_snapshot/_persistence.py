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
rebuilt with Keras' ``safe_mode`` enforced whatever the process' global setting
(no Lambda layers or arbitrary code), the weights are plain HDF5 arrays, the
optimizer state is an ``.npz`` read with ``allow_pickle=False``, and every file's
SHA-256 is checked before it is read. Nothing read is trusted: the manifest is
checked against a schema with limits (size, nesting, ranges, counts), symbolic
links are never followed, the network's variables are counted before they are
allocated, a weights file's datasets and an optimizer state's arrays are checked
against the network before any array is read, and non-finite weights are
refused. Every refusal is a :class:`SnapshotDirectoryError` naming the file.
"""

import contextlib
import errno
import hashlib
import json
import math
import os
import re
import stat
import sys
import tempfile
import threading
import uuid
import zipfile
from collections.abc import Sequence

import keras
import numpy as np
import sklearn
import tensorflow as tf

from ._plan import MAX_SAMPLES, MAX_STEPS, FitPlan

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
    r"(manifest\.json|averaged(-\d{3,})?\.weights\.h5|\.skl_snapshot\.lock"
    r"|snapshot-\d{3,}\.weights\.h5|optimizer(-\d{3,})?\.npz"
    r"|\.tmp-[0-9a-f]{32}(\.part|\.npz|\.weights\.h5)|\.tmp-probe-\w+)"
)


def owned(name):
    """Whether ``name`` is a file name this library writes."""
    return _OWNED_NAMES.fullmatch(name) is not None


#: What a directory may make a load read or allocate: far above what any fit
#: writes, far below what exhausts a machine. A manifest of a thousand snapshots
#: with their evaluation is about 20 MB.
MAX_MANIFEST_BYTES = 64 * 2**20
MAX_MANIFEST_DEPTH = 200
#: Largest weight magnitude loaded: no trained network comes near it, and float32
#: (at most 3.4e38) overflows at the first layer for any input above 3e8.
MAX_WEIGHT = 1e30
_WEIGHTS_FILE = re.compile(r"(snapshot-\d{3,}|averaged(-\d{3,})?)\.weights\.h5")
_OPTIMIZER_FILE = re.compile(r"optimizer(-\d{3,})?\.npz")
_SHA256 = re.compile(r"[0-9a-f]{64}")


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


#: Bytes of a classes array a manifest may ask for.
_MAX_LABEL_BYTES = 64 * 2**20
#: The Python type a JSON label has, for each dtype kind a manifest may record.
_LABEL_TYPES = {"b": (bool,), "i": (int,), "u": (int,), "f": (int, float), "U": (str,)}


def labels_from_json(record):
    """``classes_`` from :func:`labels_to_json` data.

    Raises
    ------
    ValueError
        Unless ``record`` holds a ``dtype`` of booleans, integers, finite floats
        or unicode strings (no object, structured, void or sub-array dtypes) and
        a flat list of ``values`` that the dtype holds exactly: a string longer
        than a ``<U`` dtype, an integer out of its range or a float where an
        integer belongs would be changed silently.
    """
    if not isinstance(record, dict):
        raise ValueError("classes is not an object")
    text, values = record.get("dtype"), record.get("values")
    if not isinstance(text, str) or not isinstance(values, list):
        raise ValueError("classes needs a 'dtype' string and a 'values' list")
    try:
        dtype = np.dtype(text)
    except (TypeError, ValueError, SyntaxError):
        raise ValueError(f"classes has an unknown dtype {text[:40]!r}") from None
    if dtype.kind not in _LABEL_TYPES or dtype.fields or dtype.subdtype:
        raise ValueError(
            f"classes has dtype {text[:40]!r}; labels are booleans, integers,"
            " floats or strings"
        )
    if len(values) * max(dtype.itemsize, 1) > _MAX_LABEL_BYTES:
        raise ValueError(
            f"classes would take more than {_MAX_LABEL_BYTES} bytes as {text!r}"
        )
    types = _LABEL_TYPES[dtype.kind]
    if not all(
        isinstance(value, types) and (bool in types or not isinstance(value, bool))
        for value in values
    ):
        raise ValueError(f"classes holds values that are not of dtype {text!r}")
    try:
        classes = np.asarray(values, dtype=dtype)
    except (OverflowError, TypeError, ValueError):
        raise ValueError(f"classes holds values out of the range of {text!r}") from None
    if dtype.kind == "f" and not np.isfinite(classes).all():
        raise ValueError("classes holds a label that is not finite")
    if classes.tolist() != values:
        raise ValueError(f"classes holds values that dtype {text!r} changes")
    return classes


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


#: Modules whose objects Keras rebuilds on its own; an object of any other module
#: must be registered in the loading process (``register_keras_serializable``).
_KERAS_MODULES = re.compile(r"keras(\..+)?|builtins")
#: Keras classes that run code or read files from elsewhere when they are
#: rebuilt: refused whatever ``safe_mode`` says (Keras before 3.9 did not apply it
#: everywhere, and ``keras.config.enable_unsafe_deserialization()`` turns it off
#: for the whole thread).
_CODE_CLASSES = frozenset({"Lambda", "__lambda__", "TFSMLayer", "TorchModuleWrapper"})


def _code_in_architecture(architecture):
    """What in a Keras config would run code or import a module, or None.

    Walks every object of the config, nested models included, without recursion.
    """
    registered = keras.saving.get_custom_objects()
    stack = [architecture]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        class_name = item.get("class_name")
        if isinstance(class_name, str) and class_name in _CODE_CLASSES:
            return f"a {class_name} object, which holds or loads Python code"
        module = item.get("module")
        if module is not None and not (
            isinstance(module, str) and _KERAS_MODULES.fullmatch(module)
        ):
            name = item.get("registered_name")
            if not (isinstance(name, str) and name in registered):
                return (
                    f"an object of module {str(module)[:80]!r}"
                    f" ({str(class_name)[:80]!r}) that this process has not"
                    " registered with keras.saving.register_keras_serializable"
                )
        stack.extend(item.values())
    return None


def _deserialize_deferred(architecture):
    """Rebuild a Keras object with safe mode forced on and the allocation of its
    variables deferred: ``(object, its uninitialised variables)``.

    Keras' ``safe_mode`` argument loses to a thread's global setting, which
    ``enable_unsafe_deserialization()`` sets; ``SafeModeScope`` is what Keras
    itself uses to impose it on nested objects. Inside a ``StatelessScope`` new
    variables get their shapes but no memory until ``_deferred_initialize``.
    """
    from keras.src.backend.common import global_state
    from keras.src.saving.serialization_lib import SafeModeScope

    pending = global_state.get_global_attribute(
        "uninitialized_variables", [], set_to_default=True
    )
    before = len(pending)
    try:
        with keras.StatelessScope(initialize_variables=False), SafeModeScope(True):
            built = keras.saving.deserialize_keras_object(architecture, safe_mode=True)
    finally:
        # ours to initialise or drop, never left for another scope to allocate
        variables = pending[before:]
        del pending[before:]
    return built, variables


def _itemsize(dtype):
    try:
        return np.dtype(dtype).itemsize
    except TypeError:  # bfloat16, float8_...: the number is the width in bits
        bits = re.search(r"\d+", str(dtype))
        return max(int(bits.group()) // 8, 1) if bits else 1


def load_network(architecture, source, max_bytes=None):
    """Rebuild a network from its config without running code from ``source``.

    Parameters
    ----------
    architecture : dict
        The network's Keras config.
    source : str
        The file it comes from, named in errors.
    max_bytes : int, optional
        Most bytes the network's variables may take, checked before they are
        allocated: the size of a weights file meant for it, which holds every
        variable.
    """
    problem = _code_in_architecture(architecture)
    if problem is not None:
        raise SnapshotDirectoryError(
            f"The architecture in {source} holds {problem}. Loading a snapshot"
            " directory never runs code from it: Lambda layers are refused"
            " (safe_mode, even where keras.config.enable_unsafe_deserialization()"
            " was called), and custom layers must be registered with"
            " keras.saving.register_keras_serializable in the loading process."
        )
    try:
        network, variables = _deserialize_deferred(architecture)
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
    size = sum(math.prod(v.shape) * _itemsize(v.dtype) for v in variables)
    if max_bytes is not None and size > max_bytes:
        raise SnapshotDirectoryError(
            f"The architecture in {source} describes a network of {size} bytes of"
            f" variables, more than its weights file holds ({max_bytes} bytes):"
            " refused before allocating them."
        )
    try:
        for variable in variables:
            variable._deferred_initialize()
    except Exception as error:  # the backend's allocation failed
        raise SnapshotDirectoryError(
            f"Cannot allocate the network described in {source}: {error}."
        ) from error
    return network


def _nesting_problem(value, limit):
    """Where ``value``, parsed JSON, nests deeper than ``limit``, or None."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return f"it nests objects and lists more than {limit} deep"
        stack.extend((child, depth + 1) for child in children)
    return None


def _open_regular(path, what):
    """A file object on ``path`` and its ``stat``, refusing what is not a regular
    file in the directory: a symbolic link is never followed."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None, None
    except OSError as error:
        raise SnapshotDirectoryError(f"Cannot read {what} {path}: {error}.") from error
    if stat.S_ISLNK(info.st_mode):
        raise SnapshotDirectoryError(
            f"{what.capitalize()} {path} is a symbolic link: links in a snapshot"
            " directory are never followed, since they may lead anywhere."
        )
    if not stat.S_ISREG(info.st_mode):
        raise SnapshotDirectoryError(
            f"{what.capitalize()} {path} is not a regular file."
        )
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as error:
        raise SnapshotDirectoryError(f"Cannot read {what} {path}: {error}.") from error
    handle = os.fdopen(descriptor, "rb")
    opened = os.fstat(handle.fileno())
    if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
        handle.close()
        raise SnapshotDirectoryError(
            f"{what.capitalize()} {path} was replaced while it was being read."
        )
    return handle, opened


def _digest_of(handle):
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def _weights_file_problem(path, network):
    """What makes the weights file ``path`` unfit for ``network``, or None.

    Reads the HDF5 metadata alone, never an array: every object must be reached
    by a hard link (no soft or external links, which lead to other files), every
    dataset must be a plain numeric array stored in the file with the shape of
    one of the network's variables, and all datasets together may hold no more
    values than the network has. Keras then matches the datasets to the
    variables one by one.
    """
    import h5py

    variables = list(network.variables)
    shapes = {tuple(variable.shape) for variable in variables}
    capacity = sum(math.prod(variable.shape) for variable in variables)
    most_objects = 64 + 16 * len(variables)
    objects = values = 0
    with h5py.File(path, "r") as handle:
        stack = [(handle, 0)]
        while stack:
            group, depth = stack.pop()
            problem = _attributes_problem(group)
            if problem:
                return problem
            for name in group:
                where = f"{group.name.rstrip('/')}/{name}"
                link = group.get(name, getlink=True)
                if not isinstance(link, h5py.HardLink):
                    return f"{where} is a link ({type(link).__name__}) to elsewhere"
                objects += 1
                if objects > most_objects:
                    return (
                        f"it holds more than {most_objects} objects, for a network"
                        f" of {len(variables)} variables"
                    )
                item = group[name]
                if isinstance(item, h5py.Group):
                    if depth >= 32:
                        return f"{where} is nested more than 32 groups deep"
                    stack.append((item, depth + 1))
                    continue
                if not isinstance(item, h5py.Dataset):
                    return f"{where} is neither a group nor a dataset"
                problem = _dataset_problem(item, where, shapes) or _attributes_problem(
                    item
                )
                if problem:
                    return problem
                values += item.size
                if values > capacity:
                    return (
                        f"its datasets hold more values than the network's {capacity}"
                    )
    return None


def _dataset_problem(dataset, where, shapes):
    dtype = dataset.dtype
    if dtype.kind not in "biuf" or dtype.fields or dtype.subdtype:
        return f"{where} holds {dtype}, not plain numbers"
    if dataset.is_virtual or dataset.external:
        return f"{where} keeps its values in another file"
    shape = dataset.shape
    if shape is None or tuple(shape) not in shapes:
        return f"{where} declares shape {shape}, which no variable of the network has"
    return None


def _attributes_problem(item):
    """HDF5 attributes hold names: a few values each, never an array."""
    for name in item.attrs:
        attribute = item.attrs.get_id(name)
        if attribute.shape is None or math.prod(attribute.shape) > 64:
            return f"{item.name} has an attribute {name[:40]!r} of {attribute.shape}"
    return None


def _weights_values_problem(network):
    """Whether the loaded weights are finite and of a magnitude a network can
    compute with."""
    for variable, array in zip(network.weights, network.get_weights(), strict=True):
        array = np.asarray(array)
        if array.dtype.kind in "biu":
            continue
        if array.dtype.kind != "f":
            array = array.astype(np.float32)
        if not np.isfinite(array).all():
            return f"variable {variable.path} holds NaN or infinite values"
        if array.size and np.abs(array).max() > MAX_WEIGHT:
            return (
                f"variable {variable.path} holds values beyond ±{MAX_WEIGHT:g}, which"
                " overflow float32 when the network predicts"
            )
    return None


def _optimizer_state_problem(path, optimizer):
    """What makes the ``.npz`` file ``path`` unfit for ``optimizer``'s variables,
    or None, from each array's header alone (its declared shape and dtype)."""
    expected = {f"{i}.npy": variable for i, variable in enumerate(optimizer.variables)}
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        names = [member.filename for member in members]
        if sorted(names) != sorted(expected):
            return (
                f"it holds arrays {_listing(names)}, but the optimizer has"
                f" {len(expected)} variables ({_listing(list(expected))})"
            )
        for member in members:
            variable = expected[member.filename]
            shape, want = tuple(variable.shape), np.dtype(_dtype_name(variable))
            with archive.open(member) as handle:
                version = np.lib.format.read_magic(handle)
                if version == (1, 0):
                    header = np.lib.format.read_array_header_1_0(handle)
                elif version == (2, 0):
                    header = np.lib.format.read_array_header_2_0(handle)
                else:
                    return f"{member.filename} is an .npy file of version {version}"
            stored, _, dtype = header
            if tuple(stored) != shape:
                return (
                    f"{member.filename} has shape {tuple(stored)}, its variable {shape}"
                )
            if dtype.kind not in "biuf" or not np.can_cast(dtype, want, "same_kind"):
                return f"{member.filename} holds {dtype}, its variable {want}"
            if member.file_size > math.prod(shape) * dtype.itemsize + 65536:
                return f"{member.filename} is larger than its shape says"
    return None


def _dtype_name(variable):
    try:
        return np.dtype(variable.dtype).name
    except TypeError:
        return "float32"


def _listing(names):
    shown = ", ".join(repr(name[:40]) for name in names[:5])
    return f"[{shown}{', ...' if len(names) > 5 else ''}]"


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
        """The manifest, checked for format, consistency and limits."""
        if not os.path.isdir(self.path):
            raise SnapshotDirectoryError(
                f"Snapshot directory {self.path} does not exist or is not a directory."
            )
        handle, info = _open_regular(self.manifest_path, "manifest")
        if handle is None:
            raise SnapshotDirectoryError(
                f"Snapshot directory {self.path} holds no {MANIFEST}: it is empty or"
                " was not written by skl_snapshot."
            )
        with handle:
            if info.st_size > MAX_MANIFEST_BYTES:
                raise SnapshotDirectoryError(
                    f"{self.manifest_path} is {info.st_size} bytes; a manifest is at"
                    f" most {MAX_MANIFEST_BYTES} bytes."
                )
            try:
                data = handle.read(MAX_MANIFEST_BYTES + 1)
            except OSError as error:
                raise SnapshotDirectoryError(
                    f"Cannot read {self.manifest_path}: {error}."
                ) from error
        if len(data) > MAX_MANIFEST_BYTES:
            raise SnapshotDirectoryError(
                f"{self.manifest_path} is more than {MAX_MANIFEST_BYTES} bytes."
            )
        try:
            manifest = json.loads(data.decode("utf-8"))
        except RecursionError:
            raise SnapshotDirectoryError(
                f"Cannot read {self.manifest_path}: it nests objects and lists"
                f" more than {MAX_MANIFEST_DEPTH} deep."
            ) from None
        except ValueError as error:  # not UTF-8, not JSON, an integer too long
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
                f" {_short(manifest.get('format_version'))}; this skl_snapshot reads"
                f" version {FORMAT_VERSION}."
            )
        problem = _nesting_problem(manifest, MAX_MANIFEST_DEPTH) or _schema_problem(
            manifest
        )
        if problem is not None:
            raise SnapshotDirectoryError(
                f"{self.manifest_path} is damaged or incomplete: {problem}."
            )
        return manifest

    def file_path(self, name, pattern=None):
        """Path of the file ``name`` that the manifest lists: a plain name in the
        directory, never a path outside it, and of the naming scheme's
        ``pattern`` (a compiled regular expression) if given."""
        if (
            not isinstance(name, str)
            or os.path.basename(name) != name
            or name in ("", ".", "..")
            or "\0" in name
        ):
            raise SnapshotDirectoryError(
                f"{self.manifest_path} names a file outside the directory:"
                f" {_short(name)}."
            )
        if pattern is not None and not pattern.fullmatch(name):
            raise SnapshotDirectoryError(
                f"{self.manifest_path} names a file {_short(name)} that is not of"
                f" the kind it should be ({pattern.pattern})."
            )
        return os.path.join(self.path, name)

    def verified_path(self, record, pattern=None):
        """Path of a file listed in the manifest, after checking that it is a
        regular file (not a link) and that its SHA-256 is the recorded one."""
        path = self.file_path(record["file"], pattern)
        handle, _ = _open_regular(path, "snapshot file")
        if handle is None:
            raise SnapshotDirectoryError(
                f"Snapshot file {path} listed in {self.manifest_path} is missing."
            )
        with handle:
            try:
                digest = _digest_of(handle)
            except OSError as error:
                raise SnapshotDirectoryError(
                    f"Cannot read snapshot file {path}: {error}."
                ) from error
        if digest != record["sha256"]:
            raise SnapshotDirectoryError(
                f"Snapshot file {path} is corrupted or truncated: its SHA-256 is"
                f" {digest}, the manifest records {_short(record['sha256'])}."
            )
        return path

    def weights_size(self, record):
        """Size in bytes of the weights file ``record`` lists (checked)."""
        return os.lstat(self.verified_path(record, _WEIGHTS_FILE)).st_size

    def load_weights(self, network, record):
        """Load one snapshot's weights, after checking them, into ``network``.

        The file's datasets are checked against the network's variables before
        any is read, and the weights after: NaN, infinite or overflowing
        weights are refused.
        """
        path = self.verified_path(record, _WEIGHTS_FILE)
        try:
            problem = _weights_file_problem(path, network)
        except Exception as error:  # h5py raises many types for a damaged file
            raise SnapshotDirectoryError(
                f"Cannot load snapshot file {path}: {error}."
            ) from error
        if problem is not None:
            raise SnapshotDirectoryError(
                f"Cannot load snapshot file {path} into the network: {problem}."
            )
        try:
            _load_model_weights(network, path)
        except Exception as error:  # h5py and Keras raise many types
            raise SnapshotDirectoryError(
                f"Cannot load snapshot file {path} into the network: {error}."
            ) from error
        problem = _weights_values_problem(network)
        if problem is not None:
            raise SnapshotDirectoryError(
                f"Snapshot file {path} holds weights no network can predict with:"
                f" {problem}."
            )

    def load_optimizer_state(self, optimizer, networks, record):
        """Restore optimizer variables saved with the newest snapshot, after
        checking each array's shape and dtype against the optimizer's variables
        and that its values are finite."""
        path = self.verified_path(record, _OPTIMIZER_FILE)
        # networks trained side by side share one optimizer, built on all of
        # their variables in order
        optimizer.build(
            [v for network in networks for v in network.trainable_variables]
        )
        try:
            problem = _optimizer_state_problem(path, optimizer)
            if problem is None:
                with np.load(path, allow_pickle=False) as state:
                    store = {key: state[key] for key in state.files}
                if not all(
                    array.dtype.kind in "biu" or np.isfinite(array).all()
                    for array in store.values()
                ):
                    problem = "it holds NaN or infinite values"
        except Exception as error:  # zipfile and NumPy raise many types
            raise SnapshotDirectoryError(
                f"Cannot read optimizer state {path}: {error}."
            ) from error
        if problem is not None:
            raise SnapshotDirectoryError(
                f"Optimizer state {path} does not fit this optimizer: {problem}."
            )
        try:
            optimizer.load_own_variables(store)
        except Exception as error:  # Keras raises ValueError, KeyError, ...
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
                for record in file_records(manifest.get(extra)):
                    named.add(record["file"])
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

    def add_snapshots(self, manifest, networks, optimizer, infos):
        """Write one cycle's snapshots (one per network) and the optimizer state,
        commit the manifest, then remove the optimizer state it no longer names."""
        records = []
        for network, info in zip(networks, infos, strict=True):
            index = len(manifest["snapshots"]) + len(records)
            name = f"snapshot-{index:03d}.weights.h5"
            with self._writing(name):
                weights_path = self._write_weights(network, name)
            record = {"index": index, "file": name, "sha256": sha256_of(weights_path)}
            record.update(info)
            records.append(record)

        store = {}
        optimizer.save_own_variables(store)
        newest = records[-1]["index"]
        state_name = _optimizer_state_name(newest)
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
        manifest["snapshots"].extend(records)
        manifest["optimizer_state"] = {
            "file": state_name,
            "sha256": sha256_of(state_path),
            "after_snapshot": newest,
        }
        self.write_manifest(manifest)
        if previous is not None and previous["file"] != state_name:
            self._remove_owned([previous["file"]])
        return records

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

    def write_averaged(self, manifest, network, averages):
        """Write the averaged (SWA) networks, one per network trained, through
        ``network``, then commit. One network: ``averaged.weights.h5`` and one
        record; several: ``averaged-NNN.weights.h5`` and a list of records."""
        records = []
        for k, weights in enumerate(averages):
            name = (
                AVERAGED_WEIGHTS
                if len(averages) == 1
                else f"averaged-{k:03d}.weights.h5"
            )
            network.set_weights(weights)
            with self._writing(name):
                weights_path = self._write_weights(network, name)
            records.append({"file": name, "sha256": sha256_of(weights_path)})
        manifest["averaged"] = records[0] if len(records) == 1 else records
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
                self._network = load_network(
                    self.architecture,
                    self.directory.manifest_path,
                    max_bytes=self.directory.weights_size(self.records[index]),
                )
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
                snapshots = len(manifest["snapshots"]) - last.first_snapshot
                return cls(directory, manifest, snapshots // last.n_networks)
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

    def restore(self, networks, optimizer):
        """Put the newest cycle's snapshots (one per network, in order) and the
        optimizer state back."""
        newest_cycle = self.manifest["snapshots"][-len(networks) :]
        for network, record in zip(networks, newest_cycle, strict=True):
            self.directory.load_weights(network, record)
        state = self.manifest.get("optimizer_state")
        newest = len(self.manifest["snapshots"]) - 1
        if state is None or state["after_snapshot"] != newest:
            raise SnapshotDirectoryError(
                f"{self.directory.manifest_path} records no optimizer state for its"
                " newest snapshot, so the run cannot be resumed exactly."
            )
        self.directory.load_optimizer_state(optimizer, networks, state)

    def writer(self, networks, optimizer, epoch_offset):
        """An ``on_snapshot`` hook writing each cycle's snapshots (one per
        network) as the cycle ends, committed together."""

        def write(cycle, info):
            records = [
                {
                    "epoch": epoch_offset + info["epoch"],
                    "learning_rate": info["learning_rate"],
                    "loss": loss,
                }
                for loss in info.get("losses", [info["loss"]])
            ]
            self.directory.add_snapshots(self.manifest, networks, optimizer, records)

        return write

    def record_averaged(self, network, averages):
        """Write the averaged networks of ``method="swa"``."""
        self.directory.write_averaged(self.manifest, network, averages)

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
    same network differ in names only. A functional model also refers to its
    layers by name (``keras_history``, ``input_layers``, ``output_layers``):
    those references become the layer's position, so that two builds compare
    equal while a rewiring does not.
    """
    positions = {}
    _layer_positions(config, positions)
    return _renamed(config, positions)


def _layer_positions(config, positions):
    """Map every layer name in ``config`` to a token of its position."""
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            layers = (
                item.get("config", {}).get("layers")
                if isinstance(item.get("config"), dict)
                else None
            )
            if isinstance(layers, list):
                for index, layer in enumerate(layers):
                    if isinstance(layer, dict) and isinstance(layer.get("name"), str):
                        positions.setdefault(layer["name"], f"<layer {index}>")
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def _renamed(config, positions):
    if isinstance(config, dict):
        return {
            key: _renamed(value, positions)
            for key, value in config.items()
            if key != "name"
        }
    if isinstance(config, list | tuple):
        # JSON has no tuples: compare what the manifest would hold
        return [_renamed(item, positions) for item in config]
    if isinstance(config, str):
        return positions.get(config, config)
    return config


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


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
_OPTIONAL_FIELDS = {
    "task": str,
    "feature_names_in": (list, type(None)),
    "averaged": (dict, list, type(None)),
    "evaluation": (dict, type(None)),
    "target": (dict, type(None)),
}
_FILE_FIELDS = {"file": str, "sha256": str}


def _field_problem(record, fields, where, optional=False):
    """The first field of ``record`` missing (unless ``optional``) or not of its
    type; a boolean is never a number."""
    if not isinstance(record, dict):
        return f"{where} is not an object"
    for key, kind in fields.items():
        if key not in record:
            if optional:
                continue
            return f"{where} has no {key!r}"
        value = record[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (
            isinstance(value, bool) and bool not in kinds
        ):
            return f"{where}[{key!r}] has the wrong type ({type(value).__name__})"
    return None


def _schema_problem(manifest):
    """What is missing, mistyped, out of range or inconsistent in a manifest, or
    None."""
    problem = _field_problem(
        manifest, _MANIFEST_FIELDS, "the manifest"
    ) or _field_problem(manifest, _OPTIONAL_FIELDS, "the manifest", optional=True)
    if problem:
        return problem
    return (
        _header_problem(manifest)
        or _plans_problem(manifest["fits"], len(manifest["snapshots"]))
        or _snapshots_problem(manifest)
        or _files_problem(manifest)
    )


def _header_problem(manifest):
    classes = manifest["classes"]
    if classes is None:
        if manifest.get("task", "classification") == "classification":
            return "a classifier's manifest needs its classes"
    elif not isinstance(classes.get("dtype"), str) or not isinstance(
        classes.get("values"), list
    ):
        return "classes needs a 'dtype' string and a 'values' list"
    n_features = manifest["n_features_in"]
    if not 1 <= n_features <= MAX_SAMPLES:
        return f"n_features_in is {_short(n_features)}, not between 1 and {MAX_SAMPLES}"
    names = manifest.get("feature_names_in")
    if names is not None and (
        len(names) != n_features or not all(isinstance(name, str) for name in names)
    ):
        return f"feature_names_in is not a list of {n_features} strings"
    # the values of the estimator's parameters are checked as fit checks them
    if not isinstance(manifest["estimator_params"].get("built_in_network", True), bool):
        return "estimator_params['built_in_network'] is not a boolean"
    return None


def _plans_problem(fits, n_snapshots):
    """The fits' plans must be valid, their steps bounded, and the snapshots must
    be what their cycles made: each fit made at most one a cycle and network,
    whole cycles."""
    if not fits:
        return "fits is empty"
    plans = []
    for number, record in enumerate(fits):
        try:
            plans.append(FitPlan.from_json(record, f"fits[{number}]"))
        except ValueError as error:
            return str(error)
    steps = sum(sum(plan.cycle_steps) for plan in plans)
    if steps > MAX_STEPS:
        return f"the fits take {steps} optimizer steps, more than {MAX_STEPS}"
    if plans[0].first_snapshot != 0:
        return "fits[0]['first_snapshot'] is not 0"
    ends = [plan.first_snapshot for plan in plans[1:]] + [n_snapshots]
    for number, (plan, end) in enumerate(zip(plans, ends, strict=True)):
        made = end - plan.first_snapshot
        if not 0 <= made <= plan.n_cycles * plan.n_networks or (made % plan.n_networks):
            return (
                f"fits[{number}] of {plan.n_cycles} cycles of {plan.n_networks}"
                f" networks is followed by {made} snapshots (snapshots"
                f" {plan.first_snapshot} to {end - 1})"
            )
    return None


def _snapshots_problem(manifest):
    """Each record at its position, once, epochs increasing within the fits'
    epochs (the networks of a cycle share theirs), rates and losses finite."""
    last_epoch = max(
        plan.get("epoch_offset", 0) + plan["epochs"] for plan in manifest["fits"]
    )
    previous, names = 0, set()
    for number, record in enumerate(manifest["snapshots"]):
        where = f"snapshots[{number}]"
        problem = _field_problem(record, _RECORD_FIELDS, where)
        if problem:
            return problem
        if record["index"] != number:
            return f"{where}['index'] is {_short(record['index'])}, not {number}"
        if not (previous < record["epoch"] or previous == record["epoch"] > 0) or (
            record["epoch"] > last_epoch
        ):
            return (
                f"{where}['epoch'] is {_short(record['epoch'])}: epochs increase"
                f" from cycle to cycle, up to the fits' {last_epoch}"
            )
        previous = record["epoch"]
        for key in ("learning_rate", "loss"):
            if not math.isfinite(record[key]):
                return f"{where}[{key!r}] is not finite"
        if record["learning_rate"] < 0:
            return f"{where}['learning_rate'] is negative"
        if not _SHA256.fullmatch(record["sha256"]):
            return f"{where}['sha256'] is not a SHA-256 in hexadecimal"
        if record["file"] in names:
            return f"{where}['file'] {_short(record['file'])} is listed twice"
        names.add(record["file"])
    return None


def _files_problem(manifest):
    state = manifest["optimizer_state"]
    if state is not None:
        fields = {**_FILE_FIELDS, "after_snapshot": int}
        problem = _field_problem(state, fields, "optimizer_state")
        if problem:
            return problem
        # resume checks that it is the newest snapshot
        if state["after_snapshot"] < 0:
            return "optimizer_state['after_snapshot'] is negative"
    averaged = manifest.get("averaged")
    if isinstance(averaged, list) and not 2 <= len(averaged) <= 1024:
        return "averaged lists fewer than 2 or more than 1024 networks"
    if isinstance(averaged, list) and len(averaged) != _n_networks(manifest):
        return "averaged lists another number of networks than the fits train"
    for key in ("optimizer_state", "averaged"):
        value = manifest.get(key)
        for number, record in enumerate(file_records(value)):
            where = f"{key}[{number}]" if isinstance(value, list) else key
            problem = _field_problem(record, _FILE_FIELDS, where)
            if problem:
                return problem
            if not _SHA256.fullmatch(record["sha256"]):
                return f"{where}['sha256'] is not a SHA-256 in hexadecimal"
    return None


def file_records(value):
    """A manifest entry naming files: one record, a list of them, or None."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _n_networks(manifest):
    last = manifest["fits"][-1]
    return last.get("n_networks", 1) if isinstance(last, dict) else 1
