-- Blank rows are skipped the same way in CSV and XLSX and counted apart from the rows read
-- (read = loaded + quarantined + merged still holds); a feed's warnings (a header-only file the
-- contract allows, for instance) are kept with its report.
ALTER TABLE etl_feed_report
    ADD COLUMN rows_skipped integer NOT NULL DEFAULT 0 CHECK (rows_skipped >= 0),
    ADD COLUMN warnings     text[]  NOT NULL DEFAULT '{}';
