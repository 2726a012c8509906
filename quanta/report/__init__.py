"""Report: the self-contained HTML page of a run.

``write_report(run_dir)`` reads a run directory (config, environment,
metrics, histories, predictions) and writes ``run_dir/report.html``, one file
with every figure embedded, that opens in any browser without a network::

    from quanta.report import write_report
    write_report("runs/top-tagging/2025-06-01T12-00-00")

This package never imports torch; matplotlib is imported when figures are drawn.
"""

from __future__ import annotations

from quanta.report.html import write_report
from quanta.report.rundir import RunRecord, read_run

__all__ = ["RunRecord", "read_run", "write_report"]
