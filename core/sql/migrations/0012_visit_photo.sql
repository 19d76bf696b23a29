-- Photos of a home visit (issue 11): JPEG or PNG, re-encoded without EXIF by the app
-- (analytics/photos.py), kept as files outside the web root; this row says whose they are.
-- docs/assistance.md describes them.
CREATE TABLE visit_photo (
    photo_id     bigserial   PRIMARY KEY,
    visit_id     bigint      NOT NULL REFERENCES field_visit ON DELETE CASCADE,
    household_id text        NOT NULL,
    county_code  text        NOT NULL,
    village_code text        NOT NULL,
    content_type text        NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png')),
    bytes        integer     NOT NULL CHECK (bytes > 0),
    sha256       text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    -- A random name in the photo folder: never a path, never the uploaded file's name.
    stored_name  text        NOT NULL UNIQUE CHECK (stored_name ~ '^[0-9a-f]{32}\.(jpg|png)$'),
    created_by   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visit_photo_visit ON visit_photo (visit_id);

-- Row-level security as for field_visit (migration 0010): the area, and who may act.
DO $rls$
DECLARE
    tbl text;
    rule text;
    rules constant text[][] := ARRAY[
        ARRAY['visit_photo', 'onemap_visible(village_code)']
    ];
    i int;
BEGIN
    FOR i IN 1 .. array_length(rules, 1) LOOP
        tbl := rules[i][1];
        rule := rules[i][2];
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tbl);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', tbl);
        EXECUTE format('CREATE POLICY owner_all ON %I TO CURRENT_USER'
                       ' USING (true) WITH CHECK (true)', tbl);
        EXECUTE format('CREATE POLICY app_access ON %I TO onemap_app'
                       ' USING (true) WITH CHECK (true)', tbl);
        EXECUTE format('CREATE POLICY app_jurisdiction ON %I AS RESTRICTIVE TO onemap_app'
                       ' USING (%s) WITH CHECK (%s)', tbl, rule, rule);
    END LOOP;
END
$rls$;

CREATE POLICY app_act_insert ON visit_photo AS RESTRICTIVE FOR INSERT TO onemap_app
    WITH CHECK (onemap_may_act((SELECT p.official_id FROM pairing p
                                WHERE p.household_id = visit_photo.household_id
                                  AND p.valid_to IS NULL)));

GRANT SELECT, INSERT ON visit_photo TO onemap_app;
GRANT USAGE ON SEQUENCE visit_photo_photo_id_seq TO onemap_app;
