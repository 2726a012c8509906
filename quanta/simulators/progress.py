"""Progress of a long generation: a rich bar on a terminal, a few plain lines elsewhere.

On a terminal the bar shows jets done / total, the rate and the time left. When
stdout is a file or a pipe (batch jobs, CI logs) it prints a line at the start
and at every quarter, so logs stay short. ``enabled=False`` prints nothing.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class GenerationProgress:
    """Counts items (jets) done out of ``total``; use as a context manager."""

    def __init__(self, total: int, label: str, unit: str = "jets", enabled: bool = True,
                 stream: TextIO | None = None):
        self.total = total
        self.label = label
        self.unit = unit
        self.enabled = enabled
        self.stream = stream or sys.stdout
        self.done = 0
        self._bar = None
        self._next_quarter = 1

    def __enter__(self) -> GenerationProgress:
        self._start = time.perf_counter()
        if not self.enabled:
            return self
        if self.stream.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TaskProgressColumn(), TextColumn("{task.fields[rate]}"),
                                 TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=Console(file=self.stream))
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total, rate="")
        else:
            print(f"{self.label}: 0/{self.total:,} {self.unit}", file=self.stream, flush=True)
        return self

    def advance(self, count: int) -> None:
        self.done += count
        if not self.enabled:
            return
        rate = f"{self.done / max(time.perf_counter() - self._start, 1e-9):,.0f} {self.unit}/s"
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, rate=rate)
            return
        crossed = False
        while self._next_quarter <= 4 and self.done * 4 >= self._next_quarter * self.total:
            self._next_quarter += 1
            crossed = True
        if crossed:
            print(f"{self.label}: {self.done:,}/{self.total:,} {self.unit} ({rate})", file=self.stream,
                  flush=True)

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
