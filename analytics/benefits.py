"""The benefit list (幸福清单) of every household of a month, in one set-based query.

Policies received, due but not received (gaps), and received without eligibility (anomalies).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, cast

from psycopg import sql

from analytics.catalog import Catalog
from analytics.rules import Field, Schema, compile_rules
from analytics.sqlfiles import PUBLISHED

FieldType = Literal["bool", "number", "text"]

#: Fields the rule language may use: household_features (h) and member_features (members).
SCHEMA = Schema(
    household={
        name: Field(name, cast(FieldType, kind))
        for name, kind in (
            ("status", "text"),
            ("size", "number"),
            ("mountain", "bool"),
            ("income_per_capita", "number"),
            ("income_prev", "number"),
            ("income_last_year", "number"),
            ("income_change_pct", "number"),
            ("housing_grade", "text"),
            ("water_safe", "bool"),
            ("water_source", "text"),
            ("deposit_total", "number"),
            ("oop_medical", "number"),
            ("education_net", "number"),
            ("in_disaster", "bool"),
            ("hazard", "number"),
            ("new_disability", "bool"),
        )
    },
    member={
        name: Field(name, cast(FieldType, kind))
        for name, kind in (
            ("age", "number"),
            ("sex", "text"),
            ("relation", "text"),
            ("disability_grade", "number"),
            ("disability_type", "text"),
            ("is_student", "bool"),
            ("school_stage", "text"),
            ("chronic_illness", "bool"),
            ("serious_illness", "bool"),
            ("oop_medical", "number"),
            ("oop_inpatient", "number"),
            ("oop_chronic", "number"),
            ("oop_serious", "number"),
            ("education_aid", "number"),
            ("deposit", "number"),
        )
    },
)

_QUERY = """
INSERT INTO {benefit} (month, household_id, county_code, policy_code, eligible, received,
                     amount_due, amount_paid, state)
WITH agg AS (
    SELECT m.household_id{aggregates}
    FROM {member_features} m
    WHERE m.month = %(month)s::date
      AND m.household_id >= %(households_from)s
      AND (m.household_id < %(households_to)s OR %(households_to)s::text IS NULL)
    GROUP BY m.household_id
), due AS (
    SELECT h.household_id, h.county_code, (d).code AS code, round((d).amount, 2) AS amount
    FROM {household_features} h
    LEFT JOIN agg USING (household_id)
    CROSS JOIN LATERAL unnest(array_remove(ARRAY[{dues}]::policy_due[], NULL)) AS d
    WHERE h.month = %(month)s::date
      AND h.household_id >= %(households_from)s
      AND (h.household_id < %(households_to)s OR %(households_to)s::text IS NULL)
), paid AS (
    SELECT household_id, county_code, policy_code, sum(amount) AS amount FROM subsidy
    WHERE month = %(month)s::date AND policy_code IN (SELECT code FROM policy)
      AND household_id >= %(households_from)s
      AND (household_id < %(households_to)s OR %(households_to)s::text IS NULL)
    GROUP BY household_id, county_code, policy_code
)
SELECT %(month)s::date, coalesce(d.household_id, p.household_id),
       coalesce(d.county_code, p.county_code), coalesce(d.code, p.policy_code),
       d.code IS NOT NULL, p.policy_code IS NOT NULL, d.amount, p.amount,
       CASE WHEN d.code IS NULL THEN 'anomaly' WHEN p.policy_code IS NULL THEN 'gap'
            ELSE 'received' END
FROM due d
FULL JOIN paid p ON p.household_id = d.household_id AND p.policy_code = d.code
WHERE p.policy_code IS NOT NULL OR d.code = ANY(%(gap_codes)s)
"""


def benefit_statement(
    catalog: Catalog,
    calendar_month: int,
    paid_codes: frozenset[str] | None = None,
    tables: Mapping[str, str] = PUBLISHED,
) -> tuple[sql.Composed, dict[str, object]]:
    """Compile the catalog into one INSERT of the month's benefit list, with its parameters.

    ``tables`` names the derived tables read and written (the published ones by default).
    The parameters cover every household; set ``households_from`` and ``households_to`` (a
    half-open range of household IDs; None: no end) to build one share of the list.

    Only policies that can produce a row are evaluated: those that count a gap this month and
    those paid to someone this month (``paid_codes``; all policies when None).
    """
    policies = [
        p
        for p in catalog.policies
        if p.counts_gap(calendar_month) or paid_codes is None or p.code in paid_codes
    ]
    catalog = catalog.model_copy(update={"policies": tuple(policies)})
    eligibility = compile_rules(
        {p.code: p.eligibility for p in catalog.policies},
        SCHEMA,
        kind="bool",
        param_prefix="e",
        aggregate_prefix="ea",
    )
    amounts = compile_rules(
        {p.code: p.amount for p in catalog.policies},
        SCHEMA,
        kind="number",
        param_prefix="n",
        aggregate_prefix="na",
    )
    aggregates = [*eligibility.aggregates, *amounts.aggregates]
    aggregate_sql = sql.SQL("").join(
        sql.SQL(", {} AS {}").format(expression, sql.Identifier(name))
        for name, expression in aggregates
    )
    dues = sql.SQL(", ").join(
        sql.SQL("CASE WHEN coalesce({}, false) THEN ROW({}, {})::policy_due END").format(
            eligibility.predicates[p.code],
            sql.Placeholder(f"code_{p.code}"),
            amounts.predicates[p.code],
        )
        for p in catalog.policies
    )
    statement = sql.SQL(_QUERY).format(
        aggregates=aggregate_sql,
        dues=dues,
        benefit=sql.Identifier(tables["benefit"]),
        member_features=sql.Identifier(tables["member_features"]),
        household_features=sql.Identifier(tables["household_features"]),
    )
    params: dict[str, object] = {**eligibility.params, **amounts.params}
    params.update({f"code_{p.code}": p.code for p in catalog.policies})
    params |= {"households_from": "", "households_to": None}
    params["gap_codes"] = [p.code for p in catalog.policies if p.counts_gap(calendar_month)]
    return statement, params
