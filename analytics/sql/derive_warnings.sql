-- Score the month's households on the warning factors of analytics/warning_factors.yaml: each
-- factor's points column, their total, the factors and the reasons (zh, en) are composed from
-- that registry (analytics/warning_factors.py). Parameters: month, raised_at, the thresholds,
-- points and levels of WarningSettings, and the registry's codes, values and reason templates.
CREATE TEMP TABLE warning_score ON COMMIT DROP AS
WITH f AS (
    SELECT h.*,
           h.oop_medical / NULLIF(h.income_per_capita * h.size, 0) AS illness_ratio,
           h.education_net / NULLIF(h.income_per_capita * h.size, 0) AS school_ratio
    FROM {household_features} h WHERE h.month = %(month)s::date
), points AS (
    SELECT f.*,
        {points}
    FROM f
), scored AS (
    SELECT points.*, {total} AS total FROM points
)
SELECT month, household_id, county_code, village_code, official_id, total::real AS score,
       {factors} AS factors,
       {reasons_zh} AS reasons_zh,
       {reasons_en} AS reasons_en,
       CASE WHEN total >= %(red)s THEN 'red' WHEN total >= %(orange)s THEN 'orange'
            WHEN total >= %(yellow)s THEN 'yellow' END AS level
FROM scored
-- A household with no factor at all has nothing to score.
WHERE total > 0;

-- An open warning of the household is updated; otherwise a new one is raised.
UPDATE warning w SET last_month = s.month, level = s.level, score = s.score,
       factors = s.factors, reasons_zh = s.reasons_zh, reasons_en = s.reasons_en,
       official_id = coalesce(s.official_id, w.official_id)
FROM warning_score s
WHERE s.level IS NOT NULL AND w.household_id = s.household_id
  AND w.status IN ('raised', 'acknowledged', 'verified') AND w.opened_month <= s.month;

INSERT INTO warning (household_id, county_code, village_code, opened_month, last_month, level,
                     score, factors, reasons_zh, reasons_en, official_id, status, raised_at)
SELECT s.household_id, s.county_code, s.village_code, s.month, s.month, s.level, s.score,
       s.factors, s.reasons_zh, s.reasons_en, s.official_id, 'raised', %(raised_at)s
FROM warning_score s
WHERE s.level IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM warning w WHERE w.household_id = s.household_id
                  AND (w.status IN ('raised', 'acknowledged', 'verified')
                       OR w.opened_month = s.month));

INSERT INTO warning_event (warning_id, at, status, actor, note)
SELECT w.warning_id, w.raised_at, 'raised', 'onemap derive', array_to_string(w.factors, ',')
FROM warning w
WHERE w.opened_month = %(month)s::date
  AND NOT EXISTS (SELECT 1 FROM warning_event e WHERE e.warning_id = w.warning_id
                  AND e.status = 'raised');

INSERT INTO {warning_month} (month, warning_id, household_id, county_code, village_code, level,
                           score, factors)
SELECT DISTINCT ON (s.household_id) s.month, w.warning_id, s.household_id, s.county_code,
       s.village_code, s.level, s.score, s.factors
FROM warning_score s
JOIN warning w ON w.household_id = s.household_id AND w.opened_month <= s.month
              AND w.last_month = s.month
WHERE s.level IS NOT NULL
ORDER BY s.household_id, w.warning_id DESC;
