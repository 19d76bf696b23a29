-- The statistics page and the wall read one area's rollups over every month: by code first.
CREATE INDEX rollup_code_month_idx ON rollup (code, month);
CREATE INDEX trend_rollup_code_month_idx ON trend_rollup (code, month);
