-- Derived analytics per month: features, benefit lists (幸福清单), return-to-poverty warnings
-- (返贫预警) with their lifecycle, supervision of officials (纪委监察), and rollups per admin
-- level. All derived rows of a month are replaced in one transaction by `onemap derive`.

-- The hazard raster shipped with a month's feeds is sampled at each household by the ETL.
ALTER TABLE household ADD COLUMN hazard real;

CREATE TABLE policy (
    code         text PRIMARY KEY,
    name_zh      text NOT NULL,
    name_en      text NOT NULL,
    category     text NOT NULL,
    department   text NOT NULL,
    paid_months  smallint[],            -- NULL: paid every month
    eligibility  text NOT NULL,         -- rule text (etl.derive.rules)
    amount       text NOT NULL,         -- amount rule text, yuan per month paid
    catalog_hash text NOT NULL
);

CREATE TABLE household_features (
    month             date    NOT NULL,
    household_id      text    NOT NULL,
    county_code       text    NOT NULL,
    village_code      text    NOT NULL,
    status            text    NOT NULL,
    size              smallint NOT NULL,
    mountain          boolean NOT NULL,
    income_per_capita numeric,
    income_prev       numeric,
    income_last_year  numeric,
    income_change_pct numeric,
    housing_grade     text,
    water_safe        boolean,
    water_source      text,
    deposit_total     numeric NOT NULL,
    oop_medical       numeric NOT NULL,
    education_net     numeric NOT NULL,
    in_disaster       boolean NOT NULL,
    hazard            real,
    new_disability    boolean NOT NULL,
    official_id       text,
    last_visit        timestamp,
    PRIMARY KEY (month, household_id)
);

CREATE TABLE member_features (
    month            date     NOT NULL,
    person_token     text     NOT NULL,
    household_id     text     NOT NULL,
    county_code      text     NOT NULL,
    age              smallint NOT NULL,
    sex              text     NOT NULL,
    relation         text     NOT NULL,
    disability_grade smallint,
    disability_type  text,
    is_student       boolean  NOT NULL,
    school_stage     text,
    chronic_illness  boolean  NOT NULL,
    serious_illness  boolean  NOT NULL,
    oop_medical      numeric  NOT NULL,
    oop_inpatient    numeric  NOT NULL,
    oop_chronic      numeric  NOT NULL,
    oop_serious      numeric  NOT NULL,
    education_aid    numeric  NOT NULL,
    deposit          numeric  NOT NULL,
    PRIMARY KEY (month, person_token)
);

-- A policy a household is due, with the amount: eligibility is evaluated as one array per
-- household, keeping only the policies that apply.
CREATE TYPE policy_due AS (code text, amount numeric);

-- The benefit list: one row per household and policy that is received, due, or both.
CREATE TABLE benefit (
    month        date    NOT NULL,
    household_id text    NOT NULL,
    county_code  text    NOT NULL,
    policy_code  text    NOT NULL REFERENCES policy,
    eligible     boolean NOT NULL,
    received     boolean NOT NULL,
    amount_due   numeric,
    amount_paid  numeric,
    state        text    NOT NULL CHECK (state IN ('received', 'gap', 'anomaly')),
    PRIMARY KEY (month, household_id, policy_code)
);
CREATE INDEX benefit_state_idx ON benefit (month, state, county_code);

-- A warning lives across months until it is resolved or dismissed.
CREATE TABLE warning (
    warning_id      bigserial PRIMARY KEY,
    household_id    text        NOT NULL,
    county_code     text        NOT NULL,
    village_code    text        NOT NULL,
    opened_month    date        NOT NULL,
    last_month      date        NOT NULL,
    level           text        NOT NULL CHECK (level IN ('red', 'orange', 'yellow')),
    score           real        NOT NULL,
    factors         text[]      NOT NULL,
    reasons_zh      text[]      NOT NULL,
    reasons_en      text[]      NOT NULL,
    official_id     text,
    status          text        NOT NULL DEFAULT 'raised'
                    CHECK (status IN ('raised', 'acknowledged', 'verified', 'resolved',
                                      'dismissed')),
    raised_at       timestamptz NOT NULL,
    acknowledged_at timestamptz,
    verified_at     timestamptz,
    closed_at       timestamptz,
    dismiss_reason  text,
    CHECK (status <> 'dismissed' OR dismiss_reason IS NOT NULL)
);
CREATE UNIQUE INDEX warning_one_open_per_household ON warning (household_id)
    WHERE status IN ('raised', 'acknowledged', 'verified');
CREATE INDEX warning_county_idx ON warning (county_code, status);

CREATE TABLE warning_event (
    warning_id bigint      NOT NULL REFERENCES warning ON DELETE CASCADE,
    at         timestamptz NOT NULL,
    status     text        NOT NULL,
    actor      text        NOT NULL,
    note       text
);
CREATE INDEX warning_event_idx ON warning_event (warning_id, at);

-- Each month's warnings as computed (reproducible statistics, whatever happened since).
CREATE TABLE warning_month (
    month        date   NOT NULL,
    warning_id   bigint NOT NULL REFERENCES warning ON DELETE CASCADE,
    household_id text   NOT NULL,
    county_code  text   NOT NULL,
    village_code text   NOT NULL,
    level        text   NOT NULL,
    score        real   NOT NULL,
    factors      text[] NOT NULL,
    PRIMARY KEY (month, household_id)
);

CREATE TABLE supervision_official (
    month             date    NOT NULL,
    official_id       text    NOT NULL,
    county_code       text    NOT NULL,
    official_name     text,
    households_paired integer NOT NULL,
    visits            integer NOT NULL,
    not_visited_30    integer NOT NULL,
    not_visited_60    integer NOT NULL,
    not_visited_90    integer NOT NULL,
    far_visits        integer NOT NULL,
    odd_hour_visits   integer NOT NULL,
    copied_visits     integer NOT NULL,
    benefit_anomalies integer NOT NULL,
    PRIMARY KEY (month, official_id)
);

-- One row per thing an auditor should look at, with a place on the map when it has one.
CREATE TABLE supervision_finding (
    month        date      NOT NULL,
    official_id  text,
    county_code  text      NOT NULL,
    household_id text      NOT NULL,
    kind         text      NOT NULL CHECK (kind IN ('not_visited_30', 'not_visited_60',
                                                    'not_visited_90', 'far_visit', 'odd_hour',
                                                    'copied_content', 'benefit_anomaly')),
    detail       text      NOT NULL,
    visit_time   timestamp,
    distance_m   real,
    geom         geometry(Point, 4326)
);
CREATE INDEX supervision_finding_idx ON supervision_finding (month, county_code, kind);

CREATE TABLE rollup (
    month                   date    NOT NULL,
    level                   text    NOT NULL REFERENCES admin_level,
    code                    text    NOT NULL,
    county_code             text,
    households              integer NOT NULL,
    people                  integer NOT NULL,
    income_median           numeric,
    income_growth_mom       numeric,
    income_growth_yoy       numeric,
    entries                 integer NOT NULL,
    exits                   integer NOT NULL,
    warnings_red            integer NOT NULL,
    warnings_orange         integer NOT NULL,
    warnings_yellow         integer NOT NULL,
    warnings_by_factor      jsonb   NOT NULL,
    benefit_gaps            integer NOT NULL,
    benefit_anomalies       integer NOT NULL,
    housing_assessed        integer NOT NULL,
    unsafe_housing          integer NOT NULL,
    water_checked           integer NOT NULL,
    unsafe_water            integer NOT NULL,
    visited_30d             integer NOT NULL,
    response_minutes_median real,
    portrait_fields_auto    bigint  NOT NULL,
    portrait_fields_total   bigint  NOT NULL,
    data_version            text    NOT NULL,
    PRIMARY KEY (month, code)
);

CREATE TABLE derive_run (
    month        date        PRIMARY KEY,
    data_version text        NOT NULL,
    derived_at   timestamptz NOT NULL DEFAULT now(),
    seconds      real        NOT NULL,
    checksum     text        -- over every derived row; computed on request (`--checksum`)
);
