"""Text → syntax tree. Every node remembers the character where it starts, so an error
points inside the expression ("character 14: unknown field 'amout'")."""

from __future__ import annotations

import datetime as dt
import pathlib
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken


class ExpressionError(ValueError):
    """An expression that cannot be parsed or does not fit the model."""

    def __init__(self, message: str, offset: int = 0, hint: str | None = None) -> None:
        self.message = message
        self.offset = offset  # 0-based character of the expression
        self.hint = hint
        super().__init__(f"character {offset + 1}: {message}" + (f" ({hint})" if hint else ""))


@dataclass(frozen=True, slots=True)
class Node:
    at: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: Any  # int, Decimal, str, bool, None or timedelta


@dataclass(frozen=True, slots=True)
class Path(Node):
    parts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Param(Node):
    """`:since`: a report parameter, filled in by the user when the report runs."""

    name: str


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True, slots=True)
class BoolOp(Node):
    op: str  # and | or
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Compare(Node):
    op: str  # == != < <= > >=
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class In(Node):
    operand: Node
    items: tuple[Node, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Between(Node):
    operand: Node
    low: Node
    high: Node


@dataclass(frozen=True, slots=True)
class IsNull(Node):
    operand: Node
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Like(Node):
    operand: Node
    pattern: Node


@dataclass(frozen=True, slots=True)
class Arith(Node):
    op: str  # + - * /
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True, slots=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Filtered(Node):
    """`tickets where status == "open"`: a relation narrowed by a condition."""

    path: Path
    condition: Node


GRAMMAR_FILE = pathlib.Path(__file__).with_name("grammar.lark")

UNITS = {
    "d": dt.timedelta(days=1),
    "h": dt.timedelta(hours=1),
    "m": dt.timedelta(minutes=1),
    "w": dt.timedelta(weeks=1),
}


def _at(item: Tree[Any] | Token) -> int:
    if isinstance(item, Token):
        return int(item.start_pos or 0)
    return int(getattr(item.meta, "start_pos", 0) or 0)


_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t"}


def _unescape(raw: str) -> str:
    """Quotes, backslash, newline and tab; any other backslash stays (like "\\_" in a
    like pattern, where it escapes the wildcard)."""
    out = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw) and raw[i + 1] in _ESCAPES:
            out.append(_ESCAPES[raw[i + 1]])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


@v_args(meta=True)
class _Build(Transformer[Token, Node]):
    def number(self, meta: Any, children: list[Token]) -> Literal:
        text = str(children[0])
        return Literal(meta.start_pos, Decimal(text) if "." in text else int(text))

    def string(self, meta: Any, children: list[Token]) -> Literal:
        return Literal(meta.start_pos, _unescape(str(children[0])[1:-1]))

    def duration(self, meta: Any, children: list[Token]) -> Literal:
        text = str(children[0])
        return Literal(meta.start_pos, UNITS[text[-1]] * float(text[:-1]))

    def true(self, meta: Any, children: list[Any]) -> Literal:
        return Literal(meta.start_pos, True)

    def false(self, meta: Any, children: list[Any]) -> Literal:
        return Literal(meta.start_pos, False)

    def null(self, meta: Any, children: list[Any]) -> Literal:
        return Literal(meta.start_pos, None)

    def param(self, meta: Any, children: list[Token]) -> Param:
        return Param(meta.start_pos, str(children[0])[1:])

    def path(self, meta: Any, children: list[Token]) -> Path:
        return Path(meta.start_pos, tuple(str(c) for c in children))

    def call(self, meta: Any, children: list[Any]) -> Call:
        name = children[0]
        args = tuple(c for c in children[1:] if c is not None)
        return Call(meta.start_pos, str(name).lower(), args)

    def filtered(self, meta: Any, children: list[Any]) -> Filtered:
        return Filtered(meta.start_pos, children[0], children[1])

    def or_expr(self, meta: Any, children: list[Node]) -> BoolOp:
        return BoolOp(meta.start_pos, "or", tuple(children))

    def and_expr(self, meta: Any, children: list[Node]) -> BoolOp:
        return BoolOp(meta.start_pos, "and", tuple(children))

    def not_(self, meta: Any, children: list[Node]) -> Not:
        return Not(meta.start_pos, children[0])

    def compare(self, meta: Any, children: list[Any]) -> Compare:
        left, op, right = children
        return Compare(meta.start_pos, str(op), left, right)

    def in_(self, meta: Any, children: list[Node]) -> In:
        return In(meta.start_pos, children[0], tuple(children[1:]))

    def not_in(self, meta: Any, children: list[Node]) -> In:
        return In(meta.start_pos, children[0], tuple(children[1:]), negated=True)

    def between(self, meta: Any, children: list[Node]) -> Between:
        return Between(meta.start_pos, *children)

    def is_null(self, meta: Any, children: list[Node]) -> IsNull:
        return IsNull(meta.start_pos, children[0])

    def is_not_null(self, meta: Any, children: list[Node]) -> IsNull:
        return IsNull(meta.start_pos, children[0], negated=True)

    def like(self, meta: Any, children: list[Node]) -> Like:
        return Like(meta.start_pos, children[0], children[1])

    def arith(self, meta: Any, children: list[Any]) -> Arith:
        left, op, right = children
        return Arith(meta.start_pos, str(op), left, right)

    def neg(self, meta: Any, children: list[Any]) -> Node:
        sign, operand = children
        if str(sign) == "+":
            return operand  # type: ignore[no-any-return,unused-ignore]
        if isinstance(operand, Literal) and isinstance(operand.value, int | Decimal):
            return Literal(meta.start_pos, -operand.value)
        return Neg(meta.start_pos, operand)


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = GRAMMAR_FILE.read_text(encoding="utf-8")
    return Lark(
        grammar, parser="lalr", lexer="basic", propagate_positions=True, maybe_placeholders=False
    )


_EXPECTED_WORDS = {
    "_OR": "or",
    "_AND": "and",
    "COMP_OP": "a comparison such as ==",
    "ADD_OP": "+ or -",
    "MUL_OP": "* or /",
    "RPAR": ")",
    "LPAR": "(",
    "NAME": "a field name",
    "PARAM": "a parameter such as :since",
    "NUMBER": "a number",
    "STRING": "a text in quotes",
    "_IN": "in",
    "_IS": "is",
    "COMMA": ",",
}


@lru_cache(maxsize=4096)
def parse(text: str) -> Node:
    """Parse an expression; raise ExpressionError with the character where it went wrong."""
    if not text or not text.strip():
        raise ExpressionError(
            "the expression is empty", 0, 'write a condition such as stage == "won"'
        )
    try:
        tree = _parser().parse(text)
    except UnexpectedCharacters as exc:
        at = exc.pos_in_stream or 0
        char = text[at] if at < len(text) else ""
        hint = (
            "use == to compare"
            if char == "="
            else ('put text in "double quotes"' if char in "'`" else None)
        )
        raise ExpressionError(f"unexpected '{char}'", at, hint) from None
    except UnexpectedEOF as exc:
        raise ExpressionError(
            "the expression ends too early", len(text), _expected(exc.expected)
        ) from None
    except UnexpectedToken as exc:
        at = exc.token.start_pos if exc.token.start_pos is not None else len(text)
        if exc.token.type == "$END":
            raise ExpressionError(
                "the expression ends too early", len(text), _expected(exc.expected)
            ) from None
        raise ExpressionError(
            f"unexpected '{exc.token}'", int(at), _expected(exc.expected)
        ) from None
    except UnexpectedInput as exc:  # pragma: no cover - the three above cover lark's cases
        raise ExpressionError(
            "cannot read the expression", getattr(exc, "pos_in_stream", 0) or 0
        ) from None
    node = _Build().transform(tree)
    return node if isinstance(node, Node) else _single(node, text)


def _single(tree: Any, text: str) -> Node:
    if isinstance(tree, Token) and tree.type == "NAME":
        return Path(int(tree.start_pos or 0), (str(tree),))
    raise ExpressionError("cannot read the expression", 0)


def _expected(names: set[str] | frozenset[str] | Any) -> str | None:
    words = sorted({_EXPECTED_WORDS.get(n, "") for n in names or ()} - {""})
    return f"expected {', '.join(words[:5])}" if words else None
