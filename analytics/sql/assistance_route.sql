-- Route the published month's warnings and benefit gaps to the paired officials (owner; after
-- each derive). Parameters: month, at, red_hours, orange_hours, yellow_hours, gap_hours.

-- Open warnings follow the household's current pairing.
UPDATE warning w SET official_id = p.official_id
FROM pairing p
WHERE p.household_id = w.household_id AND p.valid_to IS NULL
  AND w.status IN ('raised', 'acknowledged', 'verified')
  AND w.official_id IS DISTINCT FROM p.official_id;

-- Each new warning gets its response deadline by level (kept once set).
UPDATE warning SET due_at = raised_at + make_interval(secs => 3600 * CASE level
        WHEN 'red' THEN %(red_hours)s WHEN 'orange' THEN %(orange_hours)s
        ELSE %(yellow_hours)s END)
WHERE due_at IS NULL;

-- A benefit due but not received becomes a 代办 task for the paired official (one open task
-- per household and policy).
INSERT INTO task (kind, household_id, county_code, village_code, official_id, month,
                  policy_code, created_at, due_at)
SELECT 'benefit_gap', b.household_id, b.county_code, h.village_code, p.official_id, b.month,
       b.policy_code, %(at)s, %(at)s + make_interval(secs => 3600 * %(gap_hours)s)
FROM benefit b
JOIN household h ON h.month = b.month AND h.household_id = b.household_id
LEFT JOIN pairing p ON p.household_id = b.household_id AND p.valid_to IS NULL
WHERE b.month = %(month)s::date AND b.state = 'gap'
ON CONFLICT (household_id, policy_code)
    WHERE kind = 'benefit_gap' AND status IN ('open', 'acknowledged') DO NOTHING;

-- Open tasks follow the pairing too.
UPDATE task t SET official_id = p.official_id
FROM pairing p
WHERE p.household_id = t.household_id AND p.valid_to IS NULL
  AND t.status IN ('open', 'acknowledged') AND t.official_id IS DISTINCT FROM p.official_id;

-- The month's rollups: red warnings raised that month, how many were acknowledged and visited
-- within the red deadline, warned households, and those with a measure in their plan.
WITH w AS (
    SELECT wm.household_id, wm.village_code, wm.level,
           (wm.level = 'red' AND ww.opened_month = %(month)s::date) AS red_new,
           (ww.acknowledged_at <= ww.raised_at + make_interval(secs => 3600 * %(red_hours)s)
            AND ww.visited_at <= ww.raised_at + make_interval(secs => 3600 * %(red_hours)s))
               AS attained,
           EXISTS (SELECT 1 FROM plan_item pi WHERE pi.household_id = wm.household_id
                   AND pi.status <> 'dropped') AS planned
    FROM warning_month wm JOIN warning ww USING (warning_id)
    WHERE wm.month = %(month)s::date
), per_area AS (
    SELECT code, count(*) FILTER (WHERE red_new) AS red_due,
           count(*) FILTER (WHERE red_new AND attained) AS red_attained,
           count(*) AS warned, count(*) FILTER (WHERE planned) AS covered
    FROM w CROSS JOIN LATERAL unnest(ARRAY[left(village_code, 2), left(village_code, 4),
                                           left(village_code, 6), left(village_code, 9),
                                           village_code]) AS code
    GROUP BY code
)
UPDATE rollup r SET red_due = coalesce(a.red_due, 0),
       red_attained_3h = coalesce(a.red_attained, 0),
       warned_open = coalesce(a.warned, 0), plan_covered = coalesce(a.covered, 0)
FROM rollup r2 LEFT JOIN per_area a ON a.code = r2.code
WHERE r.month = %(month)s::date AND r2.month = r.month AND r2.code = r.code;
