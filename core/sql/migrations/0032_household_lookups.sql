-- Indexes for what the app looks up one household or one county at a time, under row-level
-- security at full scale (496,000 households):
-- * tasks by county and status, like warnings (warning_county_idx): a county's open items are
--   found before the policy checks each row (core.scope.Scope.counties);
-- * a household's incomes and visits over the months (the portrait's income line and recent
--   visits): the primary keys lead with the month, so each month's partition was read whole
--   (150-370 ms per portrait under load). The ETL gives each new month's partition the same
--   indexes (etl/publish.py copies the parent's).
CREATE INDEX task_county_idx ON task (county_code, status);
CREATE INDEX income_survey_household_idx ON income_survey (household_id, month);
CREATE INDEX visit_household_idx ON visit (household_id, visit_time);
