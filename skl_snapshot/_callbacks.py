"""The Keras callback that takes a snapshot at the end of every cycle."""

import math
import sys
import time

import keras
import numpy as np

__all__ = ["SnapshotRecorder"]


class SnapshotRecorder(keras.callbacks.Callback):
    """Copy the network's weights to host NumPy arrays at the end of every cycle.

    The training loop reports each cycle to Keras callbacks as one epoch, so
    ``on_epoch_end`` is the end of a cycle. The copies are independent of the live
    variables: later training does not change them.

    Parameters
    ----------
    cycle_epochs : list of int
        Epochs of each cycle, to report the epoch at which a snapshot was taken.
    schedule : callable
        The learning-rate schedule, evaluated at the cycle's last iteration.
    verbose : int
        If > 0, print one line per finished cycle to standard output.
    keep_weights : bool, default=True
        Whether to keep the copies in memory; False when they live on disk only.
    on_snapshot : callable or None, default=None
        Called as ``on_snapshot(cycle, info)`` after each snapshot, with ``info``
        holding its epoch, learning rate and loss; writes it to disk, say.
    first_cycle : int, default=0
        Index of the first cycle this training run executes (when resuming).
    networks : list of keras.Model or None, default=None
        Networks trained side by side, each giving a snapshot per cycle, in this
        order; None: the model the callback is attached to. The logs' ``losses``
        then hold each network's loss.

    Attributes
    ----------
    weights : list of list of ndarray
        One entry per snapshot (per network of each finished cycle): the weights,
        as ``get_weights`` lists them.
    losses : list of float
        Mean training loss over each cycle's mini-batches, per snapshot.
    learning_rates : list of float
        Learning rate of the last iteration of each cycle, per snapshot.
    diverged : bool
        True if a cycle ended with a non-finite loss; training then stops.
    """

    def __init__(
        self,
        cycle_epochs,
        schedule,
        verbose=0,
        keep_weights=True,
        on_snapshot=None,
        first_cycle=0,
        networks=None,
    ):
        super().__init__()
        self._networks = networks
        self.cycle_epochs = list(cycle_epochs)
        self.schedule = schedule
        self.verbose = verbose
        self.keep_weights = keep_weights
        self.on_snapshot = on_snapshot
        self.first_cycle = first_cycle
        self.weights = []
        self.losses = []
        self.learning_rates = []
        self.diverged = False
        self._started = time.perf_counter()

    @property
    def networks(self):
        return self._networks if self._networks is not None else [self.model]

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        loss = float(logs.get("loss", math.nan))
        losses = [float(value) for value in logs.get("losses", [loss])]
        last_step = int(self.model.optimizer.iterations.numpy()) - 1
        if self.keep_weights:
            for network in self.networks:
                self.weights.append(
                    [np.array(w, copy=True) for w in network.get_weights()]
                )
        rate = float(self.schedule(last_step))
        self.losses.extend(losses)
        self.learning_rates.extend([rate] * len(losses))
        if not all(math.isfinite(value) for value in losses):
            self.diverged = True
            self.model.stop_training = True
        elif self.on_snapshot is not None:
            info = {
                "cycle": epoch,
                "epoch": int(sum(self.cycle_epochs[: epoch + 1])),
                "learning_rate": rate,
                "loss": loss,
                "losses": losses,
            }
            self.on_snapshot(epoch, info)
        if self.verbose > 0:
            self._report(epoch, loss)

    def _report(self, cycle, loss):
        n_cycles = len(self.cycle_epochs)
        done = sum(self.cycle_epochs[: cycle + 1])
        total = sum(self.cycle_epochs)
        skipped = sum(self.cycle_epochs[: self.first_cycle])
        elapsed = time.perf_counter() - self._started
        remaining = elapsed / (done - skipped) * (total - done)
        print(
            f"cycle {cycle + 1}/{n_cycles}: epoch {done}/{total},"
            f" loss {loss:.4f}, lr {self.learning_rates[-1]:.3g},"
            f" {elapsed:.1f}s elapsed, ~{remaining:.1f}s left",
            file=sys.stdout,
            flush=True,
        )
