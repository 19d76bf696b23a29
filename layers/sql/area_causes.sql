-- Poverty causes of the children of an area: households per main cause (as a JSON object),
-- counted from the month's households (row-level security keeps them in scope).
WITH child AS (
    SELECT a.code, a.name, a.level, a.geom
    FROM admin_area a
    WHERE (a.parent_code = %(area)s OR (a.code = %(area)s AND a.level = 'village'))
      AND a.code LIKE %(scope_like)s
),
counted AS (
    SELECT left(h.village_code, %(child_len)s) AS code, h.poverty_cause AS cause, count(*) AS n
    FROM household h
    WHERE h.month = %(month)s AND h.village_code >= %(area)s AND h.village_code < %(area)s || ':'
      AND h.village_code LIKE %(scope_like)s AND h.poverty_cause IS NOT NULL
    GROUP BY 1, 2
)
SELECT c.code, c.name AS area_name, c.level,
       coalesce(sum(k.n), 0)::int AS households,
       coalesce(jsonb_object_agg(k.cause, k.n) FILTER (WHERE k.cause IS NOT NULL), '{{}}')
           AS composition,
       ST_AsBinary(c.geom) AS geometry
FROM child c
LEFT JOIN counted k ON k.code = c.code
GROUP BY c.code, c.name, c.level, c.geom
ORDER BY c.code
