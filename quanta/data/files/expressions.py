"""A safe evaluator of column expressions: ``log(pt)``, ``(pt > 500) & (abs(eta) < 2)``.

Physicists cut and derive ntuple variables with small formulas. The formula is
parsed with :mod:`ast` and walked node by node; only an allow-list of nodes is
evaluated (numbers, column names, arithmetic, comparisons, element-wise
``& | ~`` and calls of a few NumPy functions). Anything else - attributes,
subscripts, lambdas, keyword arguments, strings - is refused with a one-line
error naming the expression and the construct. Python's ``eval`` is never used.

Columns may be NumPy arrays or awkward arrays (jagged ROOT branches); NumPy's
functions dispatch to awkward for the latter.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from quanta.errors import UserError, closest


def _where(condition: Any, a: Any, b: Any) -> Any:
    if any(_is_awkward(v) for v in (condition, a, b)):
        import awkward as ak

        return ak.where(condition, a, b)
    return np.where(condition, a, b)


def _is_awkward(value: Any) -> bool:
    return type(value).__module__.startswith("awkward")


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "log": np.log, "log1p": np.log1p, "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs,
    "hypot": np.hypot, "arctan2": np.arctan2, "sin": np.sin, "cos": np.cos, "tanh": np.tanh,
    "minimum": np.minimum, "maximum": np.maximum, "where": _where, "clip": np.clip,
}
BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow,
    ast.BitAnd: operator.and_, ast.BitOr: operator.or_,
}
UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}
COMPARE = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_CONSTRUCTS = {  # readable names for the nodes users most often try
    ast.Attribute: "attribute access", ast.Subscript: "subscripts", ast.Lambda: "lambda",
    ast.BoolOp: "'and'/'or' (use & and | with parentheses)", ast.Not: "'not' (use ~)",
    ast.IfExp: "'if ... else' (use where(cond, a, b))", ast.keyword: "keyword arguments",
    ast.Starred: "starred arguments",
}


def parse(expression: str) -> ast.Expression:
    """Parse ``expression`` and check every node against the allow-list."""
    try:
        tree = ast.parse(str(expression).strip(), mode="eval")
    except SyntaxError as error:
        raise UserError(f"expression '{expression}': not valid syntax ({error.msg})") from None
    for node in ast.walk(tree):
        _check(node, expression)
    return tree


def _check(node: ast.AST, expression: str) -> None:
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Call, ast.Name,
               ast.Constant, ast.Load, *BINARY, *UNARY, *COMPARE)
    if not isinstance(node, allowed):
        what = next((text for kind, text in _CONSTRUCTS.items() if isinstance(node, kind)),
                    type(node).__name__)
        raise UserError(f"expression '{expression}': {what} is not allowed; use column names, "
                        f"numbers, + - * / ** < > == & | ~ and {', '.join(FUNCTIONS)}")
    if isinstance(node, ast.Constant) and (
            isinstance(node.value, bool) or not isinstance(node.value, (int, float))):
        raise UserError(f"expression '{expression}': the constant {node.value!r} is not allowed; "
                        "only numbers are")
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in FUNCTIONS:
            shown = name or ast.unparse(node.func)
            guess = closest(shown, FUNCTIONS)
            hint = f"; did you mean '{guess}'?" if guess else ""
            raise UserError(f"expression '{expression}': calling '{shown}' is not allowed{hint} "
                            f"allowed functions: {', '.join(FUNCTIONS)}")
        if node.keywords:
            raise UserError(f"expression '{expression}': keyword arguments are not allowed")


def names(expression: str) -> list[str]:
    """The column names an expression reads (function names excluded), in order of appearance."""
    tree = parse(expression)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    found = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called]
    return list(dict.fromkeys(found))


def evaluate(expression: str, columns: Mapping[str, Any], where: str = "") -> Any:
    """Value of ``expression`` over ``columns``; ``where`` (a file name) prefixes errors."""
    tree = parse(expression)
    prefix = f"{where}: " if where else ""
    for name in names(expression):
        if name not in columns:
            guess = closest(name, columns)
            hint = f"; did you mean '{guess}'?" if guess else ""
            raise UserError(f"{prefix}expression '{expression}': unknown column '{name}'{hint}")
    try:
        with np.errstate(all="ignore"):  # NaN/Inf are counted per column afterwards
            return _value(tree.body, columns)
    except (TypeError, ValueError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserError(f"{prefix}expression '{expression}' cannot be evaluated: {message}") from None


def _value(node: ast.AST, columns: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return columns[node.id]
    if isinstance(node, ast.BinOp):
        return BINARY[type(node.op)](_value(node.left, columns), _value(node.right, columns))
    if isinstance(node, ast.UnaryOp):
        return UNARY[type(node.op)](_value(node.operand, columns))
    if isinstance(node, ast.Compare):  # a < b < c means (a < b) & (b < c)
        left, result = _value(node.left, columns), None
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _value(right_node, columns)
            part = COMPARE[type(op)](left, right)
            result = part if result is None else result & part
            left = right
        return result
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)  # guaranteed by _check
        return FUNCTIONS[node.func.id](*(_value(a, columns) for a in node.args))
    raise AssertionError(f"unchecked node {type(node).__name__}")  # parse() rejects it first
