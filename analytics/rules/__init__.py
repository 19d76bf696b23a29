r"""Policy rule expressions: a small, safe language compiled to parameterised PostgreSQL.

Policy staff write eligibility and amount rules in the policy catalog; :mod:`.syntax` parses
them (pure: no schema, no SQL) and :mod:`.compiler` checks names and types against a
:class:`Schema` and compiles them to :mod:`psycopg.sql` objects (no database either).
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

from analytics.rules.compiler import CompiledRules, Field, Schema, compile_rules
from analytics.rules.syntax import (
    AGGREGATES,
    FUNCTIONS,
    KEYWORDS,
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_NESTING,
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
    parse,
    render,
)

__all__ = [
    "AGGREGATES",
    "FUNCTIONS",
    "KEYWORDS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_NESTING",
    "Aggregate",
    "Binary",
    "Boolean",
    "Call",
    "CompiledRules",
    "Field",
    "InList",
    "IsNull",
    "Name",
    "Node",
    "Number",
    "RuleError",
    "Schema",
    "Scope",
    "String",
    "Type",
    "Unary",
    "compile_rules",
    "parse",
    "render",
]
