-- The assistance loop (issue 11): officials' roster, pairing (一户一干部) with history, routed
-- warnings and tasks (我的待办) with deadlines and optimistic concurrency, visits recorded in the
-- app, and each household's help plan (一户一策). docs/assistance.md describes the loop.

-- The officials' roster, loaded from the roster feed (`onemap pairing roster FILE`).
CREATE TABLE official (
    official_id text        PRIMARY KEY CHECK (official_id ~ '^O[0-9]{6}[0-9]{4,}$'),
    county_code text        NOT NULL CHECK (county_code ~ '^[0-9]{6}$'),
    name        text        NOT NULL,
    work_phone  text        NOT NULL,
    villages    text[]      NOT NULL,
    position    text        NOT NULL,
    -- The login of the official, when they have one (`onemap pairing link USER OFFICIAL`).
    username    text        UNIQUE,
    active      boolean     NOT NULL DEFAULT true,
    loaded_at   timestamptz NOT NULL DEFAULT now()
);

-- Each household has exactly one current pairing (valid_to IS NULL); earlier ones stay.
CREATE TABLE pairing (
    pairing_id   bigserial   PRIMARY KEY,
    household_id text        NOT NULL,
    county_code  text        NOT NULL,
    village_code text        NOT NULL,
    official_id  text        NOT NULL REFERENCES official,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,
    reason       text        NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    changed_by   text        NOT NULL,
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE UNIQUE INDEX pairing_current ON pairing (household_id) WHERE valid_to IS NULL;
CREATE INDEX pairing_official ON pairing (official_id) WHERE valid_to IS NULL;

-- A warning is routed with a deadline by level; `version` makes every write compare-and-set.
ALTER TABLE warning
    ADD COLUMN due_at     timestamptz,
    ADD COLUMN visited_at timestamptz,
    ADD COLUMN version    integer NOT NULL DEFAULT 0;
CREATE INDEX warning_official_open ON warning (official_id)
    WHERE status IN ('raised', 'acknowledged', 'verified');

-- 代办 tasks: a benefit that is due but not received, or a request from the household's door.
CREATE TABLE task (
    task_id         bigserial   PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('benefit_gap', 'request')),
    household_id    text        NOT NULL,
    county_code     text        NOT NULL,
    village_code    text        NOT NULL,
    official_id     text,
    month           date,
    policy_code     text,
    category        text,
    body            text        CHECK (length(body) <= 2000),
    created_at      timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,
    status          text        NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'acknowledged', 'resolved', 'dismissed')),
    acknowledged_at timestamptz,
    closed_at       timestamptz,
    note            text        CHECK (length(note) <= 2000),
    version         integer     NOT NULL DEFAULT 0,
    CHECK (status <> 'dismissed' OR note IS NOT NULL),
    CHECK (kind <> 'benefit_gap' OR (policy_code IS NOT NULL AND month IS NOT NULL))
);
-- One gap task per household and policy while it is open.
CREATE UNIQUE INDEX task_one_open_gap ON task (household_id, policy_code)
    WHERE kind = 'benefit_gap' AND status IN ('open', 'acknowledged');
CREATE INDEX task_official_open ON task (official_id) WHERE status IN ('open', 'acknowledged');

-- Visits recorded in the app (source 'app'); the department feed's visits stay in `visit`
-- (monthly partitions replaced by the ETL) and are read together through `visit_all`.
CREATE TABLE field_visit (
    visit_id     bigserial   PRIMARY KEY,
    household_id text        NOT NULL,
    county_code  text        NOT NULL,
    village_code text        NOT NULL,
    official_id  text        NOT NULL,
    username     text        NOT NULL,
    warning_id   bigint      REFERENCES warning ON DELETE SET NULL,
    visited_at   timestamptz NOT NULL,
    note         text        NOT NULL CHECK (length(note) BETWEEN 1 AND 2000),
    geom         geometry(Point, 4326),
    distance_m   real,
    source       text        NOT NULL DEFAULT 'app' CHECK (source IN ('app', 'feed'))
);
CREATE INDEX field_visit_household ON field_visit (household_id, visited_at);

CREATE VIEW visit_all WITH (security_invoker = true) AS
    SELECT household_id, county_code, official_id, visit_time AT TIME ZONE 'Asia/Shanghai'
               AS visited_at, content AS note, geom, 'feed'::text AS source
    FROM visit
    UNION ALL
    SELECT household_id, county_code, official_id, visited_at, note, geom, source
    FROM field_visit;

-- The household's help plan: measures from analytics/help_measures.yaml.
CREATE TABLE plan_item (
    item_id        bigserial   PRIMARY KEY,
    household_id   text        NOT NULL,
    county_code    text        NOT NULL,
    village_code   text        NOT NULL,
    measure        text        NOT NULL CHECK (measure ~ '^[a-z_]{2,40}$'),
    owner          text        NOT NULL CHECK (length(owner) BETWEEN 1 AND 100),
    start_date     date        NOT NULL,
    due_date       date        NOT NULL,
    status         text        NOT NULL DEFAULT 'planned'
                   CHECK (status IN ('planned', 'in_progress', 'done', 'dropped')),
    dropped_reason text        CHECK (length(dropped_reason) <= 500),
    warning_id     bigint      REFERENCES warning ON DELETE SET NULL,
    task_id        bigint      REFERENCES task ON DELETE SET NULL,
    created_by     text        NOT NULL,
    created_at     timestamptz NOT NULL,
    version        integer     NOT NULL DEFAULT 0,
    CHECK (due_date >= start_date),
    CHECK (status <> 'dropped' OR dropped_reason IS NOT NULL)
);
CREATE INDEX plan_item_household ON plan_item (household_id);

-- Rollups gain the 3-hour attainment and plan coverage (filled after each derive and by
-- `onemap pairing refresh`: analytics/assistance.py).
ALTER TABLE rollup
    ADD COLUMN red_due         integer,
    ADD COLUMN red_attained_3h integer,
    ADD COLUMN warned_open     integer,
    ADD COLUMN plan_covered    integer;

-- ---------------------------------------------------------------------------------------------
-- Who acts: `onemap.actor` is set per transaction by the app (analytics/assistance.py) to the
-- signed-in official's id, or to '*' for a town official or county leader acting on their
-- area. Unset: nobody may write. The area itself is checked by `app_jurisdiction`.
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION onemap_may_act(paired_official text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(current_setting('onemap.actor', true) = '*'
                    OR (current_setting('onemap.actor', true) <> ''
                        AND current_setting('onemap.actor', true) = paired_official), false)
$$;

CREATE FUNCTION onemap_area_actor() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(current_setting('onemap.actor', true) = '*', false)
$$;

DO $rls$
DECLARE
    tbl text;
    rule text;
    rules constant text[][] := ARRAY[
        ARRAY['pairing',     'onemap_visible(village_code)'],
        ARRAY['task',        'onemap_visible(village_code)'],
        ARRAY['field_visit', 'onemap_visible(village_code)'],
        ARRAY['plan_item',   'onemap_visible(village_code)'],
        ARRAY['official',    'onemap_visible(county_code)']
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

-- Writes of the app role, narrowed further to who may act (RESTRICTIVE: ANDed with the area).
CREATE POLICY app_act_update ON warning AS RESTRICTIVE FOR UPDATE TO onemap_app
    USING (onemap_may_act(official_id)) WITH CHECK (onemap_may_act(official_id));
CREATE POLICY app_act_update ON task AS RESTRICTIVE FOR UPDATE TO onemap_app
    USING (onemap_may_act(official_id)) WITH CHECK (onemap_may_act(official_id));
CREATE POLICY app_act_insert ON task AS RESTRICTIVE FOR INSERT TO onemap_app
    WITH CHECK (onemap_may_act(official_id));
CREATE POLICY app_act_insert ON field_visit AS RESTRICTIVE FOR INSERT TO onemap_app
    WITH CHECK (onemap_may_act((SELECT p.official_id FROM pairing p
                                WHERE p.household_id = field_visit.household_id
                                  AND p.valid_to IS NULL)));
CREATE POLICY app_act_insert ON plan_item AS RESTRICTIVE FOR INSERT TO onemap_app
    WITH CHECK (onemap_may_act((SELECT p.official_id FROM pairing p
                                WHERE p.household_id = plan_item.household_id
                                  AND p.valid_to IS NULL)));
CREATE POLICY app_act_update ON plan_item AS RESTRICTIVE FOR UPDATE TO onemap_app
    USING (onemap_may_act((SELECT p.official_id FROM pairing p
                           WHERE p.household_id = plan_item.household_id
                             AND p.valid_to IS NULL)));
CREATE POLICY app_act_insert ON pairing AS RESTRICTIVE FOR INSERT TO onemap_app
    WITH CHECK (onemap_area_actor());
CREATE POLICY app_act_update ON pairing AS RESTRICTIVE FOR UPDATE TO onemap_app
    USING (onemap_area_actor());

GRANT SELECT ON official, pairing, task, field_visit, plan_item, visit_all TO onemap_app;
GRANT UPDATE (status, acknowledged_at, verified_at, visited_at, closed_at, dismiss_reason,
              version, official_id) ON warning TO onemap_app;
GRANT INSERT ON task, field_visit, plan_item, pairing TO onemap_app;
GRANT UPDATE (status, acknowledged_at, closed_at, note, version, official_id) ON task
    TO onemap_app;
GRANT UPDATE (status, dropped_reason, version) ON plan_item TO onemap_app;
GRANT UPDATE (valid_to) ON pairing TO onemap_app;
GRANT USAGE ON SEQUENCE task_task_id_seq, field_visit_visit_id_seq, plan_item_item_id_seq,
    pairing_pairing_id_seq TO onemap_app;

-- How many households an official carries, whatever the caller's scope (the cap is checked
-- on the whole load, not only the part a town official sees).
CREATE FUNCTION official_load(p_official_id text) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT count(*) FROM public.pairing p
    WHERE p.official_id = p_official_id AND p.valid_to IS NULL
$$;
REVOKE ALL ON FUNCTION official_load(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION official_load(text) TO onemap_app;
