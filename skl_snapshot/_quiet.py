"""Importing TensorFlow without its C++ start-up lines on standard error.

TensorFlow's native start-up notices (oneDNN, CUDA drivers, CPU features, a
failed ``cuInit``) go through absl logging before it is initialised, which
ignores ``TF_CPP_MIN_LOG_LEVEL``, and some come only when the devices are first
set up. The first public name a process asks of ``skl_snapshot`` imports
TensorFlow with file descriptor 2 sent to /dev/null, and the first fit sets up
its devices the same way once it has chosen TensorFlow's thread pools (they
cannot change after that); neither happens if TensorFlow was already imported
(the user's own import shows what it shows) or ``SKL_SNAPSHOT_TF_LOGS=1`` asks
for TensorFlow's logs.
"""

import contextlib
import os
import sys

__all__ = ["import_tensorflow_quietly", "tensorflow_set_up_quietly"]

LOGS_VARIABLE = "SKL_SNAPSHOT_TF_LOGS"


@contextlib.contextmanager
def native_stderr_silenced():
    """Send file descriptor 2 to /dev/null for the length of the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


#: Whether this module imported TensorFlow quietly, and so should set up its
#: devices quietly too; and whether it has.
_state = {"imported": False, "devices": False}


def import_tensorflow_quietly():
    """Import TensorFlow, quietly unless asked not to."""
    if "tensorflow" in sys.modules or os.environ.get(LOGS_VARIABLE) == "1":
        return
    with native_stderr_silenced():
        import tensorflow  # noqa: F401
    _state["imported"] = True


@contextlib.contextmanager
def tensorflow_set_up_quietly():
    """Around a fit's choice of TensorFlow's thread pools: the first time, if
    the import was quiet, the block and the set-up of the devices after it run
    with file descriptor 2 sent to /dev/null (setting up the devices starts
    the runtime, after which the pools cannot change)."""
    if not _state["imported"] or _state["devices"]:
        yield
        return
    _state["devices"] = True
    import tensorflow as tf

    with native_stderr_silenced():
        yield
        tf.config.list_logical_devices()
