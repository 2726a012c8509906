"""Hyperparameter ranges the models share, declared as type hints.

A model's constructor declares what each hyperparameter may be in its type
hints: these ranges, and ``Literal`` choices with a ``Field`` description
(``Annotated[Literal["max", "avg"], Field(description="'max' or 'avg'")]``).
The registry checks them when an experiment is resolved, and
``@checked("<entry>")`` on the constructor (:func:`quanta.registry.checked`)
when a model is built in Python; either way a bad value reads ``"<entry>:
<name> must be <description>; received <value>"``. Checks between several
parameters, against the data's shape and inside ``forward`` stay in the model.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

_Positive = Annotated[int, Field(ge=1)]

Size = Annotated[int, Field(ge=1, description="a positive integer")]
"""A width, a count of layers or steps, a kernel size: an integer >= 1."""

NonNegative = Annotated[int, Field(ge=0, description="an integer >= 0")]
"""A count that may be zero (layers that may be left out, optional edge features)."""

Widths = Annotated[tuple[_Positive, ...], Field(description="a list of positive integers")]
"""Layer widths, possibly none (``hidden=()``: a linear head)."""

Stages = Annotated[tuple[_Positive, ...], Field(min_length=1, description="a list of one or more positive integers")]
"""Widths of blocks or stages, at least one."""

Depths = Annotated[_Positive | tuple[_Positive, ...],
                   Field(description="a positive integer or a list of them (one per stage)")]
"""Layers per stage: one number for every stage, or one per stage."""

Probability = Annotated[float, Field(ge=0, lt=1, description="a number in [0, 1)")]
"""A dropout or DropConnect probability."""

__all__ = ["Depths", "NonNegative", "Probability", "Size", "Stages", "Widths"]
