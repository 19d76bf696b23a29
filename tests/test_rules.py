"""Tests of the policy rule language: parsing, errors, SQL compilation and execution on PostGIS."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from decimal import Decimal

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import sql

from analytics.rules import (
    Aggregate,
    Binary,
    Boolean,
    Call,
    CompiledRules,
    Field,
    InList,
    IsNull,
    Name,
    Node,
    Number,
    RuleError,
    Schema,
    String,
    Type,
    Unary,
    compile_rules,
    parse,
    render,
)

HOUSEHOLD_TYPES: dict[str, Type] = {
    "status": "text",
    "income_per_capita": "number",
    "size": "number",
    "water_safe": "bool",
    "housing_grade": "text",
}
MEMBER_TYPES: dict[str, Type] = {
    "age": "number",
    "disability_grade": "number",
    "relation": "text",
    "oop_medical": "number",
    "is_student": "bool",
    "school_stage": "text",
}
SCHEMA = Schema(
    household={name: Field(name, kind) for name, kind in HOUSEHOLD_TYPES.items()}
    | {"income": Field("income_per_capita", "number", "人均月收入 (yuan)")},
    member={name: Field(name, kind) for name, kind in MEMBER_TYPES.items()},
)

# household_id, status, income_per_capita, size, water_safe, housing_grade
HOUSEHOLDS = [
    ("H1", "低保", 800, 3, True, "A"),
    ("H2", "特困", 500, 1, False, "C"),
    ("H3", "低边", 1500, 2, True, "D"),
    ("H4", "低保", 1200, 4, True, "B"),
    ("H5", "特困", None, 1, None, None),  # no members, unknowns
    ("H6", "低保", 1000, 2, True, "A"),
]
# household_id, age, disability_grade, relation, oop_medical, is_student, school_stage
MEMBERS = [
    ("H1", 50, None, "户主", 1000, False, None),
    ("H1", 10, None, "子女", 0, True, "小学"),
    ("H1", 82, 1, "父母", 0, False, None),
    ("H2", 85, 2, "户主", 3000, False, None),
    ("H3", 40, None, "户主", 200, False, None),
    ("H3", 38, None, "配偶", 50, False, None),
    ("H4", 45, None, "户主", 500, False, None),
    ("H4", 12, None, "子女", 0, True, "小学"),
    ("H4", 14, None, "子女", 0, True, "初中"),
    ("H4", 79, 3, "父母", 800, False, None),
    ("H6", None, None, "户主", 100, False, None),
    ("H6", 90, 2, "配偶", 0, False, None),
]

ELIGIBILITY = {
    "dibao_income": 'status in ("低保", "特困") and income_per_capita < 1145',
    "has_80s": "count(members where age >= 80 and age < 90) > 0",
    "disabled_tekun": 'any(members where disability_grade in (1, 2)) and status == "特困"',
    "housing": 'not water_safe or housing_grade in ("C", "D")',
    "all_adults": "all(members where age >= 18)",
    "two_80s": "count(members where age>=80 and age<90) >= 2",
}
AMOUNTS = {
    "top_up": "max(1145 - income_per_capita, 172) * size  # an amount rule (numeric)",
    "medical": 'sum(members.oop_medical where relation == "户主") * 0.6  # aggregate',
    "school": 'count(members where is_student and school_stage == "小学") * 500',
    "per_head": "round(income / (size - size), 2)",
    "oldest": "max(members.age)",
}


@pytest.fixture(scope="module")
def db(database_url: str) -> Iterator[psycopg.Connection]:
    """One connection for the module, holding TEMP tables of six hand-made households."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TEMP TABLE hh (household_id text PRIMARY KEY, status text,"
            " income_per_capita numeric, size int, water_safe bool, housing_grade text)"
        )
        conn.execute(
            "CREATE TEMP TABLE mem (household_id text, age int, disability_grade int,"
            " relation text, oop_medical numeric, is_student bool, school_stage text)"
        )
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO hh VALUES (%s, %s, %s, %s, %s, %s)", HOUSEHOLDS)
            cur.executemany("INSERT INTO mem VALUES (%s, %s, %s, %s, %s, %s, %s)", MEMBERS)
        yield conn


def run(db: psycopg.Connection, compiled: CompiledRules) -> dict[str, dict[str, object]]:
    """Each rule's value per household."""
    query = compiled.query(sql.Identifier("hh"), sql.Identifier("mem"))
    rows = db.execute(query, compiled.params).fetchall()
    return {key: {row[0]: row[i + 1] for row in rows} for i, key in enumerate(compiled.predicates)}


def true_for(values: dict[str, object]) -> set[str]:
    return {household for household, value in values.items() if value is True}


# --- golden cases ------------------------------------------------------------------------------


def test_compiled_sql_is_golden():
    compiled = compile_rules(ELIGIBILITY, SCHEMA, kind="bool")
    text = {key: p.as_string(None) for key, p in compiled.predicates.items()}
    assert text["dibao_income"] == (
        '(("h"."status" = ANY(%(p0)s::text[])) AND ("h"."income_per_capita" < %(p1)s::numeric))'
    )
    assert text["has_80s"] == '(coalesce("agg"."a0", 0) > %(p4)s::numeric)'
    assert (
        text["disabled_tekun"] == '(coalesce("agg"."a1", false) AND ("h"."status" = %(p6)s::text))'
    )
    assert text["housing"] == (
        '((NOT "h"."water_safe") OR ("h"."housing_grade" = ANY(%(p7)s::text[])))'
    )
    assert text["all_adults"] == 'coalesce("agg"."a2", true)'
    # the same aggregate, written with other spacing, is computed once
    assert text["two_80s"] == '(coalesce("agg"."a0", 0) >= %(p9)s::numeric)'
    assert [(name, agg.as_string(None)) for name, agg in compiled.aggregates] == [
        (
            "a0",
            'count(*) FILTER (WHERE (("m"."age" >= %(p2)s::numeric)'
            ' AND ("m"."age" < %(p3)s::numeric)))',
        ),
        ("a1", 'bool_or(("m"."disability_grade" = ANY(%(p5)s::numeric[])))'),
        ("a2", 'bool_and(coalesce(("m"."age" >= %(p8)s::numeric), false))'),
    ]
    assert compiled.params == {
        "p0": ["低保", "特困"],
        "p1": 1145,
        "p2": 80,
        "p3": 90,
        "p4": 0,
        "p5": [1, 2],
        "p6": "特困",
        "p7": ["C", "D"],
        "p8": 18,
        "p9": 2,
    }


def test_amount_sql_is_golden():
    compiled = compile_rules(AMOUNTS, SCHEMA, kind="number", household_alias="x")
    text = {key: p.as_string(None) for key, p in compiled.predicates.items()}
    assert text["top_up"] == (
        '(GREATEST((%(p0)s::numeric - "x"."income_per_capita"), %(p1)s::numeric) * "x"."size")'
    )
    assert text["medical"] == '(coalesce("agg"."a0", 0) * %(p3)s::numeric)'
    assert text["per_head"] == (
        'round(CAST((CAST("x"."income_per_capita" AS numeric)'
        ' / NULLIF(CAST(("x"."size" - "x"."size") AS numeric), 0)) AS numeric), %(p6)s::integer)'
    )
    assert text["oldest"] == '"agg"."a2"'
    assert compiled.aggregates[0][1].as_string(None) == (
        'coalesce(sum("m"."oop_medical") FILTER (WHERE ("m"."relation" = %(p2)s::text)), 0)'
    )
    assert compiled.params["p3"] == Decimal("0.6")


def test_eligibility_end_to_end(db):
    values = run(db, compile_rules(ELIGIBILITY, SCHEMA, kind="bool"))
    assert true_for(values["dibao_income"]) == {"H1", "H2", "H6"}
    assert values["dibao_income"]["H5"] is None  # unknown income stays unknown
    assert true_for(values["has_80s"]) == {"H1", "H2"}
    assert values["has_80s"]["H5"] is False  # no members: a count of 0
    assert true_for(values["disabled_tekun"]) == {"H2"}
    assert true_for(values["housing"]) == {"H2", "H3"}
    # H5 has no members (vacuously all adults); H6's member of unknown age does not count
    assert true_for(values["all_adults"]) == {"H2", "H3", "H5"}
    assert true_for(values["two_80s"]) == set()


def test_amounts_end_to_end(db):
    values = run(db, compile_rules(AMOUNTS, SCHEMA, kind="number"))
    # GREATEST skips NULL: H5's unknown income gives the 172 floor
    assert values["top_up"] == {"H1": 1035, "H2": 645, "H3": 344, "H4": 688, "H5": 172, "H6": 344}
    assert values["medical"] == {"H1": 600, "H2": 1800, "H3": 120, "H4": 300, "H5": 0, "H6": 60}
    assert values["school"] == {"H1": 500, "H2": 0, "H3": 0, "H4": 500, "H5": 0, "H6": 0}
    assert set(values["per_head"].values()) == {None}  # division by zero gives NULL, no error
    assert values["oldest"] == {"H1": 82, "H2": 85, "H3": 40, "H4": 79, "H5": None, "H6": 90}


def test_field_names_map_to_columns_and_aliases():
    compiled = compile_rules(
        {"r": "income < 3 and any(members where is_student)"},
        SCHEMA,
        kind="bool",
        household_alias="hh",
        member_alias="mm",
        aggregate_alias="per_member",
    )
    assert compiled.predicates["r"].as_string(None) == (
        '(("hh"."income_per_capita" < %(p0)s::numeric) AND coalesce("per_member"."a0", false))'
    )
    assert compiled.aggregates[0][1].as_string(None) == 'bool_or("mm"."is_student")'
    query = compiled.aggregate_query(sql.Identifier("onemap", "member"), key="hh_id").as_string(
        None
    )
    assert query == (
        'SELECT "mm"."hh_id", bool_or("mm"."is_student") AS "a0" FROM "onemap"."member" AS "mm"'
        ' GROUP BY "mm"."hh_id"'
    )


def test_two_compilations_share_one_statement(db):
    eligibility = compile_rules(
        {"r": "count(members where age >= 80) > 0"}, SCHEMA, kind="bool", param_prefix="e"
    )
    amounts = compile_rules(
        {"r": "count(members where age >= 80) * 100"},
        SCHEMA,
        kind="number",
        param_prefix="n",
        aggregate_prefix="na",
    )
    assert list(eligibility.params) == ["e0", "e1"]
    assert list(amounts.params) == ["n0", "n1"]
    assert amounts.aggregates[0][0] == "na0"
    assert amounts.predicates["r"].as_string(None) == (
        '(coalesce("agg"."na0", 0) * %(n1)s::numeric)'
    )
    merged = CompiledRules(
        {"eligible": eligibility.predicates["r"], "amount": amounts.predicates["r"]},
        [*eligibility.aggregates, *amounts.aggregates],
        {**eligibility.params, **amounts.params},
    )
    values = run(db, merged)
    assert true_for(values["eligible"]) == {"H1", "H2", "H6"}
    assert values["amount"] == {"H1": 100, "H2": 100, "H3": 0, "H4": 0, "H5": 0, "H6": 100}


def test_parse_builds_the_expected_tree():
    tree = parse('not a + b * -c >= 2 or x not in ("p", -1.5) and y is not null')
    assert tree == Binary(
        "or",
        Unary(
            "not",
            Binary(
                ">=",
                Binary("+", Name("a"), Binary("*", Name("b"), Unary("-", Name("c")))),
                Number(2),
            ),
        ),
        Binary(
            "and",
            InList(Name("x"), (String("p"), Number(Decimal("-1.5"))), negated=True),
            IsNull(Name("y"), negated=True),
        ),
    )
    assert isinstance(tree, Binary)
    assert tree.pos == 20  # "or"
    agg = parse('sum(members.oop_medical where relation == "户\\"主")')
    assert agg == Aggregate("sum", "oop_medical", Binary("==", Name("relation"), String('户"主')))
    assert render(agg) == 'sum(members.oop_medical where relation == "户\\"主")'
    assert parse("round(x, -2)") == Call("round", (Name("x"), Unary("-", Number(2))))
    assert parse("true == false") == Binary("==", Boolean(True), Boolean(False))
    assert parse('x == "#1"  # a comment\n  or y') == Binary(
        "or", Binary("==", Name("x"), String("#1")), Name("y")
    )


# --- errors ------------------------------------------------------------------------------------

ERRORS = [
    ('status == "x" and incom > 1', "unknown field 'incom' at 18 (did you mean 'income'?)", 18),
    ("agee > 1", "unknown field 'agee' at 0 ('age' is a member field)", 0),
    ("status < 3", "'<' needs numbers on both sides, got text and number at 7", 7),
    (
        "income_per_capita and size",
        "'and' needs bool values on both sides, got number and number",
        18,
    ),
    ("status == 3", "'==' compares values of one type, got text and number at 7", 7),
    ('status in (1, "a")', "'in' list value is number but the left side is text at 11", 11),
    ("not size", "'not' needs bool, got number at 4", 4),
    ("age > 80", "member field 'age' outside an aggregate at 0", 0),
    (
        'count(members where status == "低保") > 0',
        "household field 'status' inside a member aggregate at 20",
        20,
    ),
    (
        "any(members where count(members) > 1)",
        "aggregates cannot be nested: count() inside another at 18",
        18,
    ),
    ("sum(members.relation) > 1", "sum() needs a number field, got text at 12", 12),
    ("count(members where age) > 1", "'where' needs bool, got number at 20", 20),
    ("mx(size, 1) > 1", "unknown function 'mx' at 0 (did you mean 'max'?)", 0),
    ("frobnicate(1) > 1", "unknown function 'frobnicate' at 0", 0),
    ("count(size) > 1", "count() works on members at 0 (write count(members …))", 0),
    ("any(members)", "any() needs a condition at 0", 0),
    ("max(members.age, 3) > 1", "expected 'where' or ')' in max(members…), found ','", 15),
    ("abs(1, 2) > 0", "abs() takes 1 argument, got 2 at 0", 0),
    ("round(size, size) > 0", "round() takes a whole number of digits", 12),
    ("(size > 1 and water_safe", "'(' is never closed at 0", 0),
    ("size > 1)", "unexpected ')' at 8 (no matching '(')", 8),
    ("max(size, 1 > 1", "'(' of max() is never closed at 3", 3),
    ("size > 1 water_safe", "unexpected 'water_safe' after a complete expression at 9", 9),
    ("size > 1 > 0", "comparisons cannot be chained at 9", 9),
    ("", "empty rule at 0", 0),
    ("   \n ", "empty rule at 0", 0),
    ("# only a comment", "empty rule at 0", 0),
    ("1; DROP TABLE x", "unexpected character ';' at 1", 1),
    ('"a" --', "expected a value, found end of rule at 6", 6),
    ('status == "a" -- comment', "unknown field 'comment' at 17", 17),
    ("size > 1 /* x */", "expected a value, found '*' at 10", 10),
    ("status == 'a'", 'unexpected character "\'" at 10', 10),
    ('status == "a', 'string is never closed at 10 (end it with ")', 10),
    ('status == "a\\n"', "unknown escape in a string at 12", 12),
    ('status == "a\x00"', "control character U+0000 in a string at 12", 12),
    ("size > $1", "unexpected character '$' at 7", 7),
    ("size > %(p0)s", "unexpected character '%' at 7", 7),
    ("size （ 1", "unexpected character '（' at 5 (use ASCII '(')", 5),
    ("Size > 1", "names are lower-case: 'Size' at 0 (write 'size')", 0),
    ("status in ()", "an 'in' list needs at least one value at 11", 11),
    ("status in (size)", "an 'in' list holds only literal values, found 'size'", 11),
    ("members > 1", "'members' is only allowed inside count(…)", 0),
    ("size", "the rule must give a condition (bool) but gives number at 0", 0),
    ("x" * 2001, "rule is longer than 2000 characters (2001) at 2000", 2000),
    ("(" * 41 + "1" + ")" * 41, "rule is nested more than 40 levels deep at 40", 40),
    (" or ".join(["a"] * 101), "rule is nested more than 100 levels deep", None),
]


@pytest.mark.parametrize(("text", "message", "position"), ERRORS)
def test_errors_are_clear_and_positioned(text, message, position):
    with pytest.raises(RuleError) as caught:
        compile_rules({"r": text}, SCHEMA, kind="bool")
    error = caught.value
    assert isinstance(error, ValueError)
    assert message in error.message
    assert str(error) == f"rule 'r': {error.message}"
    assert error.rule == "r"
    assert error.text == text
    if position is not None:
        assert error.position == position
        assert f" at {position}" in error.message


def test_amount_rule_must_be_a_number():
    with pytest.raises(RuleError, match=r"must give an amount \(number\) but gives bool"):
        compile_rules({"ok": "size * 2", "bad": "size > 2"}, SCHEMA, kind="number")


def test_pointer_marks_the_problem_under_wide_characters():
    with pytest.raises(RuleError) as caught:
        compile_rules({"r": 'status == "低保" and\n  incom > 1'}, SCHEMA, kind="bool")
    assert caught.value.pointer() == "  incom > 1\n  ^"
    with pytest.raises(RuleError) as caught:
        parse('status == "低保" or')
    assert caught.value.pointer() == 'status == "低保" or\n' + " " * 19 + "^"


def test_schema_and_options_are_validated():
    with pytest.raises(ValueError, match="column"):
        Field('x"; DROP TABLE hh; --', "text")
    with pytest.raises(ValueError, match="field type"):
        Field("x", "date")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot be used"):
        Schema(household={"in": Field("x", "text")}, member={})
    with pytest.raises(ValueError, match="alias"):
        compile_rules({"r": "size > 1"}, SCHEMA, kind="bool", household_alias="h; --")
    with pytest.raises(ValueError, match="prefix"):
        compile_rules({"r": "size > 1"}, SCHEMA, kind="bool", param_prefix="p)s; --")
    with pytest.raises(ValueError, match="must differ"):
        compile_rules({"r": "size > 1"}, SCHEMA, kind="bool", aggregate_alias="h")
    with pytest.raises(ValueError, match="kind"):
        compile_rules({"r": "size > 1"}, SCHEMA, kind="text")  # type: ignore[arg-type]


# --- properties --------------------------------------------------------------------------------

SAFE_CHARS = st.characters(blacklist_categories=("Cc", "Cs"))
NASTY = [
    "'; DROP TABLE hh; --",
    "$$",
    "/*",
    "*/",
    "%s",
    "%(x)s",
    "%%",
    "\\x00",
    "\\",
    '"',
    "'",
    ";",
    "--",
    "{}",
    "\u202e",
    "\ufeff",
    "低保",
    "e'\\x41'",
    "U&'\\0041'",
    ") OR 1=1 --",
    "pg_sleep(10)",
]
FRAGMENTS = [*NASTY, "status", "==", "(", ")", "size", "and", "or", "members", "where", "count"]
FRAGMENTS += ["in", "not", "1", "-", "*", "/", "max", ",", ".", "age", "is", "null", "\x00"]


def field_names(scope: str, kind: str) -> list[str]:
    types = HOUSEHOLD_TYPES if scope == "household" else MEMBER_TYPES
    return [name for name, t in types.items() if t == kind]


def literals(kind: str, *, negative: bool = False) -> st.SearchStrategy[Number | String | Boolean]:
    if kind == "number":
        low = -(10**6) if negative else 0
        decimals = st.decimals(min_value=low, max_value=10**6, places=2).map(
            lambda d: d if negative else abs(d)
        )
        return st.one_of(st.integers(low, 10**9), decimals).map(Number)
    if kind == "text":
        return st.one_of(st.text(SAFE_CHARS, max_size=6), st.sampled_from(NASTY)).map(String)
    return st.booleans().map(Boolean)


@functools.cache
def exprs(kind: str, scope: str, depth: int) -> st.SearchStrategy[Node]:
    """Well-typed trees of ``kind`` in ``scope``, at most ``depth`` operators deep."""
    leaves = st.one_of(literals(kind), st.sampled_from(field_names(scope, kind)).map(Name))
    if depth == 0:
        return leaves
    sub = functools.partial(exprs, scope=scope, depth=depth - 1)
    if kind == "text":
        return leaves | st.tuples(sub("text"), sub("text")).map(lambda a: Call("coalesce", a))
    branches = number_exprs if kind == "number" else bool_exprs
    return st.one_of(leaves, *branches(sub, scope, depth))


def number_exprs(sub, scope: str, depth: int) -> list[st.SearchStrategy[Node]]:
    options = [
        st.builds(Binary, st.sampled_from("+-*/"), sub("number"), sub("number")),
        sub("number").map(lambda x: Unary("-", x)),
        st.builds(
            Call,
            st.sampled_from(["max", "min", "coalesce"]),
            st.lists(sub("number"), min_size=2, max_size=3).map(tuple),
        ),
        sub("number").map(lambda x: Call("abs", (x,))),
        st.builds(
            lambda x, n: Call("round", (x, Number(n) if n >= 0 else Unary("-", Number(-n)))),
            sub("number"),
            st.integers(-3, 4),
        ),
    ]
    if scope == "household":
        where = st.none() | exprs("bool", "member", depth - 1)
        fields = st.sampled_from(field_names("member", "number"))
        options += [
            st.builds(Aggregate, st.just("count"), st.none(), where),
            st.builds(Aggregate, st.sampled_from(["sum", "max", "min"]), fields, where),
        ]
    return options


def bool_exprs(sub, scope: str, depth: int) -> list[st.SearchStrategy[Node]]:
    any_kind = st.sampled_from(["bool", "number", "text"])
    options = [
        st.builds(Binary, st.sampled_from(["and", "or"]), sub("bool"), sub("bool")),
        sub("bool").map(lambda x: Unary("not", x)),
        st.builds(Binary, st.sampled_from(["<", "<=", ">", ">="]), sub("number"), sub("number")),
        any_kind.flatmap(
            lambda k: st.builds(Binary, st.sampled_from(["==", "!="]), sub(k), sub(k))
        ),
        any_kind.flatmap(
            lambda k: st.builds(
                InList,
                sub(k),
                st.lists(literals(k, negative=True), min_size=1, max_size=3).map(tuple),
                st.booleans(),
            )
        ),
        any_kind.flatmap(lambda k: st.builds(IsNull, sub(k), st.booleans())),
    ]
    if scope == "household":
        where = exprs("bool", "member", depth - 1)
        options.append(st.builds(Aggregate, st.sampled_from(["any", "all"]), st.none(), where))
    return options


rules_and_kinds = st.sampled_from(["bool", "number"]).flatmap(
    lambda kind: st.tuples(st.just(kind), exprs(kind, "household", 3))
)

_SQL_TOKEN = re.compile(
    r'\s+|"(?:[^"]|"")*"|%\(p\d+\)s|[A-Za-z_]+|[0-9]+|::|<>|<=|>=|\[\]|[()*,.=<>+\-/]'
)
_SQL_WORDS = {
    *"AND OR NOT IS NULL ANY ALL CAST AS NULLIF GREATEST LEAST FILTER WHERE".split(),
    *"SELECT FROM LEFT JOIN ON GROUP BY".split(),
    *"numeric text boolean integer abs round coalesce count sum max min bool_or bool_and".split(),
    "false",
    "true",
}
_IDENTIFIERS = {"h", "m", "agg", "hh", "mem", "household_id", "income_per_capita", "r"}
_IDENTIFIERS |= set(HOUSEHOLD_TYPES) | set(MEMBER_TYPES) | {f"a{i}" for i in range(99)}


def assert_only_fixed_sql(text: str) -> None:
    """The SQL holds nothing from the rule but placeholders and schema identifiers."""
    assert "--" not in text
    assert "/*" not in text
    pos = 0
    while pos < len(text):
        match = _SQL_TOKEN.match(text, pos)
        assert match is not None, f"unexpected SQL at {pos}: {text[pos:]!r}"
        token = match.group()
        if token.startswith('"'):
            assert token[1:-1] in _IDENTIFIERS, token
        elif token[0].isalpha() or token[0] == "_":
            assert token in _SQL_WORDS, token
        elif token[0].isdigit():
            assert token == "0", token  # only the fixed "coalesce(…, 0)" / "NULLIF(…, 0)"
        pos = match.end()


def literal_values(node: Node) -> Iterator[object]:
    match node:
        case Number() | String() | Boolean():
            yield node.value
        case Unary() | IsNull():
            yield from literal_values(node.operand)
        case Binary():
            yield from literal_values(node.left)
            yield from literal_values(node.right)
        case InList():
            yield from literal_values(node.operand)
            for item in node.items:
                yield from literal_values(item)
        case Call():
            for arg in node.args:
                yield from literal_values(arg)
        case Aggregate() if node.where is not None:
            yield from literal_values(node.where)


def param_values(params: dict[str, object]) -> list[object]:
    flat: list[object] = []
    for value in params.values():
        flat.extend(value if isinstance(value, list) else [value])
    return flat


@settings(max_examples=100, deadline=None)
@given(rules_and_kinds)
def test_round_trip_compiles_to_fixed_sql_and_runs(db, case):
    kind, tree = case
    text = render(tree)
    assert parse(text) == tree
    compiled = compile_rules({"r": text}, SCHEMA, kind=kind)
    query = compiled.query(sql.Identifier("hh"), sql.Identifier("mem"))
    assert_only_fixed_sql(query.as_string(None))
    params = param_values(compiled.params)
    for value in literal_values(tree):
        # round(x, -2) is Unary("-", Number(2)) in the tree and -2 in the parameters
        negated = -value if isinstance(value, int | Decimal) else None
        assert value in params or negated in params
    rows = db.execute(query, compiled.params).fetchall()
    assert len(rows) == len(HOUSEHOLDS)


def splice(text: str, fragment: str, at: int) -> str:
    at %= len(text) + 1
    return text[:at] + fragment + text[at:]


arbitrary_text = st.one_of(
    st.text(max_size=80),
    st.builds(
        splice,
        rules_and_kinds.map(lambda case: render(case[1])),
        st.sampled_from(FRAGMENTS),
        st.integers(0, 10**6),
    ),
    st.lists(st.sampled_from(FRAGMENTS), max_size=10).map(" ".join),
    st.lists(st.sampled_from(FRAGMENTS), max_size=10).map("".join),
)


@settings(max_examples=200, deadline=None)
@given(arbitrary_text, st.sampled_from(["bool", "number"]))
def test_arbitrary_text_never_reaches_sql(db, text, kind):
    try:
        compiled = compile_rules({"r": text}, SCHEMA, kind=kind)
    except RuleError as error:
        assert error.text == text
        assert 0 <= error.position <= len(text)
        return
    query = compiled.query(sql.Identifier("hh"), sql.Identifier("mem"))
    assert_only_fixed_sql(query.as_string(None))
    db.execute(query, compiled.params).fetchall()


@settings(max_examples=50, deadline=None)
@given(st.one_of(st.sampled_from(NASTY), st.text(SAFE_CHARS, max_size=20)))
def test_nasty_strings_travel_as_parameters(db, value):
    text = f'status == {render(String(value))} or status in ({render(String(value))}, "低保")'
    compiled = compile_rules({"r": text}, SCHEMA, kind="bool")
    assert compiled.params == {"p0": value, "p1": [value, "低保"]}
    query = compiled.query(sql.Identifier("hh"), sql.Identifier("mem"))
    assert_only_fixed_sql(query.as_string(None))
    values = run(db, compiled)["r"]
    assert true_for(values) == {"H1", "H4", "H6"} | {h[0] for h in HOUSEHOLDS if h[1] == value}
