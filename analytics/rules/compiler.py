"""The rule compiler: syntax trees checked against a :class:`Schema` and turned into psycopg.sql.

Literals travel only as named parameters, columns only as ``sql.Identifier`` of schema columns,
and every operator and function comes from a fixed table of SQL constants.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, assert_never

from psycopg import sql

from analytics.rules.syntax import (
    KEYWORDS,
    MAX_LENGTH,
    PLAIN_NAME,
    Aggregate,
    Binary,
    Boolean,
    Call,
    InList,
    IsNull,
    Name,
    Node,
    Number,
    RuleError,
    Scope,
    String,
    Type,
    Unary,
    check_shape,
    parse,
    render,
    rule_error,
)


@dataclass(frozen=True)
class Field:
    """A field rules may name: its SQL column and its type."""

    column: str
    type: Type
    doc: str = ""

    def __post_init__(self) -> None:
        if not PLAIN_NAME.fullmatch(self.column):
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
            if not PLAIN_NAME.fullmatch(name) or name in KEYWORDS:
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
    if not PLAIN_NAME.fullmatch(name):
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
        return rule_error(self.text, pos, what, hint)

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
        check_shape(node, self.text)
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
