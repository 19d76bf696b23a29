-- Score the month's households on the warning factors. Parameters: month, and the
-- thresholds/weights of WarningSettings; reason templates (zh, en) are parameters too.
CREATE TEMP TABLE warning_score ON COMMIT DROP AS
WITH f AS (
    SELECT h.*,
           h.oop_medical / NULLIF(h.income_per_capita * h.size, 0) AS illness_ratio,
           h.education_net / NULLIF(h.income_per_capita * h.size, 0) AS school_ratio
    FROM {household_features} h WHERE h.month = %(month)s::date
), points AS (
    SELECT f.*,
        CASE WHEN illness_ratio >= %(illness_severe_ratio)s THEN %(illness_severe_points)s
             WHEN illness_ratio >= %(illness_ratio)s THEN %(illness_points)s ELSE 0 END AS p_illness,
        CASE WHEN school_ratio >= %(schooling_ratio)s THEN %(schooling_points)s ELSE 0 END
            AS p_schooling,
        CASE WHEN in_disaster THEN %(disaster_points)s
             WHEN hazard >= %(hazard_threshold)s::real THEN %(hazard_points)s ELSE 0 END
            AS p_disaster,  -- hazard is stored as real: compare at that precision
        CASE WHEN income_change_pct <= -%(income_drop_pct)s THEN %(income_drop_points)s
             ELSE 0 END AS p_income_drop,
        CASE WHEN status = '低边' AND income_per_capita < %(standard)s THEN %(income_low_points)s
             ELSE 0 END AS p_income_low,
        CASE WHEN new_disability THEN %(new_disability_points)s ELSE 0 END AS p_disability,
        CASE WHEN housing_grade IN ('C', 'D') THEN %(unsafe_housing_points)s ELSE 0 END
            AS p_housing,
        CASE WHEN water_safe = false THEN %(unsafe_water_points)s ELSE 0 END AS p_water,
        CASE WHEN deposit_total > %(deposit_per_person)s * size THEN %(deposit_points)s
             ELSE 0 END AS p_deposit
    FROM f
)
SELECT month, household_id, county_code, village_code, official_id,
       (p_illness + p_schooling + p_disaster + p_income_drop + p_income_low + p_disability
        + p_housing + p_water + p_deposit)::real AS score,
       array_remove(ARRAY[
           CASE WHEN p_illness > 0 THEN 'illness' END,
           CASE WHEN p_schooling > 0 THEN 'schooling' END,
           CASE WHEN p_disaster > 0 THEN 'disaster' END,
           CASE WHEN p_income_drop > 0 THEN 'income_drop' END,
           CASE WHEN p_income_low > 0 THEN 'income_low' END,
           CASE WHEN p_disability > 0 THEN 'new_disability' END,
           CASE WHEN p_housing > 0 THEN 'unsafe_housing' END,
           CASE WHEN p_water > 0 THEN 'unsafe_water' END,
           CASE WHEN p_deposit > 0 THEN 'deposit_above_threshold' END], NULL) AS factors,
       array_remove(ARRAY[
           CASE WHEN p_illness > 0 THEN format(%(zh_illness)s, round(oop_medical),
                                             round(illness_ratio, 1)) END,
           CASE WHEN p_schooling > 0 THEN format(%(zh_schooling)s, round(education_net)) END,
           CASE WHEN in_disaster THEN %(zh_disaster)s
                WHEN p_disaster > 0 THEN format(%(zh_hazard)s, round(hazard::numeric, 2)) END,
           CASE WHEN p_income_drop > 0 THEN format(%(zh_income_drop)s,
                                                  abs(income_change_pct)) END,
           CASE WHEN p_income_low > 0 THEN format(%(zh_income_low)s, round(income_per_capita))
           END,
           CASE WHEN p_disability > 0 THEN %(zh_new_disability)s END,
           CASE WHEN p_housing > 0 THEN format(%(zh_housing)s, housing_grade) END,
           CASE WHEN p_water > 0 THEN %(zh_water)s END,
           CASE WHEN p_deposit > 0 THEN format(%(zh_deposit)s, round(deposit_total)) END],
           NULL) AS reasons_zh,
       array_remove(ARRAY[
           CASE WHEN p_illness > 0 THEN format(%(en_illness)s, round(oop_medical),
                                             round(illness_ratio, 1)) END,
           CASE WHEN p_schooling > 0 THEN format(%(en_schooling)s, round(education_net)) END,
           CASE WHEN in_disaster THEN %(en_disaster)s
                WHEN p_disaster > 0 THEN format(%(en_hazard)s, round(hazard::numeric, 2)) END,
           CASE WHEN p_income_drop > 0 THEN format(%(en_income_drop)s,
                                                  abs(income_change_pct)) END,
           CASE WHEN p_income_low > 0 THEN format(%(en_income_low)s, round(income_per_capita))
           END,
           CASE WHEN p_disability > 0 THEN %(en_new_disability)s END,
           CASE WHEN p_housing > 0 THEN format(%(en_housing)s, housing_grade) END,
           CASE WHEN p_water > 0 THEN %(en_water)s END,
           CASE WHEN p_deposit > 0 THEN format(%(en_deposit)s, round(deposit_total)) END],
           NULL) AS reasons_en,
       CASE WHEN (p_illness + p_schooling + p_disaster + p_income_drop + p_income_low
                  + p_disability + p_housing + p_water + p_deposit) >= %(red)s THEN 'red'
            WHEN (p_illness + p_schooling + p_disaster + p_income_drop + p_income_low
                  + p_disability + p_housing + p_water + p_deposit) >= %(orange)s THEN 'orange'
            WHEN (p_illness + p_schooling + p_disaster + p_income_drop + p_income_low
                  + p_disability + p_housing + p_water + p_deposit) >= %(yellow)s THEN 'yellow'
       END AS level
FROM points
-- A household with no factor at all has nothing to score.
WHERE p_illness + p_schooling + p_disaster + p_income_drop + p_income_low + p_disability
      + p_housing + p_water + p_deposit > 0;

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
