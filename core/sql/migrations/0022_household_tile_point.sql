-- Household points as every de-identified layer shows them: moved inside their village by the
-- keyed offset of layers/deidentify.py, in Web Mercator, with the attributes a tile carries.
-- Filled by `onemap derive` (layers.displaced.refresh) for each published month; the vector
-- tiles and the benchmark's tipg read it. No name, no ID: household_id stays server-side.
CREATE TABLE household_tile_point (
    month         date    NOT NULL,
    household_id  text    NOT NULL,
    county_code   text    NOT NULL,
    village_code  text    NOT NULL,
    status        text    NOT NULL,
    poverty_cause text,
    warning_level text    NOT NULL DEFAULT '',
    warning_rank  smallint NOT NULL DEFAULT 3,
    -- The point's z16 tile: integer comparisons are leakproof, so a tile's rows are found by
    -- this index before row-level security is checked (a geometry && under RLS cannot be).
    x16           integer NOT NULL,
    y16           integer NOT NULL,
    geom          geometry(Point, 3857) NOT NULL,
    PRIMARY KEY (month, household_id)
);
CREATE INDEX household_tile_point_geom_gix ON household_tile_point USING gist (geom);
CREATE INDEX household_tile_point_tile_idx ON household_tile_point (month, x16, y16);

ALTER TABLE household_tile_point ENABLE ROW LEVEL SECURITY;
ALTER TABLE household_tile_point FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON household_tile_point TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY app_access ON household_tile_point TO onemap_app USING (true) WITH CHECK (true);
CREATE POLICY app_jurisdiction ON household_tile_point AS RESTRICTIVE TO onemap_app
    USING (onemap_visible(village_code)) WITH CHECK (onemap_visible(village_code));
GRANT SELECT ON household_tile_point TO onemap_app;
