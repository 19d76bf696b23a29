-- Monthly department feeds: runs, reports, quarantine, and the published facts.
-- Fact tables are partitioned by month: a run loads a month into fresh tables and publishes by
-- swapping partitions in one short transaction, so readers see last month's data or this
-- month's, never a mix, and a killed run leaves the published data as it was.
-- Every fact table carries county_code (the future distribution key).

CREATE TABLE etl_run (
    run_id           bigserial   PRIMARY KEY,
    month            date        NOT NULL CHECK (extract(day FROM month) = 1),
    source_dir       text        NOT NULL,
    files_checksum   text        NOT NULL,
    status           text        NOT NULL DEFAULT 'running'
                     CHECK (status IN ('running', 'published', 'failed', 'abandoned')),
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    message          text,
    content_checksum text,
    backend_pid      integer     NOT NULL DEFAULT pg_backend_pid()
);
CREATE INDEX etl_run_month_idx ON etl_run (month, run_id);

CREATE TABLE etl_feed_report (
    run_id           bigint  NOT NULL REFERENCES etl_run ON DELETE CASCADE,
    feed             text    NOT NULL,
    file             text    NOT NULL,
    file_format      text    NOT NULL,
    encoding         text,
    rows_read        integer NOT NULL,
    rows_loaded      integer NOT NULL,
    rows_quarantined integer NOT NULL,
    rows_merged      integer NOT NULL,
    rows_fixed       jsonb   NOT NULL DEFAULT '{}',
    seconds          real    NOT NULL,
    PRIMARY KEY (run_id, feed),
    CHECK (rows_read = rows_loaded + rows_quarantined + rows_merged)
);

-- Rejected rows with where and why. row_masked never holds a raw national ID.
CREATE TABLE quarantine (
    run_id      bigint  NOT NULL REFERENCES etl_run ON DELETE CASCADE,
    month       date    NOT NULL,
    feed        text    NOT NULL,
    file        text    NOT NULL,
    line        integer NOT NULL,
    column_name text,
    rule        text    NOT NULL,
    reason      text    NOT NULL,
    county_code text,
    row_masked  jsonb   NOT NULL
);
CREATE INDEX quarantine_run_idx ON quarantine (run_id, feed);

CREATE TABLE published_month (
    month            date        PRIMARY KEY,
    run_id           bigint      NOT NULL REFERENCES etl_run,
    published_at     timestamptz NOT NULL DEFAULT now(),
    content_checksum text        NOT NULL,
    households       integer     NOT NULL,
    people           integer     NOT NULL
);

CREATE TABLE household (
    month         date    NOT NULL,
    household_id  text    NOT NULL,
    county_code   text    NOT NULL,
    village_code  text    NOT NULL,
    status        text    NOT NULL,
    size          smallint NOT NULL,
    head_token    text,
    address       text    NOT NULL,
    phone_masked  text,
    geo_precision text    NOT NULL CHECK (geo_precision IN ('gps', 'village')),
    geom          geometry(Point, 4326) NOT NULL,
    PRIMARY KEY (month, household_id)
) PARTITION BY LIST (month);
CREATE INDEX household_geom_gix ON household USING gist (geom);
CREATE INDEX household_village_idx ON household (month, village_code);

CREATE TABLE person (
    month        date NOT NULL,
    person_token text NOT NULL,
    household_id text NOT NULL,
    county_code  text NOT NULL,
    id_masked    text NOT NULL,
    name         text NOT NULL,
    relation     text NOT NULL,
    sex          text NOT NULL,
    birth_date   date NOT NULL,
    PRIMARY KEY (month, person_token)
) PARTITION BY LIST (month);
CREATE INDEX person_household_idx ON person (month, household_id);

CREATE TABLE income_survey (
    month             date          NOT NULL,
    household_id      text          NOT NULL,
    county_code       text          NOT NULL,
    income_per_capita numeric(12, 2) NOT NULL,
    household_size    smallint      NOT NULL,
    PRIMARY KEY (month, household_id)
) PARTITION BY LIST (month);

CREATE TABLE medical_claim (
    month         date           NOT NULL,
    claim_no      text           NOT NULL,
    person_token  text           NOT NULL,
    household_id  text           NOT NULL,
    county_code   text           NOT NULL,
    claim_date    date           NOT NULL,
    category      text           NOT NULL,
    total_cost    numeric(12, 2) NOT NULL,
    reimbursed    numeric(12, 2) NOT NULL,
    out_of_pocket numeric(12, 2) NOT NULL,
    PRIMARY KEY (month, claim_no)
) PARTITION BY LIST (month);
CREATE INDEX medical_claim_household_idx ON medical_claim (month, household_id);

CREATE TABLE education (
    month        date           NOT NULL,
    person_token text           NOT NULL,
    household_id text           NOT NULL,
    county_code  text           NOT NULL,
    stage        text           NOT NULL,
    school_name  text           NOT NULL,
    term         text           NOT NULL,
    fees         numeric(12, 2) NOT NULL,
    aid          numeric(12, 2) NOT NULL,
    PRIMARY KEY (month, person_token, term)
) PARTITION BY LIST (month);

CREATE TABLE disability (
    month            date     NOT NULL,
    person_token     text     NOT NULL,
    household_id     text     NOT NULL,
    county_code      text     NOT NULL,
    disability_type  text     NOT NULL,
    grade            smallint NOT NULL CHECK (grade BETWEEN 1 AND 4),
    certificate_date date     NOT NULL,
    PRIMARY KEY (month, person_token)
) PARTITION BY LIST (month);

CREATE TABLE bank_deposit (
    month        date           NOT NULL,
    person_token text           NOT NULL,
    household_id text           NOT NULL,
    county_code  text           NOT NULL,
    bank_code    text           NOT NULL,
    balance      numeric(14, 2) NOT NULL,
    check_date   date           NOT NULL,
    PRIMARY KEY (month, person_token, bank_code)
) PARTITION BY LIST (month);

CREATE TABLE housing_appraisal (
    month          date NOT NULL,
    household_id   text NOT NULL,
    county_code    text NOT NULL,
    grade          text NOT NULL CHECK (grade IN ('A', 'B', 'C', 'D')),
    appraisal_date date NOT NULL,
    source_crs     text,
    geom           geometry(Point, 4326),
    PRIMARY KEY (month, household_id)
) PARTITION BY LIST (month);

CREATE TABLE water_safety (
    month        date    NOT NULL,
    household_id text    NOT NULL,
    county_code  text    NOT NULL,
    safe         boolean NOT NULL,
    source_type  text    NOT NULL,
    check_date   date    NOT NULL,
    PRIMARY KEY (month, household_id)
) PARTITION BY LIST (month);

CREATE TABLE subsidy (
    month        date           NOT NULL,
    household_id text           NOT NULL,
    county_code  text           NOT NULL,
    policy_code  text           NOT NULL,
    amount       numeric(12, 2) NOT NULL,
    department   text           NOT NULL,
    PRIMARY KEY (month, household_id, policy_code)
) PARTITION BY LIST (month);

CREATE TABLE visit (
    month         date        NOT NULL,
    official_id   text        NOT NULL,
    official_name text        NOT NULL,
    household_id  text        NOT NULL,
    county_code   text        NOT NULL,
    visit_time    timestamp   NOT NULL,
    source_crs    text,
    geom          geometry(Point, 4326),
    content       text        NOT NULL,
    PRIMARY KEY (month, official_id, household_id, visit_time)
) PARTITION BY LIST (month);

CREATE TABLE disaster_event (
    month       date     NOT NULL,
    event_id    text     NOT NULL,
    county_code text     NOT NULL,  -- the county with most affected villages (exact: below)
    event_type  text     NOT NULL,
    event_date  date     NOT NULL,
    severity    smallint NOT NULL,
    geom        geometry(MultiPolygon, 4326),
    PRIMARY KEY (month, event_id)
) PARTITION BY LIST (month);

CREATE TABLE disaster_event_village (
    month        date NOT NULL,
    event_id     text NOT NULL,
    village_code text NOT NULL,
    county_code  text NOT NULL,
    PRIMARY KEY (month, event_id, village_code)
) PARTITION BY LIST (month);
