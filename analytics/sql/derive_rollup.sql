-- Rollups of one month per admin level (province, city, county, town, village). Parameters:
-- month, prev_month, month_end, has_prev (bool), data_version; {portrait_auto} is the SQL
-- expression counting a household's portrait fields filled from department feeds.
-- Benefit gaps and anomalies are added by the last statement, once the benefit list is built:
-- the rest does not wait for it.
INSERT INTO {rollup} (month, level, code, county_code, households, people, income_median,
                    entries, exits, warnings_red, warnings_orange, warnings_yellow,
                    warnings_by_factor, benefit_gaps, benefit_anomalies, housing_assessed,
                    unsafe_housing, water_checked, unsafe_water, visited_30d,
                    response_minutes_median, portrait_fields_auto, portrait_fields_total,
                    data_version)
WITH people AS (
    SELECT household_id, count(*) AS n FROM {member_features}
    WHERE month = %(month)s::date GROUP BY household_id
), warned AS (
    SELECT m.household_id, m.level, m.factors,
           extract(epoch FROM w.acknowledged_at - w.raised_at) / 60 AS response_minutes
    FROM {warning_month} m JOIN warning w USING (warning_id)
    WHERE m.month = %(month)s::date
), previous AS (
    SELECT household_id, village_code FROM household
    WHERE month = %(prev_month)s::date AND %(has_prev)s
), base AS (
    SELECT f.village_code, 1 AS current, coalesce(p.n, 0) AS people, f.income_per_capita,
           CASE WHEN %(has_prev)s AND pv.household_id IS NULL THEN 1 ELSE 0 END AS entry,
           0 AS exit,
           coalesce(w.level = 'red', false)::int AS red,
           coalesce(w.level = 'orange', false)::int AS orange,
           coalesce(w.level = 'yellow', false)::int AS yellow, w.factors, w.response_minutes,
           (f.housing_grade IS NOT NULL)::int AS housing_assessed,
           coalesce(f.housing_grade IN ('C', 'D'), false)::int AS unsafe_housing,
           (f.water_safe IS NOT NULL)::int AS water_checked,
           coalesce(f.water_safe = false, false)::int AS unsafe_water,
           coalesce(f.last_visit >= %(month_end)s::date - 30, false)::int AS visited,
           {portrait_auto} AS portrait_auto
    FROM {household_features} f
    LEFT JOIN people p USING (household_id)
    LEFT JOIN warned w USING (household_id)
    LEFT JOIN previous pv USING (household_id)
    WHERE f.month = %(month)s::date
    UNION ALL  -- households that left: counted where they were last month
    SELECT pv.village_code, 0, 0, NULL, 0, 1, 0, 0, 0, NULL::text[], NULL, 0, 0, 0, 0, 0, 0
    FROM previous pv
    WHERE NOT EXISTS (SELECT 1 FROM {household_features} f
                      WHERE f.month = %(month)s::date AND f.household_id = pv.household_id)
), factor_counts AS (
    SELECT left(village_code, n) AS code, factor, count(*) AS k
    FROM base CROSS JOIN unnest(base.factors) AS factor
    CROSS JOIN (VALUES (2), (4), (6), (9), (12)) AS lengths(n)
    GROUP BY 1, 2
), factors_json AS (
    SELECT code, jsonb_object_agg(factor, k) AS by_factor FROM factor_counts GROUP BY code
), grouped AS (
    SELECT left(village_code, 12) AS v12, left(village_code, 9) AS v9,
           left(village_code, 6) AS v6, left(village_code, 4) AS v4,
           left(village_code, 2) AS v2,
           GROUPING(left(village_code, 12), left(village_code, 9), left(village_code, 6),
                    left(village_code, 4)) AS g,
           sum(current) AS households, sum(people) AS people,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY income_per_capita) AS income_median,
           sum(entry) AS entries, sum(exit) AS exits, sum(red) AS red,
           sum(orange) AS orange, sum(yellow) AS yellow, sum(housing_assessed) AS housing_assessed,
           sum(unsafe_housing) AS unsafe_housing, sum(water_checked) AS water_checked,
           sum(unsafe_water) AS unsafe_water, sum(visited) AS visited,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY response_minutes) AS response,
           sum(portrait_auto) AS portrait_auto, sum(current) * 61 AS portrait_total
    FROM base
    GROUP BY GROUPING SETS ((left(village_code, 2)),
                            (left(village_code, 2), left(village_code, 4)),
                            (left(village_code, 2), left(village_code, 4),
                             left(village_code, 6)),
                            (left(village_code, 2), left(village_code, 4),
                             left(village_code, 6), left(village_code, 9)),
                            (left(village_code, 2), left(village_code, 4),
                             left(village_code, 6), left(village_code, 9),
                             left(village_code, 12)))
), coded AS (
    SELECT CASE g WHEN 15 THEN v2 WHEN 14 THEN v4 WHEN 12 THEN v6 WHEN 8 THEN v9 ELSE v12 END
               AS code, grouped.*
    FROM grouped
)
SELECT %(month)s::date, l.level, c.code, CASE WHEN length(c.code) >= 6 THEN left(c.code, 6) END,
       c.households, c.people, round(c.income_median::numeric, 2), c.entries, c.exits, c.red,
       c.orange, c.yellow,
       coalesce(fj.by_factor, '{{}}'::jsonb),
       0, 0, c.housing_assessed, c.unsafe_housing, c.water_checked,
       c.unsafe_water, c.visited, c.response, c.portrait_auto, c.portrait_total,
       %(data_version)s
FROM coded c
JOIN admin_level l ON l.code_len = length(c.code)
LEFT JOIN factors_json fj ON fj.code = c.code;

-- Income growth against last month and the same month last year, where those were derived
-- (p is the published rollup of those months; r is this month's, being built).
UPDATE {rollup} r
SET income_growth_mom = round(100 * (r.income_median / NULLIF(p.income_median, 0) - 1), 2)
FROM rollup p
WHERE r.month = %(month)s::date AND p.code = r.code
  AND p.month = (%(month)s::date - interval '1 month')::date;

UPDATE {rollup} r
SET income_growth_yoy = round(100 * (r.income_median / NULLIF(p.income_median, 0) - 1), 2)
FROM rollup p
WHERE r.month = %(month)s::date AND p.code = r.code
  AND p.month = (%(month)s::date - interval '12 months')::date;

-- Benefit gaps and anomalies: counted per village, then summed up the levels (they add up).
UPDATE {rollup} r SET benefit_gaps = c.gaps, benefit_anomalies = c.anomalies
FROM (
    SELECT left(v.village_code, n.len) AS code, sum(v.gaps) AS gaps,
           sum(v.anomalies) AS anomalies
    FROM (
        SELECT f.village_code, count(*) FILTER (WHERE b.state = 'gap') AS gaps,
               count(*) FILTER (WHERE b.state = 'anomaly') AS anomalies
        FROM {benefit} b
        JOIN {household_features} f ON f.month = b.month AND f.household_id = b.household_id
        WHERE b.month = %(month)s::date AND b.state IN ('gap', 'anomaly')
        GROUP BY f.village_code
    ) v
    CROSS JOIN (VALUES (2), (4), (6), (9), (12)) AS n (len)
    GROUP BY 1
) c
WHERE r.month = %(month)s::date AND r.code = c.code;
