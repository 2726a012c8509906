"""The figure of a fitted decision tree: its first cuts, boxes and arrows, in the inputs' units.

The tree is drawn from its saved record (:data:`TREE_FILE`, written by
:mod:`quanta.methods.decision_tree`), so that drawing it needs neither the
method nor scikit-learn, and the report can draw it without importing them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from quanta.errors import UserError
from quanta.evaluate.figures import BACKGROUND_COLOUR, METHOD_COLOURS, SIGNAL_COLOUR, _style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The file in a method's folder holding the top levels of its fitted decision tree, written by
#: :mod:`quanta.methods.decision_tree` and drawn by :func:`decision_tree_figure`.
TREE_FILE = "decision_tree.json"


#: One node of a tree record as drawn: ``(node, level, index of its parent or None)``.
_Placed = tuple[Mapping[str, Any], int, int | None]
#: A tree with more leaves than this (at the levels drawn) is drawn on its side.
_UPRIGHT_SLOTS = 8
#: The distance between the levels of a sideways tree, in slots (a slot is one leaf's row).
_SIDEWAYS_LEVEL = 3.0


def _number(value: float) -> str:
    """A cut or a mean as a physicist writes it: four significant digits, no exponent for
    ordinary sizes, thousands separators for large ones."""
    size = abs(value)
    if size >= 1e4 and size < 1e7:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _tree_nodes(root: Mapping[str, Any], deepest: int) -> list[_Placed]:
    """The nodes of a tree record as ``(node, level, parent index)``, parents first, at most
    ``deepest`` levels below the root; a UserError names the first malformed node."""
    nodes: list[_Placed] = []
    pending: list[tuple[Any, int, int | None]] = [(root, 0, None)]
    while pending:
        node, level, parent = pending.pop()
        if not isinstance(node, Mapping) or not isinstance(node.get("samples"), int):
            raise UserError(f"decision tree record: node {len(nodes)} has no number of samples")
        nodes.append((node, level, parent))
        if "left" in node and level < deepest:
            here = len(nodes) - 1
            if not (isinstance(node.get("feature"), int)
                    and isinstance(node.get("threshold"), float | int)):
                raise UserError(f"decision tree record: node {here} cuts without a feature index "
                                "and threshold")
            pending += [(node["right"], level + 1, here), (node["left"], level + 1, here)]
    return nodes


def _node_colour(node: Mapping[str, Any], output: str,
                 means: tuple[float, float]) -> tuple[float, ...]:
    """The box colour of a node, as ``sklearn.tree.plot_tree`` fills it: the hue of its majority
    (signal blue, background red, a class's colour), stronger the purer the node; for values, one
    hue stronger the larger the mean."""
    from matplotlib.colors import to_rgb

    if output == "signal_probability":
        fraction = float(node.get("signal_fraction", 0.5))
        hue = SIGNAL_COLOUR if fraction >= 0.5 else BACKGROUND_COLOUR
        strength = abs(2 * fraction - 1)
    elif output == "class_probabilities":
        hue = METHOD_COLOURS[int(node.get("majority_class", 0)) % len(METHOD_COLOURS)]
        strength = float(node.get("majority_fraction", 0.0))
    else:
        low, high = means
        mean = float((node.get("mean") or [low])[0])
        hue, strength = "#E69F00", (mean - low) / (high - low) if high > low else 0.5
    strength = 0.12 + 0.6 * min(max(strength, 0.0), 1.0)
    return tuple(1 - strength + strength * c for c in to_rgb(hue))


def _node_text(node: Mapping[str, Any], output: str, criterion: str, features: Sequence[str],
               classes: Sequence[str] | None, cuts: bool) -> str:
    lines = []
    if cuts:
        feature = int(node["feature"])
        name = features[feature] if 0 <= feature < len(features) else f"x[{feature}]"
        lines.append(f"{name} ≤ {_number(float(node['threshold']))}")
    lines.append(f"{criterion} = {float(node.get('impurity', float('nan'))):.3g}")
    lines.append(f"{node['samples']:,} events")
    if output == "signal_probability":
        lines.append(f"signal fraction {float(node.get('signal_fraction', float('nan'))):.2f}")
    elif output == "class_probabilities":
        label = int(node.get("majority_class", 0))
        name = classes[label] if classes and 0 <= label < len(classes) else f"class {label}"
        lines.append(f"{name} ({float(node.get('majority_fraction', float('nan'))):.0%})")
    else:
        means = [float(m) for m in node.get("mean") or []]
        shown = ", ".join(_number(m) for m in means[:3]) + (", …" if len(means) > 3 else "")
        lines.append(f"mean {shown}")
    return "\n".join(lines)


def decision_tree_figure(
    tree: Mapping[str, Any],
    feature_names: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    depth: int = 4,
) -> Figure:
    """The top levels of a fitted decision tree: one box per node, the cuts in the inputs' units.

    Drawn as ``sklearn.tree.plot_tree`` draws a tree, but from the saved
    record (:data:`TREE_FILE`, written by :mod:`quanta.methods.decision_tree`):
    each box gives the node's cut (``jet mass ≤ 143.2``; the events passing it
    go left), its impurity, its number of training events and its value (the
    signal fraction, the majority class, or the mean target). The fill says
    which way the node leans and how purely: signal blue or background red
    (or the majority class's colour), stronger for purer nodes; for a
    regression, stronger for a larger mean. ``(…)`` below a box marks cuts
    deeper than the figure shows.

    Args:
        tree: the record: ``output``, ``criterion``, ``depth``, ``leaves``, ``root``
            (nested nodes with ``samples``, ``impurity``, a value, and ``feature``,
            ``threshold``, ``left``, ``right`` when they cut; ``truncated`` when
            deeper cuts were not saved).
        feature_names: names of the input columns (default: the record's
            ``feature_names``, else ``x[j]``).
        class_names: class names by label (default: the record's ``class_names``).
        title: the figure title (e.g. the method's name).
        depth: the deepest level drawn (the root is level 0).
    """
    if not isinstance(tree, Mapping) or not isinstance(tree.get("root"), Mapping):
        raise UserError("decision tree record: expected a mapping with the tree's 'root' node")
    output = str(tree.get("output", "values"))
    names = list(feature_names or tree.get("feature_names") or [])
    classes = list(class_names or tree.get("class_names") or []) or None
    nodes = _tree_nodes(tree["root"], depth)
    shown = max(level for _, level, _ in nodes)
    # leaves (and cut-off nodes) take one slot each, left to right; a parent sits above its children
    children: dict[int, list[int]] = {}
    for i, (_, _, parent) in enumerate(nodes):
        if parent is not None:
            children.setdefault(parent, []).append(i)
    x: dict[int, float] = {}
    slot = 0

    def place(i: int) -> float:
        nonlocal slot
        if i not in children:
            x[i], slot = float(slot), slot + 1
        else:
            x[i] = float(np.mean([place(c) for c in children[i]]))
        return x[i]

    place(0)
    means = [float((n.get("mean") or [0.0])[0]) for n, _, _ in nodes]
    span = (min(means), max(means))
    criterion = str(tree.get("criterion", "impurity"))
    # a wide tree is laid on its side (root on the left, the passing events above), so that
    # its boxes keep a readable size on a page
    sideways = slot > _UPRIGHT_SLOTS
    at = {i: (level * _SIDEWAYS_LEVEL, -x[i]) if sideways else (x[i], -level)
          for i, (_, level, _) in enumerate(nodes)}
    # where an arrow enters a child's box and leaves its parent's, in fractions of the box
    into, out_of = ((0.0, 0.5), (1.0, 0.5)) if sideways else ((0.5, 1.0), (0.5, 0.0))
    from matplotlib.figure import Figure

    with _style():
        if sideways:
            size = ((shown + 1) * 2.5 + 0.3, 0.9 * slot + 0.6)
        else:
            size = (max(6.0, 1.6 * slot + 0.5), 1.35 * (shown + 1) + 0.5)
        fig = Figure(figsize=size, layout="constrained")
        ax = fig.subplots()
        ax.set_axis_off()
        boxes = {}
        for i, (node, _, _) in enumerate(nodes):
            text = _node_text(node, output, criterion, names, classes, cuts=i in children)
            box = {"boxstyle": "round,pad=0.45", "facecolor": _node_colour(node, output, span),
                   "edgecolor": "0.35", "linewidth": 0.8}
            boxes[i] = ax.text(*at[i], text, ha="center", va="center", fontsize=9,
                               linespacing=1.25, zorder=2, bbox=box)
            if node.get("truncated") or ("left" in node and i not in children):
                # drawn from its box, which the layout has not placed yet: kept out of the layout
                ax.annotate("(…)", xy=out_of, xycoords=boxes[i].get_bbox_patch(),
                            xytext=(18, 0) if sideways else (0, -16), textcoords="offset points",
                            ha="left" if sideways else "center", va="center" if sideways else "top",
                            fontsize=8, color="0.4",
                            arrowprops={"arrowstyle": "-", "color": "0.55", "linestyle": ":"},
                            ).set_in_layout(False)
        arrow = {"arrowstyle": "-|>", "color": "0.35", "linewidth": 0.9, "shrinkA": 0,
                 "shrinkB": 0, "mutation_scale": 9}
        for i, (_, _, parent) in enumerate(nodes):
            if parent is None:
                continue
            ax.annotate("", xy=into, xycoords=boxes[i].get_bbox_patch(), xytext=out_of,
                        textcoords=boxes[parent].get_bbox_patch(), zorder=3,
                        arrowprops=arrow).set_in_layout(False)
            if parent == 0:  # the root's branches say which one the passing events take
                passing = i == children[0][0]
                middle = ((at[0][0] + at[i][0]) / 2, (at[0][1] + at[i][1]) / 2)
                ax.annotate("yes" if passing else "no", xy=middle, textcoords="offset points",
                            xytext=(-5, 0) if sideways else (-10 if passing else 10, 0),
                            ha="right" if sideways else "center", va="center", fontsize=9,
                            color="0.3", zorder=4)
        if sideways:
            ax.set_xlim(-0.55 * _SIDEWAYS_LEVEL, (shown + 0.55) * _SIDEWAYS_LEVEL)
            ax.set_ylim(-slot + 0.5, 0.5)
        else:
            ax.set_xlim(-0.6, slot - 0.4)
            ax.set_ylim(-shown - 0.55, 0.5)
        total = tree.get("depth")
        deeper = isinstance(total, int) and total > shown
        depth_note = f"cuts to depth {shown} of {total} shown" if deeper else "every cut shown"
        leaves = f", {tree['leaves']:,} leaves" if isinstance(tree.get("leaves"), int) else ""
        if title:
            ax.set_title(title, loc="left", fontweight="bold")
        ax.set_title(f"{depth_note}{leaves}", loc="right", fontsize=9, color="0.4")
    return fig


__all__ = ["TREE_FILE", "decision_tree_figure"]
