"""``quanta label-scan``: the test metric against the number of labels, each method beside the others.

The question of semi-supervised learning is how many labels a method needs: an
experiment of task ``semi_supervised`` (any task with a ``labelled``
parameter) is run once per fraction of kept labels, overriding
``task_params.labelled`` (and a method's own, where it sets one), into its
own run directory ``<out>/<name>-labels/<fraction>/`` (a scan run again
continues or keeps them, as ``quanta run --run-dir`` does). With ``--repeat N``
every method is trained N times per fraction (:mod:`quanta.repeats`), so the
spread of initialisations shows beside the gain from unlabelled data.

It then writes, in ``<out>/<name>-labels/``:

- ``label_scan.json``: per method and fraction the number of labelled training samples and
  the test metric (the task's monitored one, or ``--metric``): every repeat's value, the
  mean and the standard deviation (ddof 1; null with one repeat);
- ``label_scan.png``: the metric against the number of labels (log axis), one line per
  method, error bars of ±1 std; a labelled-only baseline (``unlabelled_weight: 0``) dashed;
- ``label_scan.html``: the figure and the table, linking every fraction's run report.
"""

from __future__ import annotations

import inspect
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from quanta.errors import UserError

SCAN_FILE = "label_scan.json"
FIGURE_FILE = "label_scan.png"
PAGE_FILE = "label_scan.html"


def parse_fractions(text: str) -> list[float]:
    """``"0.005,0.01,0.2"`` -> fractions in (0, 1], sorted, or a one-line error naming ``--labelled``."""
    fractions = []
    for item in (part.strip() for part in str(text).split(",")):
        try:
            value = float(item)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 < value <= 1):
            raise UserError(f"--labelled: '{item}' is not a fraction in (0, 1]; give the fractions of "
                            "the train split whose labels are kept, e.g. 0.005,0.01,0.05,0.2")
        fractions.append(value)
    if len(set(fractions)) != len(fractions):
        raise UserError(f"--labelled: {text} names a fraction twice; give each once")
    return sorted(fractions)


def _checked_experiment(experiment: str | Path, metric: str | None) -> tuple[dict[str, Any], Any, str]:
    """The raw experiment, its resolved config and the metric to scan, or a one-line error."""
    from quanta.config import read_experiment, resolve
    from quanta.tasks import TASKS

    raw = read_experiment(experiment)
    config = resolve(raw)
    if "labelled" not in inspect.signature(TASKS.get(config.task)).parameters:
        raise UserError(f"{experiment}: task '{config.task}' keeps every label (it has no parameter "
                        "labelled); a label scan needs task semi_supervised")
    task = TASKS.create(config.task, where="task_params", **config.task_params)
    if metric is None:
        metric = task.monitor
    return raw, config, metric


def _with_fraction(raw: dict[str, Any], fraction: float) -> dict[str, Any]:
    """The raw experiment with ``labelled: fraction`` for the task and every method that sets its own."""
    scanned = json.loads(json.dumps(raw))
    scanned["task_params"] = {**(scanned.get("task_params") or {}), "labelled": fraction}
    for entry in scanned.get("methods") or []:
        if isinstance(entry, dict) and "labelled" in (entry.get("task_params") or {}):
            entry["task_params"]["labelled"] = fraction
    return scanned


def fraction_name(fraction: float) -> str:
    """A fraction's folder name: ``0.005``, ``0.01``, ``1``."""
    return f"{fraction:g}"


def label_scan(experiment: str | Path, fractions: list[float], out: str | Path | None = None,
               repeat: int | None = None, seed: int | None = None, metric: str | None = None,
               device: str | None = None, verbose: bool = True) -> Path:
    """Run ``experiment`` once per fraction of kept labels; write the scan's JSON, figure and page.

    Returns the scan folder ``<out>/<name>-labels``. Every argument is checked before any
    training: a fraction outside (0, 1], a task without ``labelled``, an unknown ``metric``
    (after the first fraction's run, naming the metrics there are).
    """
    from quanta.experiment import run_experiment

    if not fractions:
        raise UserError("--labelled: give at least one fraction, e.g. 0.005,0.01,0.05,0.2")
    for fraction in fractions:
        if not (isinstance(fraction, (int, float)) and math.isfinite(fraction) and 0 < fraction <= 1):
            raise UserError(f"--labelled: {fraction} is not a fraction in (0, 1]")
    raw, config, metric = _checked_experiment(experiment, metric)
    folder = Path(out if out is not None else config.output) / f"{config.name}-labels"
    say = print if verbose else (lambda *a, **k: None)
    runs: dict[float, Path] = {}
    for fraction in sorted(fractions):
        run_dir = folder / fraction_name(fraction)
        say(f"label scan: labelled {fraction:g} -> {run_dir}")
        run = run_experiment(_with_fraction(raw, fraction), run_dir=run_dir, repeat=repeat, seed=seed,
                             device=device, verbose=verbose)
        runs[fraction] = run.directory
    record = scan_record(config.name, metric, runs)
    _write_atomic(folder / SCAN_FILE, json.dumps(record, indent=2, allow_nan=False).encode())
    write_scan_page(folder, record)
    say(scan_table(record))
    return folder


def _labelled_count(run_path: Path, config: dict[str, Any], method: str) -> int:
    """The number of training samples that kept their labels in a run (the task draws them again
    from the saved true labels of the train split)."""
    from quanta.rundir import RunDirectory
    from quanta.tasks import TASKS

    predictions = RunDirectory.open(run_path).method(method).read_predictions()
    task = TASKS.create(config["task"], where="task_params", **config.get("task_params", {}))
    if "train_y" not in predictions:
        return 0
    return int(len(task.kept(np.asarray(predictions["train_y"]).astype(np.int64), "data.split train")))


def scan_record(name: str, metric: str, runs: dict[float, Path], split: str = "test") -> dict[str, Any]:
    """``label_scan.json``: per method and fraction the labelled count and the metric's values."""
    from quanta.rundir import RunDirectory

    methods: dict[str, list[dict[str, Any]]] = {}
    baselines: set[str] = set()
    known: set[str] = set()
    for fraction, path in sorted(runs.items()):
        run = RunDirectory.open(path)
        config = run.read_config()
        metrics = run.read_metrics()
        repeats = run.read_repeats()
        count = None
        for entry in config.get("methods", []):
            method = entry["name"]
            if {**config.get("task_params", {}), **(entry.get("task_params") or {})}.get(
                    "unlabelled_weight", 1) == 0:
                baselines.add(method)
            if count is None:
                count = _labelled_count(path, config, method)
            if repeats is not None:
                found = repeats["methods"].get(method, {}).get("metrics", {}).get(split, {}).get(metric)
                values = found["values"] if found else []
            else:
                value = metrics.get(method, {}).get(split, {}).get(metric)
                values = [value] if isinstance(value, (int, float)) else []
            known.update(metrics.get(method, {}).get(split, {}))
            values = [float(v) for v in values if math.isfinite(v)]
            methods.setdefault(method, []).append({
                "fraction": fraction, "labelled": count, "run": str(path),
                "values": values, "mean": float(np.mean(values)) if values else None,
                "std": float(np.std(values, ddof=1)) if len(values) > 1 else None})
    if not any(point["values"] for points in methods.values() for point in points):
        raise UserError(f"--metric: no method has a {split} metric '{metric}'; there are "
                        f"{', '.join(sorted(known)) or 'none'}")
    return {"experiment": name, "metric": metric, "split": split, "fractions": sorted(runs),
            "baselines": sorted(baselines), "methods": methods}


def scan_figure(record: dict[str, Any]):
    """The metric against the number of labels: one line per method, ±1 std bars, baselines dashed."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.4))
    axes = fig.add_subplot()
    for method, points in record["methods"].items():
        shown = [p for p in points if p["mean"] is not None]
        if not shown:
            continue
        x = [max(p["labelled"] or 0, 1) for p in shown]
        y = [p["mean"] for p in shown]
        error = [p["std"] or 0.0 for p in shown]
        baseline = method in record["baselines"]
        axes.errorbar(x, y, yerr=error, marker="o", capsize=3, linestyle="--" if baseline else "-",
                      label=f"{method} (labelled only)" if baseline else method)
    axes.set_xscale("log")
    axes.set_xlabel("labelled training samples")
    axes.set_ylabel(f"{record['split']} {record['metric']}")
    axes.set_title(f"{record['experiment']}: {record['metric']} against the number of labels")
    axes.grid(alpha=0.3)
    axes.legend()
    fig.tight_layout()
    return fig


def scan_table(record: dict[str, Any]) -> str:
    """Plain text: one row per method, one column per fraction, mean ± std of the metric."""
    columns = [fraction_name(f) for f in record["fractions"]]
    rows = [[f"{record['metric']} / labelled", *columns]]
    for method, points in record["methods"].items():
        cells = []
        for point in points:
            if point["mean"] is None:
                cells.append("—")
            else:
                spread = f" ± {point['std']:.4f}" if point["std"] is not None else ""
                cells.append(f"{point['mean']:.4f}{spread} ({point['labelled']})")
        rows.append([method, *cells])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def write_scan_page(folder: Path, record: dict[str, Any]) -> Path:
    """Write ``label_scan.png`` and ``label_scan.html`` (figure and table) into ``folder``."""
    from quanta.report.figure_files import png_bytes
    from quanta.report.html import _figure_block, page
    from quanta.report.markup import escaped

    _write_atomic(folder / FIGURE_FILE, png_bytes(scan_figure(record)))
    figure = _figure_block("Test metric against the number of labels",
                           f"The {escaped(record['split'])} {escaped(record['metric'])} of every method "
                           "(mean ± 1 std over repeated trainings where there are several) against the "
                           "number of training samples whose labels were kept; dashed: a labelled-only "
                           "baseline.", lambda: scan_figure(record))
    head = "".join(f"<th>{escaped(fraction_name(f))}</th>" for f in record["fractions"])
    rows = []
    for method, points in record["methods"].items():
        cells = []
        for point in points:
            report = Path(point["run"]) / "report.html"
            text = "—" if point["mean"] is None else f"{point['mean']:.4f}" + (
                f" ± {point['std']:.4f}" if point["std"] is not None else "")
            link = os.path.relpath(report, folder)
            cells.append(f'<td><a href="{escaped(link)}">{escaped(text)}</a> '
                         f"({escaped(point['labelled'])} labels)</td>")
        rows.append(f"<tr><th>{escaped(method)}</th>{''.join(cells)}</tr>")
    table = (f"<h2>Values</h2><table><tr><th>method / labelled fraction</th>{head}</tr>"
             f"{''.join(rows)}</table>")
    facts = [f"label scan of {len(record['fractions'])} fractions", f"metric {record['metric']}"]
    html = page(f"{record['experiment']} — quanta label scan", record["experiment"], facts, folder, None,
                "<h2>Figure</h2>" + figure + table, SCAN_FILE)
    target = folder / PAGE_FILE
    _write_atomic(target, html.encode("utf-8"))
    return target


def _write_atomic(target: Path, payload: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        partial.write_bytes(payload)
        os.replace(partial, target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise UserError(f"{target}: cannot be written ({error.strerror or error})") from None


def label_scan_command(args: Any) -> int:
    """``quanta label-scan``: the scan's folder printed last."""
    folder = label_scan(args.experiment, parse_fractions(args.labelled), out=args.out, repeat=args.repeat,
                        seed=args.seed, metric=args.metric, device=args.device)
    print(folder / PAGE_FILE)
    return 0


__all__ = ["label_scan", "label_scan_command", "parse_fractions", "scan_record", "write_scan_page"]
