"""The report of a ``quanta tune`` study: one self-contained page beside the study's files.

:func:`write_search_report` reads the study folder (``trials.json``, and ``search.json`` when
present; :mod:`quanta.report.search_record`) and writes ``report.html`` there, with every figure
embedded as in a run's report and also kept as ``figures/<name>.png`` (and ``.pdf`` when asked;
:mod:`quanta.report.figure_files`). It never opens the study's database, so it needs neither
Optuna nor torch, and ``quanta report STUDY_FOLDER`` rewrites it at any time, during a study too.
The figures are drawn in the experiment's style (its ``report: {style, pdf}``, which best.yaml
carries; ``--style`` and ``--pdf`` of ``quanta report`` override it).

The page shows, top to bottom: the study (name, storage with its password masked, sampler,
pruner, objectives and their directions), the trials counted by state, the best trial(s) with
their values and parameters and links to ``best.yaml`` and to the report of the retrained best
configuration (``best/<name>/<timestamp>/report.html``) once they exist, the figures
(optimisation history, parameter importances, parallel coordinates, slices, the values per epoch
the pruner judged, and with two objectives the Pareto front), the search space and a table of
every trial.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from quanta.errors import UserError
from quanta.report.figure_files import FIGURES_FOLDER, FigureFiles, drawing
from quanta.report.html import _figure_block, format_value, page
from quanta.report.markup import escaped
from quanta.report.search_record import (
    BEST_FILE,
    BEST_FOLDER,
    SEARCH_FILE,
    STATES,
    TRIALS_FILE,
    StudyRecord,
    Trial,
    read_study,
    setting,
)
from quanta.report.style import DEFAULT, check_style
from quanta.rundir import RunDirectory

REPORT_FILE = "report.html"
#: the words the page uses for a trial's state
_STATE_WORDS = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running",
                "WAITING": "waiting"}
_EXTRA_CSS = """
td.state-PRUNED { color: #9a6400; } td.state-FAIL { color: #b23b00; }
td.state-RUNNING, td.state-WAITING { color: var(--muted); }
tr.best td { background: var(--best); }
.links a { margin-right: 18px; }
"""

_e = escaped


def report_kind(path: str | Path) -> str:
    """``"study"`` for a study folder of ``quanta tune`` (it holds trials.json or search.json),
    ``"run"`` for anything else that may be a run directory; a one-line :class:`UserError` for a
    folder that is neither, or no folder at all (what ``quanta report`` is given)."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: no such run directory or study folder")
    if (path / TRIALS_FILE).exists() or (path / SEARCH_FILE).exists():
        return "study"
    if any((path / name).exists() for name in (*RunDirectory.MARKERS, RunDirectory.LOCK)):
        return "run"
    markers = ", ".join(RunDirectory.MARKERS)
    raise UserError(f"{path}: not a quanta run directory (missing {markers}) and not a study "
                    f"folder of quanta tune (missing {TRIALS_FILE})")


def _value(value: Any) -> str:
    """A parameter's or objective's value as the tables show it (plain text)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):  # four significant digits at any size (a learning rate of 1e-4)
        return f"{value:.4g}"
    return str(value)


def _study_name(study: StudyRecord) -> str:
    for key in ("study", "study_name", "name"):
        name = setting(study.search, key)
        if isinstance(name, str) and name:
            return name
    return study.path.name.removesuffix("-tune")


def _study_section(study: StudyRecord) -> str:
    rows = [("name", _study_name(study))]
    for key, label in (("experiment", "experiment file"), ("storage", "storage"),
                       ("sampler", "sampler"), ("pruner", "pruner"), ("methods", "methods tuned"),
                       ("trials", "trials asked")):
        value = setting(study.search, key)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = ", ".join(value)
        if value is not None:
            rows.append((label, value if isinstance(value, (str, int, float)) else
                         json.dumps(value)))
    for i, objective in enumerate(study.objectives):
        label = "objective" if len(study.objectives) == 1 else f"objective {i + 1}"
        rows.append((label, f"{objective.metric} ({objective.direction})"))
    rows.append(("folder", str(study.path.resolve())))
    body = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    note = "" if study.search else (f'<p class="missing">{_e(SEARCH_FILE)} not found in the study '
                                    "folder: the study's settings and space are not shown.</p>")
    return f'<h2>Study</h2><table class="kv"><tbody>{body}</tbody></table>{note}'


def _counts_section(study: StudyRecord) -> str:
    counts = {state: sum(t.state == state for t in study.trials) for state in STATES}
    shown = [s for s in STATES if counts[s] or s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING")]
    head = "".join(f'<th class="num">{_e(_STATE_WORDS[s])}</th>' for s in shown)
    cells = "".join(f'<td class="num">{counts[s]}</td>' for s in shown)
    retried = sum(t.retried_from is not None for t in study.trials)
    note = (f'<p class="note">{retried} trial{" is a rerun" if retried == 1 else "s are reruns"}'
            " of a trial whose worker stopped (its heartbeat ended): “retries #n” in the table "
            "of every trial.</p>") if retried else ""
    return (f'<h2>Trials</h2><table><thead><tr>{head}<th class="num">all</th></tr></thead>'
            f'<tbody><tr>{cells}<td class="num">{len(study.trials)}</td></tr></tbody></table>'
            f"{note}")


def _retrained_report(study: StudyRecord) -> Path | None:
    """The report of the latest retraining of the best configuration (best/<name>/<time>/)."""
    reports = sorted((study.path / BEST_FOLDER).glob(f"*/*/{REPORT_FILE}"),
                     key=lambda p: (p.parent.name, p.parent.parent.name))
    return reports[-1] if reports else None


def _link(study: StudyRecord, target: Path, text: str) -> str:
    relative = target.relative_to(study.path).as_posix()
    return f'<a href="{_e(quote(relative))}">{_e(text)}</a>'


def _best_section(study: StudyRecord) -> str:
    best = study.best_trials
    several = len(study.objectives) > 1
    title = "Best trials (the Pareto front)" if several else "Best trial"
    links = []
    if (study.path / BEST_FILE).is_file():
        links.append(_link(study, study.path / BEST_FILE, f"{BEST_FILE}: the best configuration, "
                           "runnable with quanta run"))
    retrained = _retrained_report(study)
    if retrained is not None:
        links.append(_link(study, retrained, "the retrained best configuration's report (scored "
                           "once on the test split)"))
    linked = f'<p class="links">{"".join(links)}</p>' if links else (
        f'<p class="note">No {_e(BEST_FILE)} yet: it is written, and the best configuration '
        "retrained, when the study ends.</p>")
    if not best:
        return f'<h2>{title}</h2><p class="missing">No trial has completed yet.</p>{linked}'
    names = sorted({name for t in best for name in t.params}, key=study.parameters.index)
    head = ("<th>trial</th>" + "".join(f'<th class="num">{_e(o.metric)}</th>'
                                       for o in study.objectives)
            + _parameter_heads(study, names))
    rows = "".join(
        f'<tr><td class="method">#{t.number}</td>'
        + "".join(f'<td class="num">{_e(_value(v))}</td>' for v in (t.values or []))
        + "".join(f"<td>{_e(_value(t.params[n])) if n in t.params else '—'}</td>" for n in names)
        + "</tr>" for t in best)
    if several:
        sentence = (f"{len(best)} trial{'s' if len(best) != 1 else ''} that no other trial "
                    "beats on every objective.")
    else:
        sentence = (f"Trial #{best[0].number}: the best {study.objectives[0].metric} on the "
                    "validation split.")
    return (f'<h2>{title}</h2><p class="note">{_e(sentence)}{_prefix(study)}</p>'
            f'<div class="wide"><table><thead>'
            f"<tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>{linked}")


def _figures_section(study: StudyRecord) -> str:
    from quanta.report import search_figures as trials
    from quanta.report import search_parameter_figures as parameters

    blocks = [
        _figure_block(
            "Optimisation history", "Each trial's validation value against its number, and the "
            "best so far; pruned trials at the last value they reported (open circles), failed "
            "and running trials as ticks on the trial axis.",
            lambda: trials.history_figure(study)),
        _figure_block(
            "Parameter importances", "How much of the variation of the objective each parameter "
            "explains, as Optuna estimates it from the complete trials (trials.json's "
            "importances).", lambda: trials.importances_figure(study)),
        _figure_block(
            "Parallel coordinates", "One line per complete trial through its parameters and "
            "objective values; the colour is the first objective's value, darker is better. "
            "Choices are listed on their axis; (log): a log axis, as the space declares it; a "
            "line that passes an axis by: the trial did not sample that parameter.",
            lambda: parameters.parallel_coordinates_figure(study)),
    ]
    for k, objective in enumerate(study.objectives):
        title = "Slices" if len(study.objectives) == 1 else f"Slices: {objective.metric}"
        blocks.append(_figure_block(
            title, f"Each complete trial's {_e(objective.metric)} against each parameter; the "
            "later the trial, the darker its point. Choices are jittered sideways.",
            lambda k=k: parameters.slices_figure(study, k)))
    blocks.append(_figure_block(
        "Intermediate values", "The validation value each trial reported per epoch, which the "
        "pruner compares with the other trials'; pruned trials in orange, a cross where they "
        "were stopped.", lambda: trials.intermediate_figure(study)))
    if len(study.objectives) == 2:
        blocks.append(_figure_block(
            "Pareto front", "Every complete trial's two objectives; the trials no other trial "
            "beats on both (the best of trials.json) are marked and joined, the others grey.",
            lambda: trials.pareto_figure(study)))
    return "<h2>Figures</h2>" + "".join(blocks)


def _declaration(entry: Any) -> str:
    if not isinstance(entry, dict):
        return json.dumps(entry)
    return ", ".join(f"{k}: {json.dumps(v)}" for k, v in entry.items())


def _space_section(study: StudyRecord) -> str:
    space = study.space
    if not space:
        return ""
    rows = "".join(f"<tr><td>{_e(name)}</td><td>{_e(_declaration(entry))}</td></tr>"
                   for name, entry in space.items())
    return (f'<h2>Search space</h2><table class="kv"><thead><tr><th>parameter</th>'
            f"<th>declaration</th></tr></thead><tbody>{rows}</tbody></table>")


def _parameter_heads(study: StudyRecord, names: list[str]) -> str:
    """Column heads of parameters: their short names, the whole path on hovering."""
    short = study.short_names
    return "".join(f'<th title="{_e(n)}">{_e(short[n])}</th>' for n in names)


def _prefix(study: StudyRecord) -> str:
    """A sentence naming the path's front that the parameter columns leave out, if any."""
    names = study.parameters
    if not names:
        return ""
    prefix = names[0].removesuffix(study.short_names[names[0]])
    return (f" Parameter columns leave out <code>{_e(prefix)}</code>, the start of every "
            "parameter's path.") if prefix else ""


def _trial_row(study: StudyRecord, trial: Trial, names: list[str], best: set[int]) -> str:
    values = trial.values or [None] * len(study.objectives)
    state = _STATE_WORDS[trial.state]
    if trial.retried_from is not None:
        state += f" (retries #{trial.retried_from})"
    cells = [f'<td class="method">#{trial.number}</td>',
             f'<td class="state-{_e(trial.state)}">{_e(state)}</td>']
    cells += [f'<td class="num">{"—" if v is None else _e(_value(v))}</td>' for v in values]
    seconds = "—" if trial.seconds is None else format_value(trial.seconds)
    cells.append(f'<td class="num">{_e(seconds)}</td>')
    cells += [f"<td>{_e(_value(trial.params[n])) if n in trial.params else '—'}</td>"
              for n in names]
    css = ' class="best"' if trial.number in best else ""
    return f"<tr{css}>{''.join(cells)}</tr>"


def _trials_table(study: StudyRecord) -> str:
    if not study.trials:
        return '<h2>Every trial</h2><p class="missing">The study holds no trial yet.</p>'
    names = study.parameters
    head = ("<th>trial</th><th>state</th>"
            + "".join(f'<th class="num">{_e(o.metric)}</th>' for o in study.objectives)
            + '<th class="num">seconds</th>' + _parameter_heads(study, names))
    rows = "".join(_trial_row(study, t, names, set(study.best)) for t in study.trials)
    return (f'<h2>Every trial</h2><p class="note">Best trial(s) shaded; —: no value (not '
            f"finished, pruned, failed, or a parameter the trial did not sample).{_prefix(study)}"
            "</p>"
            f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>'
            "</table></div>")


def render_search(study: StudyRecord, style: str = DEFAULT, files: FigureFiles | None = None) -> str:
    """The report page of a study as an HTML string (figures in ``style``, kept in ``files``)."""
    style = check_style(style, "style")
    name = _study_name(study)
    complete = len(study.complete)
    facts = [f"quanta tune study: {len(study.trials)} trials, {complete} complete"]
    for key in ("sampler", "pruner"):
        if isinstance(setting(study.search, key), str):
            facts.append(f"{key} {setting(study.search, key)}")
    if style != DEFAULT:
        facts.append(f"figures in the {style} style")
    with drawing(style, files):
        figures = _figures_section(study)
    body = (f"{_study_section(study)}{_counts_section(study)}{_best_section(study)}{figures}"
            f"{_space_section(study)}{_trials_table(study)}")
    return page(f"{name} — quanta search report", name, facts, study.path, files, body,
                f"{TRIALS_FILE} and {SEARCH_FILE} of the study folder", css=_EXTRA_CSS)


def _experiment_report(study: StudyRecord) -> dict[str, Any]:
    """The ``report:`` block of the experiment, as best.yaml carries it (empty before it exists)."""
    from quanta.config import read_experiment

    path = study.path / BEST_FILE
    report = read_experiment(path).get("report") if path.is_file() else None
    return report if isinstance(report, dict) else {}


def write_search_report(folder: str | Path, style: str | None = None,
                        pdf: bool | None = None) -> Path:
    """Write ``folder/report.html`` and ``folder/figures/*.png`` of a study folder; returns the
    report's path.

    ``style`` draws the figures in an experiment's style (:mod:`quanta.report.style`; None: the
    experiment's own ``report.style``, as best.yaml holds it, else the default look); ``pdf``
    also writes every figure as a PDF (None: the experiment's ``report.pdf``). A missing or
    damaged trials.json
    (or a damaged search.json) raises a one-line :class:`UserError` naming the file. The page is
    written atomically and the figure folder replaced whole, so a reader never sees half of
    either.
    """
    study = read_study(folder)
    report = _experiment_report(study) if style is None or pdf is None else {}
    if style is None:
        style = check_style(report.get("style", DEFAULT), f"{study.path / BEST_FILE}: report.style")
    else:
        style = check_style(style, "--style")
    pdf = bool(report.get("pdf", False)) if pdf is None else pdf
    files = FigureFiles(study.path / FIGURES_FOLDER, pdf=bool(pdf))
    page = render_search(study, style, files)
    files.write()
    target = study.path / REPORT_FILE
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        partial.write_text(page, encoding="utf-8")
        os.replace(partial, target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise UserError(f"{target}: cannot be written ({error.strerror or error})") from None
    return target


__all__ = ["REPORT_FILE", "render_search", "report_kind", "write_search_report"]
