-- Supervision of paired officials for one month. Parameters: month, month_end, far_metres.
-- Visits and visit gaps first (they need only the features), then benefit anomalies, then the
-- summary per official.
INSERT INTO {supervision_finding} (month, official_id, county_code, household_id, kind, detail,
                                 visit_time, distance_m, geom)
WITH v AS (
    SELECT v.*, h.geom AS home,
           ST_Distance(v.geom::geography, h.geom::geography) AS distance
    FROM visit v
    JOIN household h ON h.month = v.month AND h.household_id = v.household_id
    WHERE v.month = %(month)s::date
), copied AS (  -- the same text in three or more of an official's visits of the month
    SELECT official_id, content FROM v
    WHERE length(content) >= 8
    GROUP BY official_id, content HAVING count(*) >= 3
)
SELECT %(month)s::date, v.official_id, v.county_code, v.household_id, 'far_visit',
       format('check-in %%s m from the household', round(v.distance)), v.visit_time,
       v.distance, v.geom
FROM v WHERE v.distance > %(far_metres)s
UNION ALL
SELECT %(month)s::date, v.official_id, v.county_code, v.household_id, 'odd_hour',
       format('visit at %%s', to_char(v.visit_time, 'HH24:MI')), v.visit_time, v.distance, v.geom
FROM v WHERE extract(hour FROM v.visit_time) < 5
UNION ALL
SELECT %(month)s::date, v.official_id, v.county_code, v.household_id, 'copied_content',
       format('same text as %%s other visits', count(*) OVER (PARTITION BY v.official_id,
                                                              v.content) - 1),
       v.visit_time, v.distance, v.geom
FROM v JOIN copied c USING (official_id, content)
UNION ALL
SELECT %(month)s::date, f.official_id, f.county_code, f.household_id,
       CASE WHEN f.last_visit IS NULL OR f.last_visit < %(month_end)s::date - 90
            THEN 'not_visited_90'
            WHEN f.last_visit < %(month_end)s::date - 60 THEN 'not_visited_60'
            ELSE 'not_visited_30' END,
       CASE WHEN f.last_visit IS NULL THEN 'no visit on record'
            ELSE format('last visit %%s', to_char(f.last_visit, 'YYYY-MM-DD')) END,
       f.last_visit, NULL, h.geom
FROM {household_features} f
JOIN household h ON h.month = f.month AND h.household_id = f.household_id
WHERE f.month = %(month)s::date
  AND (f.last_visit IS NULL OR f.last_visit < %(month_end)s::date - 30);

-- Benefits received without eligibility, once the benefit list is built.
INSERT INTO {supervision_finding} (month, official_id, county_code, household_id, kind, detail,
                                   visit_time, distance_m, geom)
SELECT %(month)s::date, f.official_id, b.county_code, b.household_id, 'benefit_anomaly',
       format('%%s received but not eligible', b.policy_code), NULL, NULL, h.geom
FROM {benefit} b
JOIN {household_features} f ON f.month = b.month AND f.household_id = b.household_id
JOIN household h ON h.month = b.month AND h.household_id = b.household_id
WHERE b.month = %(month)s::date AND b.state = 'anomaly';

INSERT INTO {supervision_official} (month, official_id, county_code, official_name,
                                  households_paired, visits, not_visited_30, not_visited_60,
                                  not_visited_90, far_visits, odd_hour_visits, copied_visits,
                                  benefit_anomalies)
WITH paired AS (
    SELECT official_id, count(*) AS n FROM {household_features}
    WHERE month = %(month)s::date AND official_id IS NOT NULL GROUP BY official_id
), visits AS (
    SELECT official_id, min(official_name) AS name, count(*) AS n FROM visit
    WHERE month = %(month)s::date GROUP BY official_id
), findings AS (
    SELECT official_id,
           count(*) FILTER (WHERE kind LIKE 'not_visited_%%') AS nv30,  -- 30 days or more
           count(*) FILTER (WHERE kind IN ('not_visited_60', 'not_visited_90')) AS nv60,
           count(*) FILTER (WHERE kind = 'not_visited_90') AS nv90,
           count(*) FILTER (WHERE kind = 'far_visit') AS far,
           count(*) FILTER (WHERE kind = 'odd_hour') AS odd,
           count(*) FILTER (WHERE kind = 'copied_content') AS copied,
           count(*) FILTER (WHERE kind = 'benefit_anomaly') AS anomalies
    FROM {supervision_finding} WHERE month = %(month)s::date AND official_id IS NOT NULL
    GROUP BY official_id
)
SELECT %(month)s::date, o.official_id, substr(o.official_id, 2, 6), v.name,
       coalesce(p.n, 0), coalesce(v.n, 0), coalesce(f.nv30, 0), coalesce(f.nv60, 0),
       coalesce(f.nv90, 0), coalesce(f.far, 0), coalesce(f.odd, 0), coalesce(f.copied, 0),
       coalesce(f.anomalies, 0)
FROM (SELECT official_id FROM paired UNION SELECT official_id FROM visits) o
LEFT JOIN paired p USING (official_id)
LEFT JOIN visits v USING (official_id)
LEFT JOIN findings f USING (official_id);
