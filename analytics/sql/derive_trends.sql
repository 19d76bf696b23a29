-- Month-on-month figures of one published month into trend_rollup (analytics/trends.py).
-- Parameters: month, prev_month, standard. Counted per village, summed up the levels.
DELETE FROM trend_rollup WHERE month = %(month)s::date;

INSERT INTO trend_rollup (month, code, county_code, warnings_new, responded_3h, gaps_opened,
                          gaps_closed, below_line, income_known)
WITH gaps AS (
    SELECT b.month, b.household_id, b.policy_code, f.village_code
    FROM benefit b
    JOIN household_features f ON f.month = b.month AND f.household_id = b.household_id
    WHERE b.month IN (%(month)s::date, %(prev_month)s::date) AND b.state = 'gap'
), gap_moves AS (
    SELECT coalesce(n.village_code, o.village_code) AS village_code,
           (o.household_id IS NULL)::int AS opened,
           (n.household_id IS NULL)::int AS closed
    FROM (SELECT * FROM gaps WHERE month = %(month)s::date) n
    FULL JOIN (SELECT * FROM gaps WHERE month = %(prev_month)s::date) o
      USING (household_id, policy_code)
    -- No month before on record: nothing opened or closed (the first month is a baseline).
    WHERE EXISTS (SELECT 1 FROM derive_run WHERE month = %(prev_month)s::date)
), responses AS (
    SELECT village_code, 1 AS new,
           coalesce(acknowledged_at - raised_at <= interval '3 hours', false)::int AS met
    FROM warning WHERE opened_month = %(month)s::date
), incomes AS (
    SELECT village_code, (income_per_capita < %(standard)s)::int AS below
    FROM household_features
    WHERE month = %(month)s::date AND income_per_capita IS NOT NULL
), per_village AS (
    SELECT village_code, sum(new) AS new, sum(met) AS met, 0 AS opened, 0 AS closed,
           0 AS below, 0 AS known
    FROM responses GROUP BY village_code
    UNION ALL
    SELECT village_code, 0, 0, sum(opened), sum(closed), 0, 0 FROM gap_moves GROUP BY 1
    UNION ALL
    SELECT village_code, 0, 0, 0, 0, sum(below), count(*) FROM incomes GROUP BY 1
)
SELECT %(month)s::date, left(v.village_code, n.len),
       CASE WHEN n.len >= 6 THEN left(v.village_code, 6) END,
       sum(v.new), sum(v.met), sum(v.opened), sum(v.closed), sum(v.below), sum(v.known)
FROM per_village v
CROSS JOIN (VALUES (2), (4), (6), (9), (12)) AS n (len)
GROUP BY 2, 3;
