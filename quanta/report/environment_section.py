"""The report's Data section for an environment: what the agents played, in place of the events.

An agent's run has no data set: its data is an environment (``data.json``'s ``info``
names it, :mod:`quanta.agents.environment`). The section gives the environment, its
observation and action spaces, its time limit, the number of valid and test episodes
(fixed by their seeds, the same for every agent), and per method the agent and the
environment steps and episodes it trained for (its last history record).
"""

from __future__ import annotations

from typing import Any

from quanta.report.markup import escaped
from quanta.report.rundir import RunRecord


def is_environment(run: RunRecord) -> bool:
    """Whether the run's data was an environment (its agents' episodes) rather than a data set."""
    info = run.data.get("info") if isinstance(run.data, dict) else None
    return isinstance(info, dict) and isinstance(info.get("environment"), str)


def space_text(space: Any) -> str:
    """A space of ``data.json`` in words: ``Discrete(2)`` or ``Box (4,) from [..] to [..]``."""
    if not isinstance(space, dict):
        return "—"
    if space.get("kind") == "discrete":
        start = space.get("start", 0)
        return f"Discrete({space.get('n')})" + (f", from {start}" if start else "")

    def bounds(values: Any, infinite: str) -> str:
        if not isinstance(values, list):
            return "?"
        shown = ", ".join(infinite if v is None else f"{v:.3g}" for v in values[:8])
        return f"[{shown}{', …' if len(values) > 8 else ''}]"

    return (f"Box {tuple(space.get('shape') or ())} of {space.get('dtype', 'float32')}, from "
            f"{bounds(space.get('low'), '−∞')} to {bounds(space.get('high'), '∞')} (∞: unbounded)")


def environment_section(run: RunRecord) -> str:
    """The Data section of an agents' run."""
    info, split = run.data.get("info") or {}, run.data.get("split") or {}
    config = run.config.get("data") if isinstance(run.config.get("data"), dict) else {}
    limit = info.get("max_episode_steps") or config.get("max_episode_steps")
    rows = [("environment", f"{info['environment']} (source {config.get('source', '?')})"),
            ("observations", space_text(info.get("observation"))),
            ("actions", space_text(info.get("action"))),
            ("time limit", f"{limit:,} steps" if isinstance(limit, int) else "the environment's own"),
            ("episodes", f"valid {split.get('valid', '?')} (at every evaluation), test "
                         f"{split.get('test', '?')} (once, at the end); the same seeds for every "
                         "agent; training episodes: as many as each agent played")]
    body = "".join(f"<tr><td>{escaped(k)}</td><td>{escaped(v)}</td></tr>" for k, v in rows)
    entries = {str(e.get("name")): e for e in run.config.get("methods") or [] if isinstance(e, dict)}
    trained = []
    for method in run.methods:
        entry = entries.get(method.name, {})
        last = method.history[-1] if method.history else {}
        steps, episodes = last.get("steps"), last.get("episodes")
        trained.append(
            f'<tr><td class="method">{escaped(method.name)}</td>'
            f"<td>{escaped('agent ' + str(entry.get('agent', '?')))}</td>"
            f'<td class="num">{escaped(f"{steps:,}" if isinstance(steps, int) else "—")}</td>'
            f'<td class="num">{escaped(f"{episodes:,}" if isinstance(episodes, int) else "—")}</td></tr>')
    table = ('<h3>Training of each method</h3><table class="inputs"><thead><tr><th>Method</th>'
             '<th>Trained as</th><th class="num">Environment steps</th>'
             f'<th class="num">Training episodes</th></tr></thead><tbody>{"".join(trained)}</tbody></table>')
    return f'<h2>Data</h2><table class="kv"><tbody>{body}</tbody></table>{table}'


__all__ = ["environment_section", "is_environment", "space_text"]
