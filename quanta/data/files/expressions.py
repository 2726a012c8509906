"""A safe evaluator of column expressions: ``log(pt)``, ``jet_pt > 500 && abs(jet_eta) < 2``.

Physicists cut and derive ntuple variables with small formulas, written as
ROOT's ``TTree::Draw`` and ``RDataFrame::Filter`` take them: comparisons bind
tighter than ``&`` and ``|`` (as in C), so ``pt > 500 & abs(eta) < 2`` cuts on
both; ``&&``, ``||``, ``!`` and Python's ``and``, ``or``, ``not`` work too,
element by element (a number is true when it is not zero). The language holds
numbers, column names, ``+ - * / % **``, comparisons (chained as in Python:
``1 < abs(eta) < 2``), these logical operators and calls of a few NumPy
functions. A small reader of its own turns the text into a Python :mod:`ast`
tree of just these nodes, which is then walked; anything else - attributes,
subscripts, lambdas, keyword arguments, strings - is refused with a one-line
error naming the expression and the construct. Python's ``eval`` is never used.

Columns may be NumPy arrays or awkward arrays (jagged ROOT branches); NumPy's
functions dispatch to awkward for the latter.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from quanta.errors import UserError, closest, first_line


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
    "pow": np.power, "fabs": np.abs,  # as ROOT formulas write them
}
BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Mod: operator.mod, ast.Pow: operator.pow,
    ast.BitAnd: operator.and_, ast.BitOr: operator.or_,
}
COMPARE = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
ALLOWED = ("column names, numbers, + - * / % **, comparisons, & | && || ! and or not, "
           f"and the functions {', '.join(FUNCTIONS)}")

# -- reading an expression ---------------------------------------------------------------------
# Binding strengths, loosest first, as in C (and so ROOT's TTree::Draw and RDataFrame::Filter):
# comparisons bind tighter than & and |, so "pt > 500 & abs(eta) < 2" cuts on both.
# "not" binds as in Python (looser than comparisons); "!" and "~" bind as unary minus.
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<op>\*\*|&&|\|\||<=|>=|==|!=|[-+*/%<>&|!~(),.\[\]=^:])
""", re.VERBOSE)
_WORDS = {"and": "&&", "or": "||", "not": "not"}
_RELATIONS = {"<": ast.Lt(), "<=": ast.LtE(), ">": ast.Gt(), ">=": ast.GtE()}
_EQUALITIES = {"==": ast.Eq(), "!=": ast.NotEq()}
_REFUSED = {  # what users most often try, and what to write instead
    ".": "attribute access is not allowed", "[": "subscripts are not allowed",
    "]": "subscripts are not allowed", "=": "'=' is not allowed (write == to compare; no keyword arguments)",
    "^": "'^' is not allowed (write ** for a power)",
    ":": "'::' is not allowed (write the function's plain name, e.g. abs)",
    "lambda": "lambda is not allowed", "if": "'if ... else' is not allowed (use where(cond, a, b))",
    "else": "'if ... else' is not allowed (use where(cond, a, b))",
}


class _Reader:
    """A precedence-climbing reader from tokens to a Python :mod:`ast` expression."""

    def __init__(self, expression: str):
        self.expression = expression
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(expression):
            match = _TOKEN.match(expression, position)
            if match is None:
                self.refuse(f"the character {expression[position]!r} is not allowed")
            position = match.end()
            kind = match.lastgroup
            text = match.group()
            if kind == "space":
                continue
            if kind == "name" and text in _WORDS:
                kind, text = "op", _WORDS[text]
            if text in _REFUSED:
                self.refuse(_REFUSED[text])
            self.tokens.append((kind, text))
        self.at = 0

    def refuse(self, what: str) -> None:
        raise UserError(f"expression '{self.expression}': {what}; use {ALLOWED}")

    def invalid(self, why: str) -> None:
        raise UserError(f"expression '{self.expression}': not valid syntax ({why})")

    def peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            self.invalid("it ends too early")
        token = self.tokens[self.at]
        self.at += 1
        return token

    def expect(self, text: str) -> None:
        if self.peek() != text:
            found = self.peek()
            self.invalid(f"expected '{text}'" + (f", found '{found}'" if found else " at the end"))
        self.at += 1

    def read(self) -> ast.Expression:
        if not self.tokens:
            self.invalid("it is empty")
        body = self.logical_or()
        if self.peek() is not None:
            self.invalid(f"unexpected '{self.peek()}'")
        return ast.Expression(body=body)

    def logical_or(self) -> ast.expr:
        return self._bool("||", ast.Or(), self.logical_and)

    def logical_and(self) -> ast.expr:
        return self._bool("&&", ast.And(), self.negation)

    def _bool(self, symbol: str, op: ast.boolop, inner) -> ast.expr:
        values = [inner()]
        while self.peek() == symbol:
            self.at += 1
            values.append(inner())
        return values[0] if len(values) == 1 else ast.BoolOp(op=op, values=values)

    def negation(self) -> ast.expr:
        if self.peek() == "not":
            self.at += 1
            return ast.UnaryOp(op=ast.Not(), operand=self.negation())
        return self.bit_or()

    def bit_or(self) -> ast.expr:
        return self._binary({"|": ast.BitOr()}, self.bit_and)

    def bit_and(self) -> ast.expr:
        return self._binary({"&": ast.BitAnd()}, self.equality)

    def equality(self) -> ast.expr:
        return self._compare(_EQUALITIES, self.relation)

    def relation(self) -> ast.expr:
        return self._compare(_RELATIONS, self.sum)

    def _compare(self, symbols: dict[str, ast.cmpop], inner) -> ast.expr:
        left = inner()
        ops, comparators = [], []
        while self.peek() in symbols:  # a < b < c means (a < b) & (b < c), as in Python
            ops.append(symbols[self.take()[1]])
            comparators.append(inner())
        return ast.Compare(left=left, ops=ops, comparators=comparators) if ops else left

    def sum(self) -> ast.expr:
        return self._binary({"+": ast.Add(), "-": ast.Sub()}, self.product)

    def product(self) -> ast.expr:
        return self._binary({"*": ast.Mult(), "/": ast.Div(), "%": ast.Mod()}, self.unary)

    def _binary(self, symbols: dict[str, ast.operator], inner) -> ast.expr:
        node = inner()
        while self.peek() in symbols:
            op = symbols[self.take()[1]]
            node = ast.BinOp(left=node, op=op, right=inner())
        return node

    def unary(self) -> ast.expr:
        ops = {"-": ast.USub(), "+": ast.UAdd(), "!": ast.Not(), "~": ast.Not()}
        if self.peek() in ops:
            return ast.UnaryOp(op=ops[self.take()[1]], operand=self.unary())
        return self.power()

    def power(self) -> ast.expr:
        base = self.primary()
        if self.peek() == "**":  # right-associative, and -a ** 2 is -(a ** 2)
            self.at += 1
            return ast.BinOp(left=base, op=ast.Pow(), right=self.unary())
        return base

    def primary(self) -> ast.expr:
        kind, text = self.take()
        if kind == "number":
            return ast.Constant(value=float(text) if any(c in text for c in ".eE") else int(text))
        if kind == "string":
            raise UserError(f"expression '{self.expression}': the constant {text} is not allowed; only numbers are")
        if kind == "name":
            if self.peek() != "(":
                return ast.Name(id=text, ctx=ast.Load())
            if text not in FUNCTIONS:
                guess = closest(text, FUNCTIONS)
                hint = f"; did you mean '{guess}'?" if guess else ""
                raise UserError(f"expression '{self.expression}': calling '{text}' is not allowed{hint}; "
                                f"allowed functions: {', '.join(FUNCTIONS)}")
            self.at += 1
            args = []
            while self.peek() != ")":
                args.append(self.logical_or())
                if self.peek() != ")":
                    self.expect(",")
            self.at += 1
            return ast.Call(func=ast.Name(id=text, ctx=ast.Load()), args=args, keywords=[])
        if text == "(":
            node = self.logical_or()
            self.expect(")")
            return node
        self.invalid(f"unexpected '{text}'")
        raise AssertionError  # invalid() raises


def parse(expression: str, field: str = "") -> ast.Expression:
    """Read ``expression`` into an :mod:`ast` tree of the language's nodes; ``field`` prefixes errors."""
    try:
        return _Reader(str(expression).strip()).read()
    except UserError as error:
        if field:
            raise UserError(f"{field}: {error}") from None
        raise


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
        raise UserError(f"{prefix}expression '{expression}' cannot be evaluated: {first_line(error)}") from None


def _value(node: ast.AST, columns: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return columns[node.id]
    if isinstance(node, ast.BinOp):
        return BINARY[type(node.op)](_value(node.left, columns), _value(node.right, columns))
    if isinstance(node, ast.UnaryOp):
        operand = _value(node.operand, columns)
        if isinstance(node.op, ast.Not):
            return ~_truth(operand)
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BoolOp):  # && and || element by element; numbers are true when not zero
        values = [_truth(_value(v, columns)) for v in node.values]
        combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
        result = values[0]
        for value in values[1:]:
            result = combine(result, value)
        return result
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
    raise AssertionError(f"unchecked node {type(node).__name__}")  # the reader makes no other node


def _truth(value: Any) -> Any:
    """``value`` as booleans: itself if boolean, else whether it is not zero."""
    dtype = getattr(value, "dtype", None)
    if isinstance(value, bool) or (isinstance(dtype, np.dtype) and dtype.kind == "b"):
        return value
    if _is_awkward(value):
        import awkward as ak

        if str(ak.type(value)).endswith("bool"):
            return value
    return value != 0
