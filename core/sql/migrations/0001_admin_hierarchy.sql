-- The admin hierarchy: province → city → county (real) → town → village (synthetic).
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE admin_level (
    level      text     PRIMARY KEY,
    depth      smallint NOT NULL UNIQUE,
    code_len   smallint NOT NULL UNIQUE,
    name_zh    text     NOT NULL,
    name_en    text     NOT NULL
);
INSERT INTO admin_level VALUES
    ('province', 0,  2, '省',   'province'),
    ('city',     1,  4, '市',   'city'),
    ('county',   2,  6, '县',   'county'),
    ('town',     3,  9, '乡镇', 'town'),
    ('village',  4, 12, '村',   'village');

-- `code` is the natural admin-code prefix (33, 3311, 331122, 331122101, 331122101201): a
-- jurisdiction scope is a prefix, so `code LIKE scope || '%'` selects a whole subtree.
CREATE TABLE admin_area (
    code         text        PRIMARY KEY CHECK (code ~ '^[0-9]+$'),
    level        text        NOT NULL REFERENCES admin_level (level),
    parent_code  text        REFERENCES admin_area (code) DEFERRABLE INITIALLY DEFERRED,
    county_code  text        CHECK (county_code IS NULL OR county_code = left(code, 6)),
    stat_code    text        NOT NULL UNIQUE CHECK (length(stat_code) = 12),
    name         text        NOT NULL,
    kind         text        NOT NULL,
    synthetic    boolean     NOT NULL,
    rurality     real        CHECK (rurality BETWEEN 0 AND 1),
    area_km2     double precision NOT NULL,
    label_point  geometry(Point, 4326) NOT NULL,
    bbox         box2d       NOT NULL,
    geom         geometry(MultiPolygon, 4326) NOT NULL,
    CHECK (parent_code IS NULL OR code LIKE parent_code || '%'),
    CHECK (ST_IsValid(geom))
);
CREATE INDEX admin_area_geom_gix ON admin_area USING gist (geom);
CREATE INDEX admin_area_parent_idx ON admin_area (parent_code);
CREATE INDEX admin_area_code_prefix_idx ON admin_area (code text_pattern_ops);
CREATE INDEX admin_area_level_idx ON admin_area (level);

-- Geometry as drawn on the map: simplified per level with coverage simplification, so that
-- neighbours still share their edges and the map never ships raw boundaries at low zoom.
CREATE TABLE admin_area_display (
    code       text        PRIMARY KEY REFERENCES admin_area (code) ON DELETE CASCADE,
    tolerance  double precision NOT NULL,
    geom       geometry(MultiPolygon, 4326) NOT NULL
);
CREATE INDEX admin_area_display_geom_gix ON admin_area_display USING gist (geom);

-- What has been loaded, and from what: `onemap init` compares fingerprints to stay idempotent;
-- caches key on `version`.
CREATE TABLE dataset_version (
    dataset     text        PRIMARY KEY,
    fingerprint text        NOT NULL,
    version     bigint      NOT NULL DEFAULT 1,
    source      text        NOT NULL,
    loaded_at   timestamptz NOT NULL DEFAULT now()
);
