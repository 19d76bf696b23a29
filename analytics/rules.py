r"""Policy rule expressions: a small, safe language compiled to parameterised PostgreSQL.

Policy staff write eligibility and amount rules in the policy catalog; this module parses them,
checks names and types against a :class:`Schema` and compiles them to :mod:`psycopg.sql` objects.
Literal values only ever travel as named parameters, columns only as ``sql.Identifier`` of schema
columns, and every operator and function comes from a fixed table of SQL constants.

Grammar, lowest precedence first (keywords and names are lower-case ASCII)::

    rule    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := sum [ ("==" | "!=" | "<" | "<=" | ">" | ">=") sum
                   | ["not"] "in" "(" literal ("," literal)* ")"
                   | "is" ["not"] "null" ]                     (comparisons do not chain)
    sum     := product (("+" | "-") product)*
    product := unary (("*" | "/") unary)*
    unary   := "-" unary | primary
    primary := NUMBER | STRING | "true" | "false" | NAME | "(" or ")"
             | FUNC "(" or ("," or)* ")"
             | AGG "(" "members" ["." NAME] ["where" or] ")"
    literal := ["-"] NUMBER | STRING | "true" | "false"
    NUMBER  := [0-9]+ ["." [0-9]+]
    STRING  := '"' character* '"'      (inside, \" is a quote and \\ a backslash)
    NAME    := [a-z_][a-z0-9_]*

White space and ``#`` comments (to the end of the line) separate tokens.

FUNC: ``max(a, b, …)`` and ``min(…)`` (GREATEST / LEAST, which skip NULLs), ``abs(x)``,
``round(x)`` or ``round(x, n)`` (n a whole-number literal, ``|n| <= 10``), ``coalesce(a, b, …)``.
AGG, over the household's members: ``count(members [where C])``, ``any(members where C)``,
``all(members where C)``, ``sum|max|min(members.FIELD [where C])``. Inside an aggregate, names
are member fields; outside, household fields; aggregates do not nest.

Types are bool, number and text. ``and or not`` take bools; ``+ - * /``, ``< <= > >=``, ``max``,
``min``, ``abs`` and ``round`` take numbers; ``== !=``, ``in`` and ``coalesce`` take values of
one type. ``/`` is numeric division and gives NULL for a zero divisor. NULL (unknown) propagates
as in SQL; a member whose ``where`` condition is NULL does not satisfy it. Households without
members count 0, sum 0, ``any`` false and ``all`` true. A rule is at most 2,000 characters.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, TypeAlias, assert_never

from psycopg import sql

from core.errors import DataSourceError

Type = Literal["bool", "number", "text"]
Scope = Literal["household", "member"]

#: Longest rule text accepted, in characters.
MAX_LENGTH = 2000
#: Deepest nesting of parentheses, calls and prefix operators the parser follows.
MAX_NESTING = 40
#: Deepest syntax tree accepted (long ``a or b or …`` chains nest too).
MAX_DEPTH = 100
KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "true", "false", "where", "members"})
FUNCTIONS = frozenset({"max", "min", "abs", "round", "coalesce"})
AGGREGATES = frozenset({"count", "any", "all", "sum", "max", "min"})
_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_COMPARE = ("==", "!=", "<", "<=", ">", ">=")
_SCAN = re.compile(
    r"(?P<ws>(?:\s|#[^\n]*)+)|(?P<num>[0-9]+(?:\.[0-9]+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>==|!=|<=|>=|[<>+\-*/(),.])"
)
_FULLWIDTH = dict(zip("（），“”＝＜＞！＋－＊／．", '(),""=<>!+-*/.', strict=True))


class RuleError(DataSourceError):
    """A rule that cannot be parsed or compiled.

    ``text`` is the rule, ``position`` the 0-based character offset of the problem, ``message``
    the explanation (which names the position) and ``rule`` the catalog key, when known.
    """

    def __init__(self, message: str, text: str, position: int, rule: str | None = None) -> None:
        super().__init__(message if rule is None else f"rule {rule!r}: {message}")
        self.message = message
        self.text = text
        self.position = position
        self.rule = rule

    def pointer(self) -> str:
        """The line of the rule holding the problem, and a caret under the problem."""
        start = self.text.rfind("\n", 0, self.position) + 1
        end = self.text.find("\n", self.position)
        line = self.text[start : None if end < 0 else end]
        pad = "".join(
            "  " if unicodedata.east_asian_width(ch) in "WF" else " "
            for ch in self.text[start : self.position]
        )
        return f"{line}\n{pad}^"


def _error(text: str, pos: int, what: str, hint: str | None = None) -> RuleError:
    return RuleError(f"{what} at {pos}" + (f" ({hint})" if hint else ""), text, pos)


# --- syntax tree: frozen dataclasses; positions do not take part in equality --------------------


@dataclass(frozen=True)
class Number:
    """A number literal (an int, or a Decimal when written with a decimal point)."""

    value: int | Decimal
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class String:
    """A text literal."""

    value: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Boolean:
    """``true`` or ``false``."""

    value: bool
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Name:
    """A field: a household field outside aggregates, a member field inside."""

    name: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Unary:
    """``not x`` or ``-x``."""

    op: Literal["not", "-"]
    operand: Node
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Binary:
    """An arithmetic, comparison or boolean operator."""

    op: str
    left: Node
    right: Node
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class InList:
    """``x in (…)`` or ``x not in (…)``."""

    operand: Node
    items: tuple[Number | String | Boolean, ...]
    negated: bool
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class IsNull:
    """``x is null`` or ``x is not null``."""

    operand: Node
    negated: bool
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Call:
    """A scalar function: max, min, abs, round or coalesce."""

    func: str
    args: tuple[Node, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Aggregate:
    """An aggregate over the household's members, e.g. ``sum(members.x where c)``."""

    func: str
    member_field: str | None
    where: Node | None
    pos: int = field(default=0, compare=False)
    field_pos: int = field(default=0, compare=False)


Node: TypeAlias = (
    Number | String | Boolean | Name | Unary | Binary | InList | IsNull | Call | Aggregate
)


# --- lexer -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: Literal["num", "str", "name", "kw", "op", "end"]
    text: str
    pos: int
    value: int | Decimal | str | None = None


def _show(ch: str) -> str:
    return repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"


def _string(text: str, start: int) -> tuple[str, int]:
    """Read the string literal opening at ``start``; return its value and the end offset."""
    chars: list[str] = []
    pos = start + 1
    while pos < len(text):
        ch = text[pos]
        if ch == '"':
            return "".join(chars), pos + 1
        if ch == "\\":
            escaped = text[pos + 1 : pos + 2]
            if escaped not in ('"', "\\"):
                raise _error(
                    text, pos, "unknown escape in a string", 'only \\" and \\\\ are allowed'
                )
            chars.append(escaped)
            pos += 2
            continue
        if unicodedata.category(ch) in ("Cc", "Cs"):
            raise _error(text, pos, f"control character {_show(ch)} in a string")
        chars.append(ch)
        pos += 1
    raise _error(text, start, "string is never closed", 'end it with "')


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos] == '"':
            value, end = _string(text, pos)
            tokens.append(_Token("str", text[pos:end], pos, value))
            pos = end
            continue
        match = _SCAN.match(text, pos)
        if match is None:
            ch = text[pos]
            hint = f"use ASCII {_FULLWIDTH[ch]!r}" if ch in _FULLWIDTH else None
            raise _error(text, pos, f"unexpected character {_show(ch)}", hint)
        word, kind = match.group(), match.lastgroup
        if kind == "num":
            tokens.append(_Token("num", word, pos, Decimal(word) if "." in word else int(word)))
        elif kind == "name":
            if word != word.lower():
                raise _error(
                    text, pos, f"names are lower-case: {word!r}", f"write {word.lower()!r}"
                )
            tokens.append(_Token("kw" if word in KEYWORDS else "name", word, pos))
        elif kind == "op":
            tokens.append(_Token("op", word, pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


# --- parser ------------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the token list; one method per grammar rule."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0
        self.nesting = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def at(self, *texts: str, ahead: int = 0) -> bool:
        tok = self.tokens[min(self.i + ahead, len(self.tokens) - 1)]
        return tok.kind in ("op", "kw") and tok.text in texts

    def fail(self, what: str, tok: _Token | None = None, hint: str | None = None) -> RuleError:
        tok = tok or self.tok
        found = "end of rule" if tok.kind == "end" else repr(tok.text)
        return _error(self.text, tok.pos, what.replace("{found}", found), hint)

    def enter(self, tok: _Token) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.fail(f"rule is nested more than {MAX_NESTING} levels deep", tok)

    def close(self, opener: _Token, inside: str | None = None) -> None:
        """Take the ')' matching ``opener`` (of ``inside``, when not a plain parenthesis)."""
        if self.at(")"):
            self.take()
            self.nesting -= 1
            return
        if self.tok.kind == "end":
            raise self.fail(
                f"'(' {'' if inside is None else f'of {inside} '}is never closed", opener
            )
        expected = "')'" if inside is None else f"',' or ')' in {inside}"
        raise self.fail(f"expected {expected}, found {{found}}")

    def rule(self) -> Node:
        if self.tok.kind == "end":
            raise _error(self.text, 0, "empty rule")
        node = self.or_()
        if self.at(")"):
            raise self.fail("unexpected ')'", hint="no matching '('")
        if self.tok.kind != "end":
            raise self.fail("unexpected {found} after a complete expression", hint="missing 'and'?")
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.at("or"):
            tok = self.take()
            node = Binary("or", node, self.and_(), tok.pos)
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.at("and"):
            tok = self.take()
            node = Binary("and", node, self.not_(), tok.pos)
        return node

    def not_(self) -> Node:
        if not self.at("not"):
            return self.compare()
        tok = self.take()
        self.enter(tok)
        operand = self.not_()
        self.nesting -= 1
        return Unary("not", operand, tok.pos)

    def compare(self) -> Node:
        left = self.sum_()
        tok = self.tok
        node: Node
        if self.at(*_COMPARE):
            self.take()
            node = Binary(tok.text, left, self.sum_(), tok.pos)
        elif self.at("in") or (self.at("not") and self.at("in", ahead=1)):
            node = self.in_list(left)
        elif self.at("is"):
            self.take()
            negated = self.at("not")
            if negated:
                self.take()
            if not self.at("null"):
                raise self.fail("expected 'null' after 'is', found {found}")
            self.take()
            node = IsNull(left, negated, tok.pos)
        else:
            return left
        if self.at(*_COMPARE, "in", "is") or (self.at("not") and self.at("in", ahead=1)):
            raise self.fail("comparisons cannot be chained", hint="join them with 'and'")
        return node

    def in_list(self, left: Node) -> InList:
        start = self.take()
        negated = start.text == "not"
        if negated:
            self.take()
        opener = self.tok
        if not self.at("("):
            raise self.fail("expected '(' after 'in', found {found}")
        self.take()
        self.nesting += 1
        if self.at(")"):
            raise self.fail("an 'in' list needs at least one value")
        items = [self.literal()]
        while self.at(","):
            self.take()
            items.append(self.literal())
        self.close(opener, "the 'in' list")
        return InList(left, tuple(items), negated, start.pos)

    def literal(self) -> Number | String | Boolean:
        tok = self.take()
        if tok.kind == "str" and isinstance(tok.value, str):
            return String(tok.value, tok.pos)
        if tok.kind == "num" and isinstance(tok.value, int | Decimal):
            return Number(tok.value, tok.pos)
        if tok.kind == "kw" and tok.text in ("true", "false"):
            return Boolean(tok.text == "true", tok.pos)
        if tok.text == "-" and self.tok.kind == "num":
            number = self.take().value
            if isinstance(number, int | Decimal):
                return Number(-number, tok.pos)
        raise self.fail("an 'in' list holds only literal values, found {found}", tok)

    def sum_(self) -> Node:
        node = self.product()
        while self.at("+", "-"):
            tok = self.take()
            node = Binary(tok.text, node, self.product(), tok.pos)
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.at("*", "/"):
            tok = self.take()
            node = Binary(tok.text, node, self.unary(), tok.pos)
        return node

    def unary(self) -> Node:
        if not self.at("-"):
            return self.primary()
        tok = self.take()
        self.enter(tok)
        operand = self.unary()
        self.nesting -= 1
        return Unary("-", operand, tok.pos)

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "num" and isinstance(tok.value, int | Decimal):
            return Number(tok.value, tok.pos)
        if tok.kind == "str" and isinstance(tok.value, str):
            return String(tok.value, tok.pos)
        if tok.kind == "kw" and tok.text in ("true", "false"):
            return Boolean(tok.text == "true", tok.pos)
        if tok.kind == "name":
            return self.call(tok) if self.at("(") else Name(tok.text, tok.pos)
        if tok.text == "members" and tok.kind == "kw":
            raise self.fail("'members' is only allowed inside count(…), any(…), sum(…) …", tok)
        if tok.text == "(" and tok.kind == "op":
            self.enter(tok)
            node = self.or_()
            self.close(tok)
            return node
        raise self.fail("expected a value, found {found}", tok)

    def call(self, name: _Token) -> Node:
        func = name.text
        if func in AGGREGATES and self.at("members", ahead=1):
            return self.aggregate(name)
        if func not in FUNCTIONS:
            if func in AGGREGATES:
                raise self.fail(f"{func}() works on members", name, f"write {func}(members …)")
            close = difflib.get_close_matches(func, sorted(FUNCTIONS | AGGREGATES), n=1)
            hint = f"did you mean {close[0]!r}?" if close else None
            raise self.fail(f"unknown function {func!r}", name, hint)
        opener = self.take()
        self.enter(opener)
        args = [self.or_()]
        while self.at(","):
            self.take()
            args.append(self.or_())
        self.close(opener, f"{func}()")
        return Call(func, tuple(args), name.pos)

    def aggregate(self, name: _Token) -> Aggregate:
        opener = self.take()
        self.enter(opener)
        self.take()  # members
        member_field, field_pos = None, self.tok.pos
        if self.at("."):
            self.take()
            if self.tok.kind != "name":
                raise self.fail("expected a member field after 'members.', found {found}")
            member_field, field_pos = self.tok.text, self.take().pos
        where = None
        if self.at("where"):
            self.take()
            where = self.or_()
        elif not self.at(")"):
            expected = "'.FIELD', 'where' or ')'" if member_field is None else "'where' or ')'"
            raise self.fail(f"expected {expected} in {name.text}(members…), found {{found}}")
        self.close(opener, f"{name.text}()")
        node = Aggregate(name.text, member_field, where, name.pos, field_pos)
        _check_shape(node, self.text)
        return node


def _check_shape(node: Aggregate, text: str) -> None:
    """Which aggregates take a field and which need a condition."""
    func = node.func
    if func in ("count", "any", "all") and node.member_field is not None:
        raise _error(text, node.pos, f"{func}() takes no field", f"write {func}(members where …)")
    if func in ("sum", "max", "min") and node.member_field is None:
        raise _error(
            text, node.pos, f"{func}() needs a member field", f"write {func}(members.FIELD)"
        )
    if func in ("any", "all") and node.where is None:
        raise _error(
            text, node.pos, f"{func}() needs a condition", f"write {func}(members where …)"
        )


def _children(node: Node) -> tuple[Node, ...]:
    match node:
        case Unary() | IsNull():
            return (node.operand,)
        case Binary():
            return (node.left, node.right)
        case InList():
            return (node.operand, *node.items)
        case Call():
            return node.args
        case Aggregate():
            return () if node.where is None else (node.where,)
    return ()


def parse(text: str) -> Node:
    """Parse a rule into its syntax tree (pure: no schema, no SQL).

    Parameters
    ----------
    text
        The rule, e.g. ``status in ("低保", "特困") and income_per_capita < 1145``.

    Returns
    -------
    Node
        The root of a tree of frozen dataclasses; positions are kept but do not affect equality.

    Raises
    ------
    RuleError
        On any syntax error, an unknown function, an empty or over-long rule.
    """
    if len(text) > MAX_LENGTH:
        raise _error(text, MAX_LENGTH, f"rule is longer than {MAX_LENGTH} characters ({len(text)})")
    root = _Parser(text).rule()
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _error(text, node.pos, f"rule is nested more than {MAX_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in _children(node))
    return root


# --- rendering: the canonical text of a tree --------------------------------------------------

_PRECEDENCE = {"or": 1, "and": 2, **dict.fromkeys(_COMPARE, 4), "+": 5, "-": 5, "*": 6, "/": 6}


def _precedence(node: Node) -> int:
    match node:
        case Binary():
            return _PRECEDENCE[node.op]
        case Unary():
            return 3 if node.op == "not" else 7
        case InList() | IsNull():
            return 4
        case Number() if node.value < 0:
            return 7
    return 8


def _wrap(node: Node, least: int) -> str:
    text = render(node)
    return text if _precedence(node) >= least else f"({text})"


def render(node: Node) -> str:  # noqa: PLR0911 - one return per node type
    """The canonical text of a syntax tree; ``parse(render(tree)) == tree``."""
    match node:
        case Number():
            return format(node.value, "f") if isinstance(node.value, Decimal) else str(node.value)
        case String():
            return '"' + node.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        case Boolean():
            return "true" if node.value else "false"
        case Name():
            return node.name
        case Unary(op="not"):
            return "not " + _wrap(node.operand, 3)
        case Unary():
            inner = _wrap(node.operand, 7)
            return ("- " if inner.startswith("-") else "-") + inner
        case Binary():
            least = _PRECEDENCE[node.op]
            left, right = (5, 5) if least == 4 else (least, least + 1)
            return f"{_wrap(node.left, left)} {node.op} {_wrap(node.right, right)}"
        case InList():
            items = ", ".join(render(item) for item in node.items)
            return f"{_wrap(node.operand, 5)} {'not in' if node.negated else 'in'} ({items})"
        case IsNull():
            return f"{_wrap(node.operand, 5)} is {'not ' if node.negated else ''}null"
        case Call():
            return f"{node.func}({', '.join(render(arg) for arg in node.args)})"
        case Aggregate():
            target = "members" if node.member_field is None else f"members.{node.member_field}"
            where = "" if node.where is None else f" where {render(node.where)}"
            return f"{node.func}({target}{where})"
    assert_never(node)


# --- schema and compilation --------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """A field rules may name: its SQL column and its type."""

    column: str
    type: Type
    doc: str = ""

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.column):
            raise ValueError(f"column {self.column!r} is not a plain lower-case SQL name")
        if self.type not in ("bool", "number", "text"):
            raise ValueError(f"field type {self.type!r} is not bool, number or text")


@dataclass(frozen=True)
class Schema:
    """The fields of a household row and of a member row, by the names rules use."""

    household: Mapping[str, Field]
    member: Mapping[str, Field]

    def __post_init__(self) -> None:
        for name in (*self.household, *self.member):
            if not _NAME.fullmatch(name) or name in KEYWORDS:
                raise ValueError(f"field name {name!r} cannot be used in rules")


_OPS = {
    **{op: sql.SQL(op) for op in ("+", "-", "*", "<", "<=", ">", ">=")},
    "==": sql.SQL("="),
    "!=": sql.SQL("<>"),
    "and": sql.SQL("AND"),
    "or": sql.SQL("OR"),
}
_CAST = {"number": sql.SQL("::numeric"), "text": sql.SQL("::text"), "bool": sql.SQL("::boolean")}
_ARRAY_CAST = {
    "number": sql.SQL("::numeric[]"),
    "text": sql.SQL("::text[]"),
    "bool": sql.SQL("::boolean[]"),
}
_FUNC = {"max": sql.SQL("GREATEST"), "min": sql.SQL("LEAST"), "abs": sql.SQL("abs")}
_FUNC |= {"coalesce": sql.SQL("coalesce")}
_AGG = {"sum": sql.SQL("sum"), "max": sql.SQL("max"), "min": sql.SQL("min")}
_AGG_DEFAULT = {"count": sql.SQL("0"), "sum": sql.SQL("0"), "any": sql.SQL("false")}
_AGG_DEFAULT |= {"all": sql.SQL("true")}
_ARITY = {"abs": (1, 1, "1 argument"), "round": (1, 2, "1 or 2 arguments")}
_PLURAL = {"bool": "bool values", "number": "numbers", "text": "text"}
_LITERAL_TYPE: dict[type, Type] = {Number: "number", String: "text", Boolean: "bool"}


@dataclass(frozen=True)
class CompiledRules:
    """Rules compiled to SQL: one expression per rule, the member aggregates and the parameters.

    ``predicates`` refer to household columns as ``<household_alias>.<column>`` and to member
    aggregates as ``<aggregate_alias>.a0`` …; ``aggregates`` are ``(name, expression)`` pairs over
    ``<member_alias>``, shared by all rules; ``params`` hold every literal value by name.
    """

    predicates: dict[str, sql.Composable]
    aggregates: list[tuple[str, sql.Composable]]
    params: dict[str, object]
    household_alias: str = "h"
    member_alias: str = "m"
    aggregate_alias: str = "agg"

    def aggregate_query(
        self, member_table: sql.Composable, *, key: str = "household_id"
    ) -> sql.Composed:
        """``SELECT m.<key>, <aggregate> AS a0, … FROM <member_table> AS m GROUP BY m.<key>``.

        Parameters
        ----------
        member_table
            The member table, e.g. ``sql.Identifier("onemap", "member")``.
        key
            The household key column of the member table.
        """
        _check_name(key, "key column")
        key_column = sql.Identifier(self.member_alias, key)
        columns: list[sql.Composable] = [key_column]
        columns += [sql.SQL("{} AS {}").format(e, sql.Identifier(n)) for n, e in self.aggregates]
        return sql.SQL("SELECT {} FROM {} AS {} GROUP BY {}").format(
            sql.SQL(", ").join(columns), member_table, sql.Identifier(self.member_alias), key_column
        )

    def query(
        self,
        household_table: sql.Composable,
        member_table: sql.Composable,
        *,
        key: str = "household_id",
    ) -> sql.Composed:
        """Every household's key and one column per rule (named by the rule key).

        The member aggregates are computed once and LEFT JOINed as ``<aggregate_alias>``; run
        the result with ``params``. Parameters as for :meth:`aggregate_query`; both tables share
        ``key``.
        """
        _check_name(key, "key column")
        alias = sql.Identifier(self.household_alias)
        columns: list[sql.Composable] = [sql.Identifier(self.household_alias, key)]
        columns += [
            sql.SQL("{} AS {}").format(p, sql.Identifier(k)) for k, p in self.predicates.items()
        ]
        query = sql.SQL("SELECT {} FROM {} AS {}").format(
            sql.SQL(", ").join(columns), household_table, alias
        )
        if not self.aggregates:
            return query
        return sql.SQL("{} LEFT JOIN ({}) AS {} ON {} = {}").format(
            query,
            self.aggregate_query(member_table, key=key),
            sql.Identifier(self.aggregate_alias),
            sql.Identifier(self.aggregate_alias, key),
            sql.Identifier(self.household_alias, key),
        )


def _check_name(name: str, what: str) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(f"{what} {name!r} is not a plain lower-case SQL name")


class _Compiler:
    """Type-checks syntax trees and turns them into SQL, collecting parameters and aggregates."""

    def __init__(self, schema: Schema, aliases: tuple[str, str, str], prefixes: tuple[str, str]):
        self.schema = schema
        self.alias = {"household": aliases[0], "member": aliases[1]}
        self.agg_alias = aliases[2]
        self.param_prefix, self.aggregate_prefix = prefixes
        self.params: dict[str, object] = {}
        self.aggregates: dict[str, tuple[str, sql.Composable]] = {}
        self.text = ""

    def fail(self, pos: int, what: str, hint: str | None = None) -> RuleError:
        return _error(self.text, pos, what, hint)

    def param(self, value: object, cast: sql.SQL) -> sql.Composed:
        name = f"{self.param_prefix}{len(self.params)}"
        self.params[name] = value
        return sql.Composed([sql.Placeholder(name), cast])

    def rule(self, text: str, kind: Type) -> sql.Composable:
        self.text = text
        compiled, got = self.expr(parse(text), "household")
        if got != kind:
            wanted = "a condition (bool)" if kind == "bool" else "an amount (number)"
            raise self.fail(0, f"the rule must give {wanted} but gives {got}")
        return compiled

    def expr(self, node: Node, scope: Scope) -> tuple[sql.Composable, Type]:  # noqa: PLR0911
        match node:
            case Number() | String() | Boolean():
                kind = _LITERAL_TYPE[type(node)]
                return self.param(node.value, _CAST[kind]), kind
            case Name():
                return self.name(node.name, node.pos, scope)
            case Unary():
                return self.unary(node, scope)
            case Binary():
                return self.binary(node, scope)
            case InList():
                return self.in_list(node, scope)
            case IsNull():
                operand, _ = self.expr(node.operand, scope)
                test = sql.SQL("({} IS NOT NULL)" if node.negated else "({} IS NULL)")
                return test.format(operand), "bool"
            case Call():
                return self.call(node, scope)
            case Aggregate():
                return self.aggregate(node, scope)
        assert_never(node)

    def name(self, name: str, pos: int, scope: Scope) -> tuple[sql.Composable, Type]:
        fields = self.schema.household if scope == "household" else self.schema.member
        found = fields.get(name)
        if found is not None:
            return sql.Identifier(self.alias[scope], found.column), found.type
        if scope == "household" and name in self.schema.member:
            raise self.fail(
                pos,
                f"member field {name!r} outside an aggregate",
                f"e.g. any(members where {name} …)",
            )
        if scope == "member" and name in self.schema.household:
            raise self.fail(pos, f"household field {name!r} inside a member aggregate")
        other, other_scope = (
            (self.schema.member, "member")
            if scope == "household"
            else (self.schema.household, "household")
        )
        hint = None
        if close := difflib.get_close_matches(name, sorted(fields), n=1):
            hint = f"did you mean {close[0]!r}?"
        elif close := difflib.get_close_matches(name, sorted(other), n=1):
            hint = f"{close[0]!r} is a {other_scope} field"
        what = "field" if scope == "household" else "member field"
        raise self.fail(pos, f"unknown {what} {name!r}", hint)

    def typed(self, node: Node, scope: Scope, want: Type, what: str) -> sql.Composable:
        compiled, got = self.expr(node, scope)
        if got != want:
            raise self.fail(_start(node), f"{what} needs {want}, got {got}")
        return compiled

    def unary(self, node: Unary, scope: Scope) -> tuple[sql.Composable, Type]:
        kind: Type = "bool" if node.op == "not" else "number"
        operand = self.typed(node.operand, scope, kind, repr(node.op))
        return sql.SQL("(NOT {})" if node.op == "not" else "(- {})").format(operand), kind

    def binary(self, node: Binary, scope: Scope) -> tuple[sql.Composable, Type]:
        left, lt = self.expr(node.left, scope)
        right, rt = self.expr(node.right, scope)
        op = node.op
        if op in ("==", "!="):
            if lt != rt:
                raise self.fail(node.pos, f"{op!r} compares values of one type, got {lt} and {rt}")
        else:
            want: Type = "bool" if op in ("and", "or") else "number"
            if lt != want or rt != want:
                needs = f"{op!r} needs {_PLURAL[want]} on both sides"
                raise self.fail(node.pos, f"{needs}, got {lt} and {rt}")
        result: Type = "number" if op in ("+", "-", "*", "/") else "bool"
        if op == "/":
            division = sql.SQL("(CAST({} AS numeric) / NULLIF(CAST({} AS numeric), 0))")
            return division.format(left, right), result
        return sql.SQL("({} {} {})").format(left, _OPS[op], right), result

    def in_list(self, node: InList, scope: Scope) -> tuple[sql.Composable, Type]:
        operand, kind = self.expr(node.operand, scope)
        for item in node.items:
            if (got := _LITERAL_TYPE[type(item)]) != kind:
                raise self.fail(item.pos, f"'in' list value is {got} but the left side is {kind}")
        values = [Decimal(i.value) if kind == "number" else i.value for i in node.items]
        test = sql.SQL("({} <> ALL({}))" if node.negated else "({} = ANY({}))")
        return test.format(operand, self.param(values, _ARRAY_CAST[kind])), "bool"

    def call(self, node: Call, scope: Scope) -> tuple[sql.Composable, Type]:
        func, args = node.func, node.args
        least, most, takes = _ARITY.get(func, (2, MAX_LENGTH, "at least 2 arguments"))
        if not least <= len(args) <= most:
            raise self.fail(node.pos, f"{func}() takes {takes}, got {len(args)}")
        if func == "round":
            value = self.typed(args[0], scope, "number", "round()")
            if len(args) == 1:
                return sql.SQL("round(CAST({} AS numeric))").format(value), "number"
            digits = self.param(self.digits(args[1]), sql.SQL("::integer"))
            return sql.SQL("round(CAST({} AS numeric), {})").format(value, digits), "number"
        want: Type = "number"
        if func == "coalesce":
            want = self.expr(args[0], scope)[1]
        parts = [self.typed(arg, scope, want, f"{func}()") for arg in args]
        return sql.SQL("{}({})").format(_FUNC[func], sql.SQL(", ").join(parts)), want

    def digits(self, node: Node) -> int:
        value = node.value if isinstance(node, Number) else None
        if isinstance(node, Unary) and node.op == "-" and isinstance(node.operand, Number):
            value = -node.operand.value
        if not isinstance(value, int) or abs(value) > 10:
            raise self.fail(_start(node), "round() takes a whole number of digits from -10 to 10")
        return value

    def aggregate(self, node: Aggregate, scope: Scope) -> tuple[sql.Composable, Type]:
        if scope == "member":
            raise self.fail(node.pos, f"aggregates cannot be nested: {node.func}() inside another")
        key = render(node)
        if key not in self.aggregates:
            body = self.aggregate_body(node)
            self.aggregates[key] = (f"{self.aggregate_prefix}{len(self.aggregates)}", body)
        reference = sql.Identifier(self.agg_alias, self.aggregates[key][0])
        kind: Type = "bool" if node.func in ("any", "all") else "number"
        default = _AGG_DEFAULT.get(node.func)
        if default is None:
            return reference, kind
        return sql.SQL("coalesce({}, {})").format(reference, default), kind

    def aggregate_body(self, node: Aggregate) -> sql.Composable:
        _check_shape(node, self.text)
        func = node.func
        condition = None
        if node.where is not None:
            condition = self.typed(node.where, "member", "bool", "'where'")
        if func in ("any", "all"):
            template = "bool_or({})" if func == "any" else "bool_and(coalesce({}, false))"
            return sql.SQL(template).format(condition)
        base: sql.Composable = sql.SQL("count(*)")
        if node.member_field is not None:
            column, kind = self.name(node.member_field, node.field_pos, "member")
            if kind != "number":
                raise self.fail(node.field_pos, f"{func}() needs a number field, got {kind}")
            base = sql.SQL("{}({})").format(_AGG[func], column)
        if condition is not None:
            base = sql.SQL("{} FILTER (WHERE {})").format(base, condition)
        return sql.SQL("coalesce({}, 0)").format(base) if func == "sum" else base


def _start(node: Node) -> int:
    """Where the text of a node starts (binary nodes are positioned at their operator)."""
    while isinstance(node, Binary | InList | IsNull):
        node = node.left if isinstance(node, Binary) else node.operand
    return node.pos


def compile_rules(
    rules: Mapping[str, str],
    schema: Schema,
    *,
    kind: Literal["bool", "number"],
    household_alias: str = "h",
    member_alias: str = "m",
    aggregate_alias: str = "agg",
    param_prefix: str = "p",
    aggregate_prefix: str = "a",
) -> CompiledRules:
    """Compile named rules to parameterised SQL over one household row and its members.

    Parameters
    ----------
    rules
        Rule texts by key (e.g. the policy catalog's eligibility rules).
    schema
        The fields rules may name and the columns they stand for.
    kind
        ``"bool"`` for eligibility rules, ``"number"`` for amount rules; every rule must give it.
    household_alias, member_alias, aggregate_alias
        The SQL aliases of the household table, the member table and the aggregate subquery.
    param_prefix, aggregate_prefix
        Parameters are named ``p0, p1, …`` and aggregates ``a0, a1, …`` by default; give other
        prefixes to put two compilations (eligibility and amounts, say) in one statement.

    Returns
    -------
    CompiledRules
        Predicates by key, the deduplicated member aggregates and the parameters.

    Raises
    ------
    RuleError
        For the first rule that does not parse or type-check; ``rule`` names its key.
    """
    if kind not in ("bool", "number"):
        raise ValueError(f"kind must be 'bool' or 'number', not {kind!r}")
    aliases = (household_alias, member_alias, aggregate_alias)
    for name in (*aliases, param_prefix, aggregate_prefix):
        _check_name(name, "alias or prefix")
    if household_alias == aggregate_alias:
        raise ValueError("the household and aggregate aliases must differ")
    compiler = _Compiler(schema, aliases, (param_prefix, aggregate_prefix))
    predicates: dict[str, sql.Composable] = {}
    for key, text in rules.items():
        try:
            if not isinstance(text, str):
                raise RuleError("a rule must be text", str(text), 0)
            predicates[key] = compiler.rule(text, kind)
        except RuleError as error:
            raise RuleError(error.message, error.text, error.position, rule=key) from None
    return CompiledRules(
        predicates,
        list(compiler.aggregates.values()),
        dict(compiler.params),
        household_alias,
        member_alias,
        aggregate_alias,
    )
