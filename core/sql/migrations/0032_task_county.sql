-- Tasks by county and status, like warnings (warning_county_idx): a county's open items are
-- found by this index before row-level security checks each row (core.scope.Scope.counties).
CREATE INDEX task_county_idx ON task (county_code, status);
