-- The month's households of an area as points, with their warning (if any) and causes.
SELECT h.household_id, h.village_code, h.county_code, h.status, h.size,
       h.poverty_cause, h.poverty_cause_secondary,
       w.level AS warning_level, w.score::float8 AS warning_score,
       ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat
FROM household h
LEFT JOIN warning_month w ON w.month = h.month AND w.household_id = h.household_id
WHERE h.month = %(month)s AND h.village_code >= %(area)s AND h.village_code < %(area)s || ':'
  AND (NOT %(warned_only)s OR w.household_id IS NOT NULL)
ORDER BY h.household_id
