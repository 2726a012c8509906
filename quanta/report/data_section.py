"""The report's Data section: the events every method shares, then each method's inputs.

The shared table gives the source, the number of samples, the classes or
targets, the selection, derived variables, weights and whether the metrics are
weighted (read from each method's ``predictions.npz``). The inputs table gives
each method's view of the data: the experiment's ``data:`` with the method's
own ``methods[].data:`` on top (view, features, collections, pad length, sort),
and the size of one sample.
"""

from __future__ import annotations

import json
from typing import Any

from quanta.report.markup import escaped
from quanta.report.rundir import RunRecord

_INPUT_KEYS = ("view", "features", "collection", "pad_length", "sort_by")


def _listed(names: list[Any], limit: int = 40) -> str:
    shown = ", ".join(map(str, names[:limit]))
    return shown + (f" … ({len(names)})" if len(names) > limit else "")


def _setting(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _method_entries(run: RunRecord) -> dict[str, dict[str, Any]]:
    """The ``methods:`` entries of config.yaml by name."""
    entries = run.config.get("methods")
    if not isinstance(entries, list):
        return {}
    return {str(e["name"]): e for e in entries if isinstance(e, dict) and e.get("name") is not None}


def _method_inputs(data: dict[str, Any], record: dict[str, Any],
                   overrides: dict[str, Any]) -> tuple[str, str]:
    """``(inputs, per sample)`` of a method: the shared data settings, its own ``data:`` on top."""
    view = {**data, **overrides}
    shared = not any(key in overrides for key in _INPUT_KEYS)
    described, shape = [], ""
    if view.get("collection"):
        collection, length = list(view["collection"]), view.get("pad_length")
        text = f"collection {_listed(collection)} per element, padded to {length} elements"
        if view.get("sort_by"):
            text += f", sorted by {view['sort_by']} (descending)"
        described.append(text)
        shape = f"{length} × {len(collection)}, with a mask"
    elif "features" in view:  # the files source: named columns
        resolved = record.get("feature_names") if shared else None
        names = list(resolved or view.get("features") or [])
        described.append(f"features {_listed(names)}" if names
                         else "features: every flat numeric column")
        if resolved or (names and not any(c in str(n) for n in names for c in "*?[")):
            shape = str(len(names))
    elif view.get("view") is not None:
        described.append(f"view {view['view']}")
    if shared and not view.get("collection"):
        shape = " × ".join(str(d) for d in record.get("input_shape") or []) or shape
        if "features" not in view and record.get("feature_names"):
            described.append(f"features {_listed(record['feature_names'])}")
    described += [f"{key}: {_setting(value)}" for key, value in overrides.items()
                  if key not in _INPUT_KEYS or (key == "view" and "features" in view)]
    return "; ".join(described) or "x of the data set, as given", shape


def _weighting(run: RunRecord, data: dict[str, Any]) -> str | None:
    """Whether the metrics are weighted: from the saved predictions, else from the data settings."""
    saved = {m.name: any(p.weight is not None for p in m.predictions.values())
             for m in run.methods if m.predictions}
    if not saved:
        if data.get("weight") or data.get("reweight"):
            return "yes, by the per-event weights (no predictions saved to check)"
        return None
    if all(saved.values()):
        return ("yes: metrics and figures use the per-event weights (the Kolmogorov-Smirnov "
                "tests with the effective numbers of events); a figure that draws single events "
                "without their weights says so in its caption")
    if not any(saved.values()):
        return "no: every event counts once"
    weighted = [name for name, flag in saved.items() if flag]
    return (f"yes for {', '.join(weighted)}; no for "
            f"{', '.join(name for name, flag in saved.items() if not flag)}")


def event_weights(run: RunRecord) -> str | None:
    """The event weights the predictions carry, per split: events, sum of weights, effective
    number of events ``(sum w)^2 / sum(w^2)`` and the range, from the first method that saved
    them; None when no method's predictions carry weights."""
    import numpy as np

    from quanta.report.rundir import REPORT_ORDER

    for method in run.methods:
        parts = []
        for split in REPORT_ORDER:
            saved = method.predictions.get(split)
            if saved is None or saved.weight is None:
                continue
            w = np.asarray(saved.weight, dtype=np.float64).reshape(-1)
            squares = float(np.sum(w**2))
            effective = float(np.sum(w)) ** 2 / squares if squares > 0 else 0.0
            negative = int(np.count_nonzero(w < 0))
            parts.append(f"{split}: {w.size:,} events, Σw = {np.sum(w):,.4g}, effective "
                         f"{effective:,.0f}, w from {w.min():.3g} to {w.max():.3g}"
                         + (f", {negative:,} negative" if negative else ""))
        if parts:
            return "; ".join(parts)
    return None


def _data_rows(run: RunRecord, data: dict[str, Any]) -> list[tuple[str, Any]]:
    """The rows of the shared data table: what every method's events are."""
    record = run.data
    split = record.get("split") or {}
    info = record.get("info") or {}
    reading = info.get("reading") if isinstance(info.get("reading"), dict) else {}
    settings = {**reading, **data}  # config.yaml's resolved data; data.json's for older runs
    rows: list[tuple[str, Any]] = [
        ("source", record.get("name") or data.get("source")),
        ("samples", ", ".join(f"{k} {v:,}" for k, v in split.items() if isinstance(v, int))),
        ("classes", ", ".join(map(str, record.get("classes") or [])) or None)]
    if isinstance(settings.get("classes"), dict) and settings["classes"]:
        rows.append(("targets", "the class of each file: " + "; ".join(
            f"{name} = {pattern}" for name, pattern in settings["classes"].items())))
    elif settings.get("label"):
        label = settings["label"]
        rows.append(("targets", f"label {', '.join(label) if isinstance(label, list) else label}"))
    if "selection" in settings:
        rows.append(("selection", settings["selection"] or "none: every row is kept"))
    if "derived" in settings:
        derived = settings["derived"] or {}
        listed = "; ".join(f"{name} = {expression}" for name, expression in derived.items())
        rows.append(("derived variables", listed or "none"))
    if "weight" in settings or "reweight" in settings:
        weights = [f"weight {settings['weight']}"] if settings.get("weight") else []
        if settings.get("reweight"):
            weights.append(f"reweighted in {settings['reweight']} to "
                           f"{settings.get('reweight_to', 'flat')} "
                           f"({settings.get('reweight_bins', 20)} bins), class totals kept")
        rows.append(("weights", "; ".join(weights) or "none: every event counts once"))
    rows.append(("event weights", event_weights(run)))
    rows.append(("metrics weighted", _weighting(run, settings)))
    if record.get("streamed"):
        rows.append(("read", f"streamed from {len(info.get('paths') or [])} files in {info.get('chunks')} chunks "
                             f"of ≤ {info.get('chunk_rows'):,} rows, shuffle buffer {info.get('buffer_rows'):,} rows, "
                             f"budget {info.get('memory_bytes', 0) / 1e6:,.0f} MB"))
    elif info.get("paths"):
        count = len(info["paths"])
        plural = "s" if count != 1 else ""
        files = " ".join(f"{count} {info.get('format', '')} file{plural}".split())
        tree = f" (tree {settings['tree']})" if settings.get("tree") else ""
        rows.append(("read", f"{files}{tree}, in memory"))
    return rows


def _inputs_table(run: RunRecord, data: dict[str, Any]) -> str:
    """One row per method: what it was trained as, its inputs and their size per sample."""
    entries = _method_entries(run)
    rows = []
    for method in run.methods:
        entry = entries.get(method.name, {})
        kind = next((f"{k} {entry[k]}" for k in ("model", "method") if entry.get(k)), "")
        overrides = entry.get("data") if isinstance(entry.get("data"), dict) else {}
        inputs, shape = _method_inputs(data, run.data, overrides)
        rows.append(f'<tr><td class="method">{escaped(method.name)}</td><td>{escaped(kind)}</td>'
                    f"<td>{escaped(inputs)}</td><td class=\"num\">{escaped(shape)}</td></tr>")
    return ('<h3>Inputs of each method</h3><table class="inputs"><thead><tr><th>Method</th>'
            '<th>Trained as</th><th>Inputs</th><th class="num">Per sample</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def data_section(run: RunRecord) -> str:
    """What the methods were trained on: the events (source, sizes, classes, selection, derived
    variables, weights, whether the metrics are weighted), how they were read, files skipped,
    and the inputs of every method (its own ``data:`` on top of the shared one)."""
    from quanta.report.environment_section import environment_section, is_environment

    if is_environment(run):  # agents played an environment: no events, no inputs
        return environment_section(run)
    data = run.config.get("data") if isinstance(run.config.get("data"), dict) else {}
    if not run.data and not data:
        return ""
    rows = _data_rows(run, data)
    info = run.data.get("info") or {}
    skipped = info.get("skipped_files") or []
    if skipped:
        listed = "; ".join(str(entry.get("reason", entry)) for entry in skipped[:5])
        rows.append(("files skipped", f"{len(skipped)}: {listed}" + (" …" if len(skipped) > 5 else "")))
    body = "".join(f"<tr><td>{escaped(k)}</td><td>{escaped(v)}</td></tr>" for k, v in rows if v not in (None, ""))
    many = len(skipped) != 1
    warning = (f'<p class="missing">{len(skipped)} file{"s" if many else ""} could not be used and '
               f'{"were" if many else "was"} skipped (skip_bad_files).</p>') if skipped else ""
    return (f'<h2>Data</h2>{warning}<table class="kv"><tbody>{body}</tbody></table>'
            f"{_inputs_table(run, data)}")


__all__ = ["data_section", "event_weights"]
