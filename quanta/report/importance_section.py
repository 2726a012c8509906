"""The report's Variable ranking section: which input variables each method uses, in one table.

A physicist's first question about a BDT is which variables it cuts on; the
same question goes to every other method. The table has one row per input
variable, ranked by the mean over methods of their permutation importance
(the drop of the validation metric when the variable is shuffled between
events), and per method its rank, that drop with its spread over the shuffles
and, for trees, their own importance as a share of the total. As in TMVA's
printed rankings, each method's rank 1 is its most important variable.
Methods whose inputs could not be ranked say why beneath the table.

It reads each method's ``importance.json`` (:meth:`quanta.rundir.MethodDirectory.read_importance`);
runs written before rankings existed have none, and the section is then left out.
"""

from __future__ import annotations

import math
from typing import Any

from quanta.report.markup import escaped
from quanta.report.rundir import RunRecord
from quanta.rundir import METHOD_NAME, RunDirectory


def read_rankings(run: RunRecord) -> dict[str, dict[str, Any]]:
    """``{method: importance.json}`` of the methods of ``run`` that have a ranking."""
    directory = RunDirectory(run.path, writer=False)
    rankings = {}
    for method in run.methods:
        if METHOD_NAME.match(method.name):  # never follow a name like "../x" out of the run
            record = directory.method(method.name).read_importance()
            if record is not None:
                rankings[method.name] = record
    return rankings


def _ranks(values: dict[str, float]) -> dict[str, int]:
    """1 for the largest value, in the given order among ties."""
    order = sorted(values, key=lambda name: -values[name])
    return {name: rank for rank, name in enumerate(order, start=1)}


def _variables(rankings: dict[str, dict[str, Any]]) -> list[str]:
    """Every method's variables, ranked by the mean permutation importance over the methods that
    shuffled them (by the mean trees' importance when no method shuffled)."""
    names: list[str] = []
    drops: dict[str, list[float]] = {}
    shares: dict[str, list[float]] = {}
    for record in rankings.values():
        for feature in record["features"]:
            name = feature["name"]
            if name not in names:
                names.append(name)
            if "drop" in feature:
                drops.setdefault(name, []).append(feature["drop"])
            if "trees" in feature:
                shares.setdefault(name, []).append(feature["trees"])
    by = drops if drops else shares

    def mean(name: str) -> float:
        values = by.get(name)
        return sum(values) / len(values) if values else -math.inf

    return sorted(names, key=lambda name: -mean(name))


def _delta_label(record: dict[str, Any]) -> str:
    from quanta.report.html import metric_label  # the report's one spelling of metric names

    return f"Δ{metric_label(record.get('metric', 'metric'))}"


#: the left edge of each method's group of columns
_EDGE = "border-left: 1px solid var(--rule)"


def _columns(rankings: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """``(method, kind)`` per column: "rank" and "drop" for a method that shuffled, "trees" for
    one with the trees' own importances."""
    columns = []
    for name, record in rankings.items():
        if any("drop" in f for f in record["features"]):
            columns += [(name, "rank"), (name, "drop")]
        if any("trees" in f for f in record["features"]):
            columns.append((name, "trees"))
    return columns


def _cell(feature: dict[str, Any] | None, kind: str, rank: int | None, edge: str) -> str:
    """One cell of the table (HTML): a rank, a drop ± its spread, or a trees' share."""
    from quanta.report.html import format_measurement

    key = "trees" if kind == "trees" else "drop"
    if feature is None or key not in feature:
        return f'<td class="num"{edge}></td>'
    if kind == "rank":
        return f'<td class="num"{edge}>{rank}</td>'
    if kind == "drop":
        text = format_measurement(feature["drop"], feature.get("drop_std"))
        return f'<td class="{"num best" if rank == 1 else "num"}"{edge}>{escaped(text)}</td>'
    share = f"{100 * feature['trees']:.1f} %"
    return f'<td class="num"{edge} title="rank {rank} by the trees">{share}</td>'


def _table(rankings: dict[str, dict[str, Any]]) -> str:
    """Rows: the variables; per method its rank, drop ± spread and trees' share."""
    columns = _columns(rankings)
    if not columns:
        return ""
    by_name = {name: {f["name"]: f for f in record["features"]}
               for name, record in rankings.items()}
    ranks = {(name, key): _ranks({v: f[key] for v, f in features.items() if key in f})
             for name, features in by_name.items() for key in ("drop", "trees")}
    edges = [f' style="{_EDGE}"' if i == 0 or columns[i - 1][0] != name else ""
             for i, (name, _) in enumerate(columns)]
    spans = {name: sum(1 for n, _ in columns if n == name) for name, _ in columns}
    top = "".join(f'<th colspan="{span}" style="{_EDGE}; text-align: center">{escaped(name)}</th>'
                  for name, span in spans.items())
    titles = {"rank": "Rank", "trees": "Trees' share"}
    sub = "".join(f'<th class="num"{edge}>{titles.get(kind) or _delta_label(rankings[name])}</th>'
                  for edge, (name, kind) in zip(edges, columns, strict=True))
    rows = []
    for variable in _variables(rankings):
        cells = [f'<td class="method">{escaped(variable)}</td>']
        for edge, (name, kind) in zip(edges, columns, strict=True):
            rank = ranks[(name, "trees" if kind == "trees" else "drop")].get(variable)
            cells.append(_cell(by_name[name].get(variable), kind, rank, edge))
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<div class="wide"><table class="ranking"><thead><tr><th rowspan="2">Variable</th>'
            f"{top}</tr><tr>{sub}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def _note(rankings: dict[str, dict[str, Any]]) -> str:
    """What the numbers are: the metric, events and shuffles, and the trees' measure."""
    shuffled = [r for r in rankings.values() if any("drop" in f for f in r["features"])]
    parts = []
    if shuffled:
        record = shuffled[0]
        label = _delta_label(record)[1:]  # HTML already (metric_label)
        drop = (f"{label} − {label}(shuffled)" if record.get("goal") != "min"
                else f"{label}(shuffled) − {label}")
        samples = sorted({(r.get("rows"), r.get("repeats")) for r in shuffled}, key=str)
        sizes = "; ".join(f"{rows:,} validation events, {repeats} shuffles each"
                          if isinstance(rows, int) and isinstance(repeats, int)
                          else "validation events" for rows, repeats in samples)
        baselines = ", ".join(f"{escaped(name)} {r['baseline']:.4g}"
                              for name, r in rankings.items()
                              if isinstance(r.get("baseline"), (int, float)))
        parts.append(
            f"Δ{label} = {drop}: how much the validation {label} "
            f"({baselines} unshuffled) worsens when one variable's values are shuffled between "
            f"events ({sizes}; the same events and shuffles for every method), mean ± standard "
            "deviation over the shuffles. A variable the method ignores scores about 0. Two "
            "variables that carry the same information share it: shuffling one costs little while "
            "the other is there. Rows are ordered by the mean over methods; each method's most "
            "important variable is shaded.")
    measures = sorted({r["trees_measure"] for r in rankings.values()
                       if isinstance(r.get("trees_measure"), str)})
    if measures:
        parts.append("Trees: the trees' own importance, a share of the total, from training: "
                     + "; ".join(escaped(m) for m in measures) + ".")
    return f'<p class="note" style="max-width: 900px">{" ".join(parts)}</p>' if parts else ""


def importance_section(run: RunRecord) -> str:
    """The Variable ranking section of the report, or "" when no method of the run has a ranking."""
    rankings = read_rankings(run)
    if not rankings:
        return ""
    left_out = "".join(
        f'<p class="missing">{escaped(name)}: variables not shuffled '
        f'({escaped(record["left_out"])}).</p>'
        for name, record in rankings.items() if isinstance(record.get("left_out"), str))
    return f"<h2>Variable ranking</h2>{_table(rankings)}{_note(rankings)}{left_out}"


__all__ = ["importance_section", "read_rankings"]
