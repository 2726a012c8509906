"""The report's spread over repeated trainings (``repeat: N``): mean ± std, and every training.

A method's number from one training hides how much it moves with the
initialisation; the top-tagging landscape tables quote the mean and standard
deviation over several trainings. This section shows, from ``repeats.json``
(:mod:`quanta.repeats`), a "Spread over N trainings" table of the test metrics
(mean ± std per method) and, per method, the value of each training beside its
seed and folder. A run trained once has no ``repeats.json`` and no section.
"""

from __future__ import annotations

from typing import Any

from quanta.report.markup import escaped
from quanta.report.rundir import RunRecord
from quanta.rundir import RunDirectory

SPLIT = "test"


def _keys(record: dict[str, Any]) -> list[str]:
    """The test metrics of any method, companions (errors, limits) left out."""
    from quanta.evaluate import COMPANIONS

    found = list(dict.fromkeys(key for method in record["methods"].values()
                               for key in method["metrics"].get(SPLIT, {})))
    return [k for k in found if not any(k.endswith(s) and k.removesuffix(s) in found for s in COMPANIONS)]


def spread_text(entry: dict[str, Any]) -> str:
    """``mean ± std`` of one metric's entry of ``repeats.json``, saying how many were lower limits."""
    from quanta.report.html import format_measurement

    text = format_measurement(entry["mean"], entry["std"])
    limits = sum(entry.get("lower_limits", []))
    return f"{text} ({limits} of {len(entry['values'])} lower limits)" if limits else text


def _spread_table(record: dict[str, Any], keys: list[str]) -> str:
    head = "".join(f"<th>{escaped(k)}</th>" for k in keys)
    rows = []
    for name, method in record["methods"].items():
        values = method["metrics"].get(SPLIT, {})
        cells = "".join(f"<td>{escaped(spread_text(values[k]))}</td>"
                        if k in values else "<td>-</td>" for k in keys)
        rows.append(f"<tr><th>{escaped(name)}</th>{cells}</tr>")
    return f"<table><tr><th>method</th>{head}</tr>{''.join(rows)}</table>"


def _trainings_table(name: str, method: dict[str, Any], seeds: list[int], keys: list[str]) -> str:
    from quanta.report.html import format_value

    values = method["metrics"].get(SPLIT, {})
    shown = [k for k in keys if k in values]
    head = "".join(f"<th>{escaped(k)}</th>" for k in shown)
    rows = []
    for repeat, folder in enumerate(method["folders"]):
        seed = seeds[repeat] if repeat < len(seeds) else ""
        cells = "".join(f"<td>{_limit(values[k], repeat)}{escaped(format_value(values[k]['values'][repeat]))}"
                        "</td>" for k in shown)
        rows.append(f"<tr><td>{repeat}</td><td>{escaped(seed)}</td><td>{escaped(folder)}</td>{cells}</tr>")
    return (f"<h3>{escaped(name)}: each training</h3><table><tr><th>repeat</th><th>seed</th>"
            f"<th>folder</th>{head}</tr>{''.join(rows)}</table>")


def _limit(entry: dict[str, Any], repeat: int) -> str:
    """"&gt; " before a value that is a lower limit (no background passed in that training)."""
    flags = entry.get("lower_limits", [])
    return "&gt; " if repeat < len(flags) and flags[repeat] else ""


def repeats_section(run: RunRecord) -> str:
    """The "Spread over N trainings" part of the Metrics section, or "" for a run trained once."""
    record = RunDirectory(run.path, writer=False).read_repeats()
    if not record or not record.get("methods"):
        return ""
    keys = _keys(record)
    note = (f'<p class="note">Every method trained {record["repeat"]} times on the same split with '
            f'the seeds {escaped(", ".join(str(s) for s in record["seeds"]))}; the {SPLIT} split '
            f'scored once at the end of each training. Standard deviation with ddof = '
            f'{escaped(record.get("ddof", 1))} (the spread of one training); repeat 0 is the run\'s '
            "own folder, the table above.</p>")
    trainings = "".join(_trainings_table(name, method, record["seeds"], keys)
                        for name, method in record["methods"].items())
    return (f"<h3>Spread over {escaped(record['repeat'])} trainings ({SPLIT} split, mean ± std)</h3>"
            f"{_spread_table(record, keys)}{note}{trainings}")


__all__ = ["repeats_section", "spread_text"]
