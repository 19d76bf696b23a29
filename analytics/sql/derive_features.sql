-- Household and member features of one month, from the published facts.
-- Parameters: month (first day), mountain (county codes).
INSERT INTO {household_features} (
    month, household_id, county_code, village_code, status, size, mountain,
    income_per_capita, income_prev, income_last_year, income_change_pct, housing_grade,
    water_safe, water_source, deposit_total, oop_medical, education_net, in_disaster, hazard,
    new_disability, official_id, last_visit)
WITH income_now AS (
    SELECT household_id, income_per_capita FROM income_survey WHERE month = %(month)s::date
), income_prev AS (
    SELECT household_id, income_per_capita FROM income_survey
    WHERE month = (%(month)s::date - interval '1 month')::date
), income_year AS (
    SELECT household_id, income_per_capita FROM income_survey
    WHERE month = (%(month)s::date - interval '12 months')::date
), housing AS (  -- the latest appraisal within a year
    SELECT DISTINCT ON (household_id) household_id, grade FROM housing_appraisal
    WHERE month <= %(month)s::date AND month > (%(month)s::date - interval '12 months')::date
    ORDER BY household_id, month DESC, appraisal_date DESC
), water AS (
    SELECT DISTINCT ON (household_id) household_id, safe, source_type FROM water_safety
    WHERE month <= %(month)s::date AND month > (%(month)s::date - interval '12 months')::date
    ORDER BY household_id, month DESC, check_date DESC
), deposits AS (
    SELECT household_id, sum(balance) AS total FROM bank_deposit
    WHERE month = %(month)s::date GROUP BY household_id
), medical AS (
    SELECT household_id, sum(out_of_pocket) AS total FROM medical_claim
    WHERE month = %(month)s::date GROUP BY household_id
), school AS (
    SELECT household_id, sum(greatest(fees - aid, 0)) AS net FROM education
    WHERE month = %(month)s::date GROUP BY household_id
), hit_villages AS (  -- villages listed by an event
    SELECT DISTINCT village_code FROM disaster_event_village WHERE month = %(month)s::date
), hit_areas AS (  -- households whose point lies inside an event's area
    SELECT DISTINCT h.household_id FROM household h
    JOIN disaster_event e ON e.month = h.month AND e.geom IS NOT NULL
                         AND ST_Intersects(e.geom, h.geom)
    WHERE h.month = %(month)s::date
), new_disability AS (
    SELECT DISTINCT household_id FROM disability
    WHERE month = %(month)s::date AND certificate_date >= %(month)s::date
), last_visit AS (  -- the last visit within a year (feed or app) and who made it
    SELECT DISTINCT ON (household_id) household_id, official_id, visit_time FROM (
        SELECT household_id, official_id, visit_time FROM visit
        WHERE month <= %(month)s::date AND month > (%(month)s::date - interval '12 months')::date
        UNION ALL
        SELECT household_id, official_id, (visited_at AT TIME ZONE 'Asia/Shanghai')
        FROM field_visit WHERE visited_at < (%(month)s::date + interval '1 month')
    ) v
    ORDER BY household_id, visit_time DESC
), paired AS (  -- the paired official (pairing table); the last visitor only without one
    SELECT coalesce(pa.household_id, lv.household_id) AS household_id,
           coalesce(pa.official_id, lv.official_id) AS official_id, lv.visit_time
    FROM (SELECT household_id, official_id FROM pairing WHERE valid_to IS NULL) pa
    FULL JOIN last_visit lv USING (household_id)
)
SELECT h.month, h.household_id, h.county_code, h.village_code, h.status, h.size,
       h.county_code = ANY(%(mountain)s),
       i.income_per_capita, p.income_per_capita, y.income_per_capita,
       round(100 * (i.income_per_capita - p.income_per_capita)
             / NULLIF(p.income_per_capita, 0), 1),
       hs.grade, w.safe, w.source_type, coalesce(d.total, 0), coalesce(m.total, 0),
       coalesce(s.net, 0), hv.village_code IS NOT NULL OR ha.household_id IS NOT NULL,
       h.hazard,
       nd.household_id IS NOT NULL, pr.official_id, pr.visit_time
FROM household h
LEFT JOIN income_now i USING (household_id)
LEFT JOIN income_prev p USING (household_id)
LEFT JOIN income_year y USING (household_id)
LEFT JOIN housing hs USING (household_id)
LEFT JOIN water w USING (household_id)
LEFT JOIN deposits d USING (household_id)
LEFT JOIN medical m USING (household_id)
LEFT JOIN school s USING (household_id)
LEFT JOIN hit_villages hv USING (village_code)
LEFT JOIN hit_areas ha USING (household_id)
LEFT JOIN new_disability nd USING (household_id)
LEFT JOIN paired pr USING (household_id)
WHERE h.month = %(month)s::date;

INSERT INTO {member_features} (
    month, person_token, household_id, county_code, age, sex, relation, disability_grade,
    disability_type, is_student, school_stage, chronic_illness, serious_illness, oop_medical,
    oop_inpatient, oop_chronic, oop_serious, education_aid, deposit)
WITH claims AS (
    SELECT person_token,
           sum(out_of_pocket) AS oop,
           coalesce(sum(out_of_pocket) FILTER (WHERE category = '住院'), 0) AS inpatient,
           coalesce(sum(out_of_pocket) FILTER (WHERE category = '慢性病'), 0) AS chronic,
           coalesce(sum(out_of_pocket) FILTER (WHERE category = '大病'), 0) AS serious,
           bool_or(category = '慢性病') AS has_chronic,
           bool_or(category = '大病') AS has_serious
    FROM medical_claim WHERE month = %(month)s::date GROUP BY person_token
), disabled AS (
    SELECT DISTINCT ON (person_token) person_token, grade, disability_type FROM disability
    WHERE month = %(month)s::date ORDER BY person_token, grade
), students AS (
    SELECT DISTINCT ON (person_token) person_token, stage, aid FROM education
    WHERE month = %(month)s::date ORDER BY person_token, term DESC
), deposits AS (
    SELECT person_token, sum(balance) AS total FROM bank_deposit
    WHERE month = %(month)s::date GROUP BY person_token
)
SELECT p.month, p.person_token, p.household_id, p.county_code,
       extract(year FROM age(%(month)s::date, p.birth_date))::smallint, p.sex, p.relation,
       d.grade, d.disability_type, s.person_token IS NOT NULL, s.stage,
       coalesce(c.has_chronic, false), coalesce(c.has_serious, false), coalesce(c.oop, 0),
       coalesce(c.inpatient, 0), coalesce(c.chronic, 0), coalesce(c.serious, 0),
       coalesce(s.aid, 0), coalesce(k.total, 0)
FROM person p
LEFT JOIN claims c USING (person_token)
LEFT JOIN disabled d USING (person_token)
LEFT JOIN students s USING (person_token)
LEFT JOIN deposits k USING (person_token)
WHERE p.month = %(month)s::date;

-- Issue a door-code token to households that have none yet.
INSERT INTO household_token (household_id, county_code, token)
SELECT f.household_id, f.county_code, replace(gen_random_uuid()::text, '-', '')
FROM {household_features} f
WHERE f.month = %(month)s::date
  AND NOT EXISTS (SELECT 1 FROM household_token t WHERE t.household_id = f.household_id)
ON CONFLICT (household_id) DO NOTHING;
