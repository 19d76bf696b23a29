-- Inspections recorded by auditors (纪委监察): who inspected which official or household,
-- when, with what outcome. Written by the app (scoped, audited in the same transaction);
-- readable in the county (the application narrows further), written only inside the scope.
CREATE TABLE inspection (
    inspection_id bigserial   PRIMARY KEY,
    county_code   text        NOT NULL CHECK (county_code ~ '^[0-9]{6}$'),
    area_code     text        NOT NULL
                  CHECK (area_code ~ '^([0-9]{6}|[0-9]{9}|[0-9]{12})$'),
    inspector     text        NOT NULL,
    official_id   text,
    household_id  text,
    inspected_on  date        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('official', 'household_visit')),
    outcome       text        NOT NULL CHECK (outcome IN ('no_issue', 'corrected', 'referred')),
    note          text        NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (official_id IS NOT NULL OR household_id IS NOT NULL),
    CHECK (left(area_code, 6) = county_code)
);
CREATE INDEX inspection_area_idx ON inspection (county_code, inspected_on);

ALTER TABLE inspection ENABLE ROW LEVEL SECURITY;
ALTER TABLE inspection FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON inspection TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY app_access ON inspection TO onemap_app USING (true) WITH CHECK (true);
CREATE POLICY app_jurisdiction ON inspection AS RESTRICTIVE TO onemap_app
    USING (onemap_visible(county_code)) WITH CHECK (onemap_within(area_code));
GRANT SELECT, INSERT ON inspection TO onemap_app;
GRANT USAGE ON SEQUENCE inspection_inspection_id_seq TO onemap_app;
