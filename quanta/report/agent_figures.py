"""The report's figures of reinforcement-learning agents: learning curves and the test episodes' returns.

Each builder takes the run and the split the comparison figures use and returns HTML
blocks, like the builders of :mod:`quanta.report.html`, which registers them in its
``FIGURES`` by the names of :data:`AGENT_FIGURES`:

- ``learning_curves``: per method, the greedy policy's mean return on the valid episodes
  at each evaluation against the environment steps trained (left), and the returns of
  the training episodes (right: each episode a faint dot, the mean per evaluation period
  a line). With repeated trainings (``repeat: N``, the histories of
  ``repeats/<r>/<method>/history.jsonl``) the lines are the mean over the trainings and
  the band their spread (±1 standard deviation), each training interpolated onto common
  steps and holding its last value after it stopped (e.g. on reaching ``target_return``);
- ``episode_returns``: the return of each of the split's episodes per method (the saved
  scores of an agent, ``<split>_score`` of ``predictions.npz``), as a box with every
  episode drawn over it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from quanta.errors import UserError
from quanta.report.rundir import RunRecord
from quanta.rundir import RunDirectory

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: the common steps each training's curve is interpolated onto, when there are several
GRID_POINTS = 200


def _agent_histories(run: RunRecord) -> dict[str, list[list[dict[str, Any]]]]:
    """Per method whose history has evaluations of returns: the history of every training."""
    record = _repeats(run)
    found: dict[str, list[list[dict[str, Any]]]] = {}
    for method in run.methods:
        if not any("valid_mean_return" in r or "train_return" in r for r in method.history):
            continue
        histories = [method.history]
        folders = record.get(method.name, {}).get("folders", [])[1:]
        for folder in folders:
            parts = folder.split("/")
            if len(parts) != 3 or parts[0] != RunDirectory.REPEATS_FOLDER:
                continue
            history = RunDirectory(run.path / parts[0] / parts[1], writer=False).method(parts[2]).read_history()
            if history:
                histories.append(history)
        found[method.name] = histories
    return found


def _repeats(run: RunRecord) -> dict[str, Any]:
    import json

    path = run.path / "repeats.json"
    if not path.is_file():
        return {}
    try:
        methods = json.loads(path.read_text()).get("methods", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return methods if isinstance(methods, dict) else {}


def _series(history: list[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(r["steps"], r[key]) for r in history
             if isinstance(r.get(key), (int, float)) and isinstance(r.get("steps"), (int, float))
             and np.isfinite(r[key])]
    if not pairs:
        return np.zeros(0), np.zeros(0)
    steps, values = np.asarray(pairs, dtype=np.float64).T
    return steps, values


def _spread(curves: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps, mean and standard deviation of several curves on common steps (std 0 for one)."""
    curves = [c for c in curves if c[0].size]
    if len(curves) == 1:
        steps, values = curves[0]
        return steps, values, np.zeros_like(values)
    start = min(c[0][0] for c in curves)
    end = max(c[0][-1] for c in curves)
    grid = np.linspace(start, end, GRID_POINTS)
    values = np.stack([np.interp(grid, s, v) for s, v in curves])
    return grid, values.mean(axis=0), values.std(axis=0, ddof=1)


def _episode_points(history: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Each training episode's return at a step between its period's evaluations (evenly spread)."""
    steps, returns, previous = [], [], 0.0
    for record in history:
        episode_returns = record.get("returns")
        if isinstance(episode_returns, list) and episode_returns and isinstance(record.get("steps"), (int, float)):
            end = float(record["steps"])
            count = len(episode_returns)
            steps += list(previous + (end - previous) * (np.arange(count) + 1) / count)
            returns += [float(r) for r in episode_returns]
            previous = end
    return np.asarray(steps), np.asarray(returns)


def learning_curves_figure(histories: dict[str, list[list[dict[str, Any]]]],
                           colours: dict[str, str] | None = None) -> Figure:
    """Valid mean return (left) and training episodes' returns (right) against environment steps."""
    from matplotlib.figure import Figure

    from quanta.evaluate.figures import method_colours

    if not histories:
        raise UserError("no method recorded the returns of its evaluations")
    colours = {**method_colours(list(histories)), **(colours or {})}
    fig = Figure(figsize=(11.5, 4.3), layout="constrained")
    valid_ax, train_ax = fig.subplots(1, 2)
    for name, runs in histories.items():
        colour = colours[name]
        label = name if len(runs) == 1 else f"{name} (mean of {len(runs)})"
        for ax, key in ((valid_ax, "valid_mean_return"), (train_ax, "train_return")):
            curves = [_series(h, key) for h in runs]
            if not any(c[0].size for c in curves):
                continue
            steps, mean, std = _spread(curves)
            ax.plot(steps, mean, color=colour, label=label, marker="o" if steps.size < 3 else None)
            if len(runs) > 1:
                ax.fill_between(steps, mean - std, mean + std, color=colour, alpha=0.2, linewidth=0)
        for history in runs:
            steps, returns = _episode_points(history)
            if steps.size:
                train_ax.scatter(steps, returns, s=4, color=colour, alpha=0.15, linewidths=0)
    for ax, title in ((valid_ax, "Greedy policy on the valid episodes"),
                      (train_ax, "Training episodes (behaviour policy)")):
        ax.set_xlabel("environment steps")
        ax.set_ylabel("mean return" if ax is valid_ax else "return")
        ax.set_title(title, loc="left")
        ax.grid(True, color="0.92", linewidth=0.8)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=8, frameon=False)
    return fig


def episode_returns_figure(returns: dict[str, np.ndarray], split: str,
                           colours: dict[str, str] | None = None) -> Figure:
    """A box per method of its episodes' returns, every episode drawn over it."""
    from matplotlib.figure import Figure

    from quanta.evaluate.figures import method_colours

    if not returns:
        raise UserError(f"no method saved the returns of the {split} episodes")
    colours = {**method_colours(list(returns)), **(colours or {})}
    names = list(returns)
    fig = Figure(figsize=(max(4.5, 1.3 * len(names) + 2.5), 4.2), layout="constrained")
    ax = fig.subplots()
    boxes = ax.boxplot([returns[n] for n in names], widths=0.5, showfliers=False, patch_artist=True,
                       medianprops={"color": "black"})
    jitter = np.random.default_rng(0)  # fixed: the same report every time
    for i, (name, patch) in enumerate(zip(names, boxes["boxes"], strict=True), start=1):
        patch.set_facecolor(colours[name])
        patch.set_alpha(0.35)
        values = returns[name]
        ax.scatter(i + jitter.uniform(-0.18, 0.18, values.size), values, s=9, color=colours[name],
                   alpha=0.7, linewidths=0)
        ax.plot([i], [values.mean()], marker="D", color="black", markersize=5)
    ax.set_xticks(range(1, len(names) + 1), names)
    ax.set_ylabel(f"return per {split} episode")
    ax.grid(True, axis="y", color="0.92", linewidth=0.8)
    return fig


def _learning_curve_figures(run: RunRecord, split: str | None) -> list[str]:
    from quanta.report.html import _colours, _figure_block

    histories = _agent_histories(run)
    if not histories:
        return []
    repeated = max(len(runs) for runs in histories.values()) > 1
    band = (" With repeated trainings the line is the mean over them and the band ±1 standard "
            "deviation, each training interpolated onto common steps and holding its last value "
            "after it stopped.") if repeated else ""
    return [_figure_block(
        "Learning curves",
        "Left: the mean return of the greedy policy on the valid episodes at each evaluation, "
        "against the environment steps trained. Right: the return of each training episode "
        "(dots; it played the exploring behaviour policy), and their mean per evaluation period "
        f"(line).{band}",
        lambda: learning_curves_figure(histories, colours=_colours(run)),
    )]


def _episode_return_figures(run: RunRecord, split: str | None) -> list[str]:
    from quanta.report.html import _colours, _figure_block

    if split is None:
        return []
    returns = {m.name: np.asarray(p.score, dtype=np.float64).reshape(-1) for m in run.methods
               if (p := m.predictions.get(split)) is not None and p.score is not None and p.score.size}
    if not returns:
        return []
    return [_figure_block(
        f"Episode returns ({split} split)",
        f"The return of each {split} episode (the same episodes, by their seeds, for every "
        "method), played by the greedy policy at the end of training: the box spans the middle "
        "half, the line is the median, the diamond the mean, the whiskers reach 1.5 times the "
        "box beyond it; every episode is a dot (spread sideways to be seen).",
        lambda: episode_returns_figure(returns, split, colours=_colours(run)),
    )]


#: the builders by the names the reinforcement task lists (quanta.tasks.evaluation)
AGENT_FIGURES = {"learning_curves": _learning_curve_figures, "episode_returns": _episode_return_figures}

__all__ = ["AGENT_FIGURES", "episode_returns_figure", "learning_curves_figure"]
