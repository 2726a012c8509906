"""Covariance kernels of a Gaussian process, written as a small formula: ``"rbf + periodic"``.

A kernel formula is kernel names joined by ``+`` (a sum: independent effects
that add, e.g. a smooth trend plus an oscillation) and ``*`` (a product: an
effect modulated by another, e.g. an oscillation whose shape drifts); ``*``
binds tighter than ``+``, as in arithmetic, and there are no parentheses, so a
formula is always a sum of products. Each product term gets one amplitude (a
GPyTorch ``ScaleKernel``): an amplitude per factor would only multiply into one
number and leave the fit degenerate. Every base kernel has one length scale
per input (ARD: automatic relevance determination, inputs standardised first).

Base kernels (Rasmussen & Williams 2006, ch. 4):

- ``rbf``: squared exponential, infinitely smooth functions;
- ``matern12``, ``matern32``, ``matern52``: Matérn with nu = 1/2, 3/2, 5/2,
  rougher functions (nu = 1/2 is the Ornstein-Uhlenbeck process);
- ``periodic``: exp(-2 sin^2(pi |x - x'| / p) / l^2), a repeating pattern of
  learned period p (MacKay 1998) that extrapolates beyond the data.
"""

from __future__ import annotations

import re
from typing import Any

from quanta.errors import UserError

#: the base kernels a formula may name
KERNELS = ("rbf", "matern12", "matern32", "matern52", "periodic")
_MATERN_NU = {"matern12": 0.5, "matern32": 1.5, "matern52": 2.5}
_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|\+|\*)")


def parse_kernel(formula: str, where: str = "kernel") -> list[list[str]]:
    """The formula as a sum of products: ``"rbf + rbf * periodic"`` -> ``[["rbf"], ["rbf", "periodic"]]``.

    Anything but known names joined by ``+`` and ``*`` is a one-line error
    naming the allowed names.
    """
    allowed = f"names {', '.join(KERNELS)} joined by + and *, e.g. 'rbf + periodic'"
    if not isinstance(formula, str):
        raise UserError(f"{where}: expected a kernel formula ({allowed}); received {formula!r}")
    tokens, position = [], 0
    text = formula.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise UserError(f"{where}: cannot read '{text[position:].strip()}' in {formula!r}; "
                            f"allowed: {allowed}")
        tokens.append(match.group(1))
        position = match.end()
    terms: list[list[str]] = [[]]
    expect_name = True
    for token in tokens:
        if expect_name:
            if token not in KERNELS:
                raise UserError(f"{where}: '{token}' is not a kernel in {formula!r}; allowed: {allowed}")
            terms[-1].append(token)
        elif token == "+":
            terms.append([])
        elif token != "*":
            raise UserError(f"{where}: expected + or * before '{token}' in {formula!r}; "
                            f"allowed: {allowed}")
        expect_name = not expect_name
    if expect_name:  # empty, or ending on an operator
        raise UserError(f"{where}: {formula!r} is not a complete formula; allowed: {allowed}")
    return terms


def build_kernel(terms: list[list[str]], inputs: int) -> Any:
    """The GPyTorch kernel of a parsed formula for ``inputs`` (standardised) input variables."""
    from gpytorch.kernels import MaternKernel, PeriodicKernel, RBFKernel, ScaleKernel

    def base(name: str):
        if name == "rbf":
            return RBFKernel(ard_num_dims=inputs)
        if name == "periodic":
            return PeriodicKernel(ard_num_dims=inputs)
        return MaternKernel(nu=_MATERN_NU[name], ard_num_dims=inputs)

    summed = None
    for factors in terms:
        product = base(factors[0])
        for name in factors[1:]:
            product = product * base(name)
        term = ScaleKernel(product)
        summed = term if summed is None else summed + term
    return summed


__all__ = ["KERNELS", "build_kernel", "parse_kernel"]
