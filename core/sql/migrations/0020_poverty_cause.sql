-- 致贫原因: the main and secondary poverty cause civil affairs sends with each household
-- (etl.feedspec.POVERTY_CAUSES; NULL for months loaded before the roster carried them).
ALTER TABLE household ADD COLUMN poverty_cause text;
ALTER TABLE household ADD COLUMN poverty_cause_secondary text;
