"""Live progress of training: a rich bar on a terminal, plain epoch lines elsewhere.

The display never forces a device sync inside an epoch: it shows batches done
and samples/s while the epoch runs, and losses and the validation metric
(read once per epoch) when it ends.
"""

from __future__ import annotations

import sys
import time

from quanta.train.callbacks import Callback


def format_logs(logs: dict[str, float], keys: tuple[str, ...]) -> str:
    parts = []
    for key in keys:
        if key in logs:
            parts.append(f"{key} {logs[key]:.4f}")
    return "  ".join(parts)


class Progress(Callback):
    """Shows epoch, batch, loss, validation metric and samples/s for one network."""

    def __init__(self, label: str, epochs: int, batches_per_epoch: int, batch_size: int,
                 monitor: str, stream=None, live: bool | None = None):
        self.label = label
        self.epochs = epochs
        self.batches = batches_per_epoch
        self.batch_size = batch_size
        self.monitor = monitor
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self._bar = None
        self._next_refresh = 0.0

    def on_fit_start(self, trainer):
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[info]}"), TimeElapsedColumn(), transient=False)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.batches, info="")

    def on_epoch_start(self, trainer, epoch):
        self._start = time.perf_counter()
        if self._bar is not None:
            self._bar.update(self._task, completed=0,
                             description=f"{self.label} epoch {epoch}/{self.epochs}")

    def on_batch_end(self, trainer, batch):
        if self._bar is None:
            return
        now = time.perf_counter()
        if now < self._next_refresh:
            return
        self._next_refresh = now + 0.25
        rate = (batch + 1) * self.batch_size / max(now - self._start, 1e-9)
        self._bar.update(self._task, completed=batch + 1, info=f"{rate:,.0f} samples/s")

    def on_epoch_end(self, trainer, epoch, logs):
        keys = tuple(dict.fromkeys(("train_loss", "valid_loss", f"valid_{self.monitor}")))  # monitor "loss" once
        line = (f"{self.label} epoch {epoch}/{self.epochs}  {format_logs(logs, keys)}  "
                f"{logs.get('samples_per_second', 0):,.0f} samples/s")
        if self._bar is not None:
            self._bar.update(self._task, completed=self.batches, info=format_logs(logs, keys))
            self._bar.console.print(line)
        else:
            print(line, file=self.stream, flush=True)

    def on_fit_end(self, trainer):
        self._close()

    def _close(self):
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __del__(self):
        self._close()
