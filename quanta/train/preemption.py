"""Pre-emption by a batch system: SIGTERM or SIGUSR1 asks a run to save its place and stop.

A batch system warns a job before it takes the machine back: Slurm sends SIGTERM when it
pre-empts or cancels a job (and SIGUSR1 ahead of the time limit with ``--signal=USR1@120``),
HTCondor sends SIGTERM when it evicts one. :func:`handling` installs a handler for both signals
while a run works (``quanta.experiment.run_experiment`` holds it) and puts the previous handlers
back afterwards. What the handler does depends on where the run is:

- **while a network trains** (:func:`deferred`, held by ``Trainer.fit``) it only records the
  signal (:func:`requested`, a Python value: reading it costs no device sync). The trainer looks
  after every optimiser step, writes a checkpoint that holds its place inside the epoch and
  raises ``quanta.train.loop.TrainingPreempted``; the requeued command continues from that
  batch bit for bit.
- **anywhere else** (preparing data, a classical method fitting, scoring, writing the report,
  between methods) it raises :class:`Preempted` at once, as Ctrl-C raises KeyboardInterrupt.
  Every file of a run directory is written atomically, a method counts as finished only once its
  metrics are written, and every method is seeded, so what was cut short is redone exactly on
  the requeue; finished methods are kept.

The handler never raises twice, and never while a checkpoint is being written: a second signal
while the run saves its place or unwinds is recorded and otherwise ignored, so it cannot leave a
half-written file. Handlers can only be installed from the main thread; elsewhere
:func:`handling` changes nothing and the signals keep their previous meaning. A process forked
while they are installed (a data-generation worker) is ended by the signal as if they were not.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: the signals that ask a run to stop for a requeue
SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class Preempted(BaseException):
    """The batch system asked the run to stop (``signal``: its name, e.g. ``SIGTERM``).

    A ``BaseException``, as KeyboardInterrupt is, so that no ``except Exception`` on the way
    turns it into another error.
    """

    def __init__(self, signal_name: str):
        super().__init__(f"pre-empted by {signal_name}")
        self.signal = signal_name
        self.run_dir = None  # the run directory, when the run had one (set by the runner)


class _State:
    """The one process-wide record of the handlers and of the signal received."""

    installed = 0  # nesting depth of handling()
    deferring = 0  # nesting depth of deferred()
    received: str | None = None  # name of the first signal received
    raised = False  # a Preempted has been raised (or the trainer is stopping): never again
    owner = 0  # the process that installed the handlers (forked workers inherit them)


def _handler(number: int, frame) -> None:
    if os.getpid() != _State.owner:  # a forked worker (data generation): the signal's own meaning
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
        return
    name = signal.Signals(number).name
    if _State.received is None:
        _State.received = name
    if _State.deferring == 0 and not _State.raised:
        _State.raised = True
        raise Preempted(name)


def requested() -> str | None:
    """The name of the pre-emption signal received during this run, or None."""
    return _State.received


def stopping() -> None:
    """The caller stops for the signal received: later signals no longer raise."""
    _State.raised = True


@contextmanager
def handling(whole_process: bool = False) -> Iterator[None]:
    """Handle SIGTERM and SIGUSR1 as pre-emption while the block runs; restore the old handlers after.

    Nested uses share the outer one. Outside the main thread nothing is installed. With
    ``whole_process`` (the command line, whose block is all the process does) a process that
    stops for a pre-emption ignores further warnings until it exits instead: a batch system's
    second signal must not kill it on its way out.
    """
    if _State.installed or threading.current_thread() is not threading.main_thread():
        yield
        return
    _State.received, _State.raised, _State.deferring = None, False, 0
    previous = {number: signal.getsignal(number) for number in SIGNALS}
    _State.installed, _State.owner = 1, os.getpid()
    try:
        for number in SIGNALS:
            signal.signal(number, _handler)
        yield
    finally:
        stopped = _State.received is not None
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_IGN if whole_process and stopped else handler)
        _State.installed, _State.received, _State.raised = 0, None, False


@contextmanager
def deferred() -> Iterator[None]:
    """Within the block a signal is only recorded; the caller polls :func:`requested`.

    A signal recorded and not acted on by the end of the block raises :class:`Preempted` there.
    """
    _State.deferring += 1
    try:
        yield
    finally:
        _State.deferring -= 1
    if _State.installed and _State.deferring == 0 and _State.received and not _State.raised:
        _State.raised = True
        raise Preempted(_State.received)


__all__ = ["SIGNALS", "Preempted", "deferred", "handling", "requested", "stopping"]
