"""The report's score figures beyond the basic ones: the overtraining check on a log axis,
one-vs-rest ROC curves of several classes, and a regression's resolution and bias in bins
of the true value.

Each builder takes the run and the split the comparison figures use and returns HTML
blocks, like the builders of :mod:`quanta.report.html`, which registers them in its
``FIGURES`` by the names of :data:`SCORE_FIGURES`. Every figure uses the event weights
when the predictions carry them, and its caption says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quanta.report.rundir import RunRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def weighted(run: RunRecord, splits: tuple[str, ...] | None = None) -> bool:
    """Whether any method's predictions of ``splits`` (default: every split) carry event weights."""
    return any(p.weight is not None for m in run.methods for split, p in m.predictions.items()
               if splits is None or split in splits)


def weights_clause(run: RunRecord, splits: tuple[str, ...] | None = None) -> str:
    """A caption's closing sentence on weights: said only when the events carry them."""
    if not weighted(run, splits):
        return ""
    return " Every event counts with its weight."


def _overtraining_log_figures(run: RunRecord, split: str) -> list[str]:
    """The train-vs-test score distributions again, on a logarithmic y-axis (the tails)."""
    from quanta.evaluate import figures
    from quanta.report.html import _figure_block

    pairs = {
        m.name: (m.predictions["train"].as_tuple(), m.predictions["test"].as_tuple())
        for m in run.methods if "train" in m.predictions and "test" in m.predictions
        and m.predictions["test"].y is not None
    }
    if not pairs:
        return []
    ks = ("The Kolmogorov-Smirnov p-values are computed with the weights: the weighted "
          "distributions, with the effective numbers of events (Σw)²/Σw² as sample sizes."
          if weighted(run, ("train", "test")) else
          "The Kolmogorov-Smirnov p-values compare train and test per class.")
    return [_figure_block(
        "Overtraining check on a log scale: score distributions, train vs test",
        "The same distributions as above on a logarithmic y-axis, so that the tails, where a "
        "tight cut keeps its signal and its background, are visible: filled, training events; "
        "points, test events; each class normalised to unit area; empty bins are not drawn. "
        f"{ks}{weights_clause(run, ('train', 'test'))}",
        lambda: figures.score_distributions_figure(pairs, log=True),
    )]


def _class_names(run: RunRecord) -> list[str] | None:
    """The class names of data.json (or config.yaml's ``data.classes``) when they are a list."""
    data = run.config.get("data") if isinstance(run.config.get("data"), dict) else {}
    names = run.data.get("classes") or data.get("classes")
    return names if isinstance(names, list) and all(isinstance(n, str) for n in names) else None


def _one_vs_rest_roc_figures(run: RunRecord, split: str) -> list[str]:
    """One-vs-rest ROC curves of each class, one panel per method."""
    from quanta.evaluate import figures
    from quanta.report.html import _figure_block, _predictions

    predictions = _predictions(run, split)
    return [_figure_block(
        f"One-vs-rest ROC curves ({split} split)",
        "For each class: that class as signal, all other classes as background, with the "
        "method's score of the class as the discriminant; background rejection "
        "1/ε<sub>B</sub> against signal efficiency ε<sub>S</sub>, higher is better. The "
        "legend gives each class's AUC (AUC (macro) in the table is their unweighted mean "
        "over the classes). Dotted lines: ε<sub>S</sub> = 0.3 and 0.5; dashed grey: a "
        f"random guess.{weights_clause(run, (split,))}",
        lambda: figures.one_vs_rest_roc_figure(predictions, _class_names(run)),
    )]


def _target_names(run: RunRecord) -> list[str] | None:
    """The regression targets' names: config.yaml's ``data.label`` when it is a list of names."""
    data = run.config.get("data") if isinstance(run.config.get("data"), dict) else {}
    label = data.get("label")
    if isinstance(label, str):
        return [label]
    return label if isinstance(label, list) and all(isinstance(n, str) for n in label) else None


def _resolution_figures(run: RunRecord, split: str) -> list[str]:
    """Resolution and bias of every method in bins of the true value, one column per target."""
    from quanta.evaluate import figures
    from quanta.report.html import _colours, _figure_block, _predictions

    predictions = _predictions(run, split)

    def draw() -> Figure:
        return figures.resolution_figure(predictions, target_names=_target_names(run),
                                         colours=_colours(run))

    return [_figure_block(
        f"Resolution and bias in bins of the true value ({split} split)",
        "The residual predicted − true in ten bins of the true value, each holding a tenth "
        "of the samples, plotted at the bin's median true value. Top: the resolution, as "
        "half the 16–84 % interquantile range σ<sub>68</sub> (filled, solid; robust to "
        "tails) and as the standard deviation σ (open, dashed); bottom: the bias, the median "
        "residual. Error bars: statistical, from the effective number of events of the bin "
        "(median 1.25 σ<sub>68</sub>/√N, σ<sub>68</sub> 0.96 σ<sub>68</sub>/√N, σ "
        f"σ/√(2(N − 1)), Gaussian approximations).{weights_clause(run, (split,))}",
        draw,
    )]


#: the builders of this module by the figure names tasks give them
SCORE_FIGURES = {
    "score_distributions_log": _overtraining_log_figures,
    "one_vs_rest_roc": _one_vs_rest_roc_figures,
    "resolution": _resolution_figures,
}

__all__ = ["SCORE_FIGURES", "weighted", "weights_clause"]
