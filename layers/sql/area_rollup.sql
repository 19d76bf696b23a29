-- Areas with their month's rollup (one row per area; rates per 100). {where} picks the areas:
-- the children of an area (exports, OGC API) or a level inside a tile (vector tiles).
SELECT a.code, a.name AS area_name, a.level,
       r.households, r.people,
       r.warnings_red, r.warnings_orange, r.warnings_yellow,
       round((100.0 * (r.warnings_red + r.warnings_orange + r.warnings_yellow)
              / NULLIF(r.households, 0))::numeric, 2)::float8 AS warnings_per_100,
       r.income_median::float8 AS income_median,
       r.benefit_gaps,
       round((100.0 * r.benefit_gaps / NULLIF(r.households, 0))::numeric, 2)::float8
           AS gaps_per_100,
       r.housing_assessed, r.unsafe_housing,
       round((100.0 * r.unsafe_housing / NULLIF(r.housing_assessed, 0))::numeric, 2)::float8
           AS unsafe_housing_pct,
       r.water_checked, r.unsafe_water,
       round((100.0 * r.unsafe_water / NULLIF(r.water_checked, 0))::numeric, 2)::float8
           AS unsafe_water_pct,
       r.visited_30d,
       round((100.0 * r.visited_30d / NULLIF(r.households, 0))::numeric, 2)::float8
           AS visit_coverage_pct,
       ST_AsBinary(a.geom) AS geometry
FROM admin_area a
LEFT JOIN rollup r ON r.code = a.code AND r.month = %(month)s
WHERE {where}
  AND a.code LIKE %(scope_like)s
ORDER BY a.code
