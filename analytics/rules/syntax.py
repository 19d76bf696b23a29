"""The rule language's syntax: tokens, the parser, the syntax tree and its canonical text (pure).

The grammar is in the package's docstring (:mod:`analytics.rules`).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, TypeAlias, assert_never

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
PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_]*")
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


def rule_error(text: str, pos: int, what: str, hint: str | None = None) -> RuleError:
    """A :class:`RuleError` saying ``what`` is wrong at ``pos`` (and how to fix it, if known)."""
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
                raise rule_error(
                    text, pos, "unknown escape in a string", 'only \\" and \\\\ are allowed'
                )
            chars.append(escaped)
            pos += 2
            continue
        if unicodedata.category(ch) in ("Cc", "Cs"):
            raise rule_error(text, pos, f"control character {_show(ch)} in a string")
        chars.append(ch)
        pos += 1
    raise rule_error(text, start, "string is never closed", 'end it with "')


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
            raise rule_error(text, pos, f"unexpected character {_show(ch)}", hint)
        word, kind = match.group(), match.lastgroup
        if kind == "num":
            tokens.append(_Token("num", word, pos, Decimal(word) if "." in word else int(word)))
        elif kind == "name":
            if word != word.lower():
                raise rule_error(
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
        return rule_error(self.text, tok.pos, what.replace("{found}", found), hint)

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
            raise rule_error(self.text, 0, "empty rule")
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
        check_shape(node, self.text)
        return node


def check_shape(node: Aggregate, text: str) -> None:
    """Which aggregates take a field and which need a condition."""
    func = node.func
    if func in ("count", "any", "all") and node.member_field is not None:
        raise rule_error(
            text, node.pos, f"{func}() takes no field", f"write {func}(members where …)"
        )
    if func in ("sum", "max", "min") and node.member_field is None:
        raise rule_error(
            text, node.pos, f"{func}() needs a member field", f"write {func}(members.FIELD)"
        )
    if func in ("any", "all") and node.where is None:
        raise rule_error(
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
        raise rule_error(
            text, MAX_LENGTH, f"rule is longer than {MAX_LENGTH} characters ({len(text)})"
        )
    root = _Parser(text).rule()
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise rule_error(text, node.pos, f"rule is nested more than {MAX_DEPTH} levels deep")
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
