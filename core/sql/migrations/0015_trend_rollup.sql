-- Month-on-month figures the statistics page and the wall need beside `rollup`: 3-hour
-- response attainment of the month's new warnings, benefit gaps opened and closed since the
-- month before, households under the low-income standard. Written by `onemap derive` after
-- the month is published (analytics/trends.py), one row per area and month.
CREATE TABLE trend_rollup (
    month          date    NOT NULL,
    code           text    NOT NULL,
    county_code    text,
    warnings_new   integer NOT NULL,   -- warnings opened this month
    responded_3h   integer NOT NULL,   -- of those, acknowledged within 3 hours
    gaps_opened    integer NOT NULL,   -- (household, policy) gaps new since last month
    gaps_closed    integer NOT NULL,   -- gaps of last month no longer open
    below_line     integer NOT NULL,   -- households with income per person under the standard
    income_known   integer NOT NULL,   -- households with a known income
    PRIMARY KEY (month, code)
);

ALTER TABLE trend_rollup ENABLE ROW LEVEL SECURITY;
ALTER TABLE trend_rollup FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON trend_rollup TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY app_access ON trend_rollup TO onemap_app USING (true) WITH CHECK (true);
CREATE POLICY app_jurisdiction ON trend_rollup AS RESTRICTIVE TO onemap_app
    USING (onemap_visible(code)) WITH CHECK (onemap_visible(code));
GRANT SELECT ON trend_rollup TO onemap_app;
