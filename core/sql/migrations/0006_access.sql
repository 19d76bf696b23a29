-- Logins, jurisdiction scoping enforced in the database, and a tamper-evident audit trail.
--
-- The web app connects as `onemap_app`: it owns nothing, is no superuser and cannot bypass
-- row-level security. Every table holding household- or person-level data has FORCE ROW LEVEL
-- SECURITY; the app role sees a row only when it lies in the jurisdiction set for the
-- transaction (`set_config('onemap.scope', '<admin code>', true)`). No scope: zero rows.
-- docs/security.md lists the tables and the granularity each is enforced at.

-- ---------------------------------------------------------------------------------------------
-- Users and logins
-- ---------------------------------------------------------------------------------------------
CREATE TABLE app_user (
    username      text        PRIMARY KEY CHECK (username ~ '^[a-z][a-z0-9_.-]{2,39}$'),
    display_name  text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('province_leader', 'city_leader',
                                                       'county_leader', 'official', 'planner',
                                                       'auditor', 'admin')),
    -- An admin code; `onemap users add` checks that the area exists. No foreign key: reloading
    -- a regenerated geography (`onemap init`) must not fail on a user's synthetic village.
    jurisdiction  text        NOT NULL
                  CHECK (jurisdiction ~ '^([0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})$'),
    password_hash text        NOT NULL,
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- A leader's jurisdiction is an area of their level; officials work in a town or village.
    CHECK (role <> 'province_leader' OR length(jurisdiction) = 2),
    CHECK (role <> 'city_leader' OR length(jurisdiction) = 4),
    CHECK (role <> 'county_leader' OR length(jurisdiction) = 6),
    CHECK (role <> 'official' OR length(jurisdiction) IN (9, 12))
);

-- Every login attempt, append-only: the lockout (5 failures in 15 minutes lock an account for
-- 15 minutes) is computed from it. Attempts on a locked account are recorded as 'locked'.
CREATE TABLE login_attempt (
    id       bigserial   PRIMARY KEY,
    username text        NOT NULL,
    at       timestamptz NOT NULL,
    outcome  text        NOT NULL CHECK (outcome IN ('success', 'failure', 'locked'))
);
CREATE INDEX login_attempt_user_idx ON login_attempt (username, at);

-- ---------------------------------------------------------------------------------------------
-- The audit trail: one row per response showing personal data and per export, hash-chained.
-- ids are assigned as previous id + 1 under a lock, so the chain has no gaps: a missing id is
-- a deleted row. hash = sha256(prev_hash || canonical content) (geo/audit.py).
-- ---------------------------------------------------------------------------------------------
CREATE TABLE audit_log (
    id            bigint      PRIMARY KEY CHECK (id > 0),
    at            timestamptz NOT NULL,
    username      text        NOT NULL,
    role          text        NOT NULL,
    scope         text        NOT NULL CHECK (scope ~ '^[0-9]{2,12}$'),
    route         text        NOT NULL,
    request_id    text        NOT NULL,
    household_ids text[]      NOT NULL,
    detail        jsonb,
    prev_hash     text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash          text        NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX audit_log_scope_idx ON audit_log (scope, at);

-- Append-only for everyone: the app role has no UPDATE/DELETE/TRUNCATE privilege, and these
-- triggers stop the owner too unless it deliberately switches triggers off. Whoever does is
-- still caught by `onemap audit verify`.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- ---------------------------------------------------------------------------------------------
-- The jurisdiction of the current transaction
-- ---------------------------------------------------------------------------------------------
-- The scope set with set_config('onemap.scope', code, true); NULL unless it is an admin code
-- (2, 4, 6, 9 or 12 digits), so an unset or empty setting matches nothing.
CREATE FUNCTION onemap_scope() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN current_setting('onemap.scope', true)
                     ~ '^([0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})$'
                THEN current_setting('onemap.scope', true) END
$$;

-- True when `code` and the scope lie on one line of the hierarchy: the area is inside the
-- scope, or (for rows known only at a coarser level, e.g. county) contains it.
CREATE FUNCTION onemap_visible(code text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT left(code, length(onemap_scope())) = left(onemap_scope(), length(code))
$$;

-- True when the area `code` lies inside the scope (its subtree), never above it.
CREATE FUNCTION onemap_within(code text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT left(code, length(onemap_scope())) = onemap_scope()
$$;

-- ---------------------------------------------------------------------------------------------
-- The web app's role: cluster-wide, so created only when missing (test databases share one
-- cluster); its password is set by `onemap db start/migrate/init` (geo/db.py).
-- ---------------------------------------------------------------------------------------------
DO $role$
DECLARE
    existing pg_roles%ROWTYPE;
BEGIN
    SELECT * INTO existing FROM pg_roles WHERE rolname = 'onemap_app';
    IF NOT FOUND THEN
        BEGIN
            CREATE ROLE onemap_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE
                NOINHERIT;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- another database of this cluster created it meanwhile
        END;
    ELSIF existing.rolsuper OR existing.rolbypassrls THEN
        ALTER ROLE onemap_app NOSUPERUSER NOBYPASSRLS;
    END IF;
END
$role$;

-- ---------------------------------------------------------------------------------------------
-- Row-level security
-- ---------------------------------------------------------------------------------------------
-- Each protected table gets: ENABLE + FORCE; `owner_all` (the role running migrations, which
-- loads every row: the ETL and derive); `app_access` (the app role may use the table at all,
-- within its privileges) and the RESTRICTIVE `app_jurisdiction` (only rows in the scope).
-- Dropping `app_jurisdiction` would let the app see every row: tests/test_rls.py shows that.
DO $rls$
DECLARE
    tbl text;
    rule text;
    -- table → the jurisdiction rule, as an expression on the table's own columns.
    rules constant text[][] := ARRAY[
        -- the row's own village
        ARRAY['household',           'onemap_visible(village_code)'],
        ARRAY['household_features',  'onemap_visible(village_code)'],
        ARRAY['warning',             'onemap_visible(village_code)'],
        ARRAY['warning_month',       'onemap_visible(village_code)'],
        -- the warning's village
        ARRAY['warning_event',       'EXISTS (SELECT 1 FROM warning w WHERE w.warning_id'
                                     ' = warning_event.warning_id'
                                     ' AND onemap_visible(w.village_code))'],
        -- county, then (for a town or village scope) the household's village that month
        ARRAY['person',              'household'],
        ARRAY['member_features',     'household'],
        ARRAY['income_survey',       'household'],
        ARRAY['medical_claim',       'household'],
        ARRAY['education',           'household'],
        ARRAY['disability',          'household'],
        ARRAY['bank_deposit',        'household'],
        ARRAY['housing_appraisal',   'household'],
        ARRAY['water_safety',        'household'],
        ARRAY['subsidy',             'household'],
        ARRAY['visit',               'household'],
        ARRAY['benefit',             'household'],
        ARRAY['supervision_finding', 'household'],
        -- county only (the application narrows further)
        ARRAY['household_token',     'onemap_visible(county_code)'],
        ARRAY['supervision_official', 'onemap_visible(county_code)'],
        ARRAY['quarantine',          'onemap_visible(county_code)'],
        -- aggregates: the scope's subtree and its ancestors (the breadcrumb's totals)
        ARRAY['rollup',              'onemap_visible(code)'],
        -- the audit trail: requests made in the scope's subtree
        ARRAY['audit_log',           'onemap_within(scope)']
    ];
    i int;
BEGIN
    FOR i IN 1 .. array_length(rules, 1) LOOP
        tbl := rules[i][1];
        rule := rules[i][2];
        IF rule = 'household' THEN
            rule := format(
                'onemap_visible(county_code) AND (length(onemap_scope()) <= 6 OR EXISTS ('
                'SELECT 1 FROM household h WHERE h.month = %1$I.month'
                ' AND h.household_id = %1$I.household_id AND onemap_visible(h.village_code)))',
                tbl);
        END IF;
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

-- ---------------------------------------------------------------------------------------------
-- Functions the app role may call (SECURITY DEFINER: they run as the owner)
-- ---------------------------------------------------------------------------------------------
-- The password hash and state of one account: the app never reads the hash column itself.
CREATE FUNCTION app_user_credentials(p_username text)
RETURNS TABLE (password_hash text, disabled boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT u.password_hash, u.disabled FROM public.app_user u WHERE u.username = p_username
$$;

-- The last row of the audit chain, whatever the caller's scope (geo/audit.py chains onto it).
CREATE FUNCTION audit_log_tip() RETURNS TABLE (id bigint, hash text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT a.id, a.hash FROM public.audit_log a ORDER BY a.id DESC LIMIT 1
$$;

REVOKE ALL ON FUNCTION app_user_credentials(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_log_tip() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_user_credentials(text) TO onemap_app;
GRANT EXECUTE ON FUNCTION audit_log_tip() TO onemap_app;

-- ---------------------------------------------------------------------------------------------
-- Privileges of the app role: read the partitioned PARENTS (never a partition: a partition has
-- no policies of its own), write only what the app writes. Tables created later (the ETL's and
-- derive's fresh month tables) get nothing: there are no default privileges.
-- ---------------------------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM onemap_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM onemap_app;
GRANT USAGE ON SCHEMA public TO onemap_app;

-- reference data and publication state (no personal data)
GRANT SELECT ON admin_level, admin_area, admin_area_display, dataset_version, published_month,
    policy, derive_run, disaster_event, disaster_event_village TO onemap_app;
-- personal data, behind row-level security
GRANT SELECT ON household, person, income_survey, medical_claim, education, disability,
    bank_deposit, housing_appraisal, water_safety, subsidy, visit, household_features,
    member_features, benefit, warning, warning_month, warning_event, supervision_official,
    supervision_finding, rollup, household_token TO onemap_app;
-- the warning lifecycle (etl/derive/lifecycle.py: advance)
GRANT UPDATE (status, acknowledged_at, verified_at, closed_at, dismiss_reason)
    ON warning TO onemap_app;
GRANT INSERT ON warning_event TO onemap_app;
-- logins: users without their hashes; attempts are appended
GRANT SELECT (username, display_name, role, jurisdiction, disabled, created_at)
    ON app_user TO onemap_app;
GRANT SELECT, INSERT ON login_attempt TO onemap_app;
GRANT USAGE ON SEQUENCE login_attempt_id_seq TO onemap_app;
-- the audit trail: append and read (scoped); no UPDATE, DELETE or TRUNCATE
GRANT SELECT, INSERT ON audit_log TO onemap_app;
