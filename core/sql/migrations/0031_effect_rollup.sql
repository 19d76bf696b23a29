-- Effectiveness estimates (成效评估) computed ahead: per area at town level and above, per window
-- of months (the first derived month to each later derived month), written by `onemap derive`
-- after the month is derived (analytics/effect_rollup.py), so the statistics page reads figures
-- instead of estimating them on every view. As in trend_rollup, county_code is the area's county
-- (its first six digits) and NULL for a city or the province. data_version is that of the
-- window's two months in derive_run ("first|last"): a row of another version is stale.
CREATE TABLE effect_window (
    code           text             NOT NULL,
    county_code    text,
    first_month    date             NOT NULL,
    last_month     date             NOT NULL,
    data_version   text             NOT NULL,
    households     integer          NOT NULL,  -- in the panel (known incomes at both ends)
    fell_back      double precision,           -- share above the standard that fell under it
    PRIMARY KEY (code, first_month, last_month)
);

-- One row per policy that some household of the area started to receive in the window.
CREATE TABLE effect_rollup (
    code           text             NOT NULL,
    county_code    text,
    first_month    date             NOT NULL,
    last_month     date             NOT NULL,
    policy_code    text             NOT NULL,
    n_treated      integer          NOT NULL,
    n_control      integer          NOT NULL,
    effect         double precision,           -- NULL: not enough data (below the minimum n)
    low            double precision,
    high           double precision,
    fell_back      double precision,
    PRIMARY KEY (code, first_month, last_month, policy_code),
    FOREIGN KEY (code, first_month, last_month)
        REFERENCES effect_window (code, first_month, last_month) ON DELETE CASCADE
);

ALTER TABLE effect_window ENABLE ROW LEVEL SECURITY;
ALTER TABLE effect_window FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON effect_window TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY app_access ON effect_window TO onemap_app USING (true) WITH CHECK (true);
CREATE POLICY app_jurisdiction ON effect_window AS RESTRICTIVE TO onemap_app
    USING (onemap_visible(code)) WITH CHECK (onemap_visible(code));
GRANT SELECT ON effect_window TO onemap_app;

ALTER TABLE effect_rollup ENABLE ROW LEVEL SECURITY;
ALTER TABLE effect_rollup FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON effect_rollup TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY app_access ON effect_rollup TO onemap_app USING (true) WITH CHECK (true);
CREATE POLICY app_jurisdiction ON effect_rollup AS RESTRICTIVE TO onemap_app
    USING (onemap_visible(code)) WITH CHECK (onemap_visible(code));
GRANT SELECT ON effect_rollup TO onemap_app;

-- The effectiveness section's recurrence count asks, per household with a resolved warning,
-- whether it was warned again later; without this index each question scanned every warning
-- (under row-level security the planner loops: minutes for a county).
CREATE INDEX warning_household_raised ON warning (household_id, raised_at);
