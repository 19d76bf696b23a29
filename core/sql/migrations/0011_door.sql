-- The household's door page (小康码) without a login: only these SECURITY DEFINER functions
-- reach the data, and they return no personal data — the village, the paired official's work
-- contact — or take a help request into the official's inbox (rate-limited here, where two
-- concurrent requests cannot both slip under the limit).

ALTER TABLE task ADD COLUMN requester_hash text;  -- sha256 of the requesting address, per day
CREATE INDEX task_request_recent ON task (created_at) WHERE kind = 'request';

-- One-time codes printed on a slip for the head of household (`onemap plates`): only the hash
-- is kept; a code opens the household's own benefit list and plan once.
CREATE TABLE household_code (
    household_id text        NOT NULL,
    county_code  text        NOT NULL,
    code_hash    text        NOT NULL UNIQUE CHECK (code_hash ~ '^[0-9a-f]{64}$'),
    issued_at    timestamptz NOT NULL DEFAULT now(),
    used_at      timestamptz
);
CREATE INDEX household_code_household ON household_code (household_id);
ALTER TABLE household_code ENABLE ROW LEVEL SECURITY;
ALTER TABLE household_code FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON household_code TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY app_access ON household_code TO onemap_app USING (true) WITH CHECK (true);
CREATE POLICY app_jurisdiction ON household_code AS RESTRICTIVE TO onemap_app
    USING (onemap_visible(county_code)) WITH CHECK (onemap_visible(county_code));

CREATE FUNCTION door_contact(p_token text)
RETURNS TABLE (village text, town text, county text, official_name text, work_phone text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT v.name, tn.name, c.name, o.name, o.work_phone
    FROM public.household_token k
    JOIN public.household h ON h.household_id = k.household_id
         AND h.month = (SELECT max(month) FROM public.published_month)
    JOIN public.admin_area v ON v.code = h.village_code
    JOIN public.admin_area tn ON tn.code = v.parent_code
    JOIN public.admin_area c ON c.code = h.county_code
    LEFT JOIN public.pairing p ON p.household_id = h.household_id AND p.valid_to IS NULL
    LEFT JOIN public.official o ON o.official_id = p.official_id
    WHERE k.token = p_token
$$;

-- Returns 'ok', 'unknown', 'plate_limit' or 'ip_limit'.
CREATE FUNCTION door_request(p_token text, p_category text, p_body text, p_requester text,
                             p_hours double precision, p_per_plate int, p_per_ip int)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    hh record;
BEGIN
    PERFORM pg_advisory_xact_lock(7402113305);  -- one request at a time: limits hold
    SELECT h.household_id, h.county_code, h.village_code, p.official_id INTO hh
    FROM public.household_token k
    JOIN public.household h ON h.household_id = k.household_id
         AND h.month = (SELECT max(month) FROM public.published_month)
    LEFT JOIN public.pairing p ON p.household_id = h.household_id AND p.valid_to IS NULL
    WHERE k.token = p_token;
    IF NOT FOUND THEN
        RETURN 'unknown';
    END IF;
    IF (SELECT count(*) FROM public.task t WHERE t.kind = 'request'
        AND t.household_id = hh.household_id AND t.created_at > now() - interval '1 hour')
       >= p_per_plate THEN
        RETURN 'plate_limit';
    END IF;
    IF (SELECT count(*) FROM public.task t WHERE t.kind = 'request'
        AND t.requester_hash = p_requester AND t.created_at > now() - interval '1 hour')
       >= p_per_ip THEN
        RETURN 'ip_limit';
    END IF;
    INSERT INTO public.task (kind, household_id, county_code, village_code, official_id,
                             category, body, created_at, due_at, requester_hash)
    VALUES ('request', hh.household_id, hh.county_code, hh.village_code, hh.official_id,
            p_category, p_body, now(), now() + make_interval(secs => 3600 * p_hours),
            p_requester);
    RETURN 'ok';
END
$$;

-- The household's own view after a one-time code: marks the code used and returns the
-- household id (or NULL). The page then reads the benefit list and plan through door_own().
CREATE FUNCTION door_redeem(p_token text, p_code_hash text) RETURNS text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    UPDATE public.household_code c SET used_at = now()
    FROM public.household_token k
    WHERE k.token = p_token AND c.household_id = k.household_id
      AND c.code_hash = p_code_hash AND c.used_at IS NULL
    RETURNING c.household_id
$$;

-- The benefit list (幸福清单) and plan of a household whose code was redeemed (kind, name_zh,
-- name_en, state): no names, IDs, income or address.
CREATE FUNCTION door_own(p_household text)
RETURNS TABLE (kind text, code text, name_zh text, name_en text, state text, due date)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT 'benefit', b.policy_code, po.name_zh, po.name_en, b.state, NULL::date
    FROM public.benefit b JOIN public.policy po ON po.code = b.policy_code
    WHERE b.household_id = p_household
      AND b.month = (SELECT max(month) FROM public.derive_run)
    UNION ALL
    SELECT 'plan', pi.measure, NULL, NULL, pi.status, pi.due_date
    FROM public.plan_item pi WHERE pi.household_id = p_household
$$;

REVOKE ALL ON FUNCTION door_contact(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION door_request(text, text, text, text, double precision, int, int)
    FROM PUBLIC;
REVOKE ALL ON FUNCTION door_redeem(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION door_own(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION door_contact(text) TO onemap_app;
GRANT EXECUTE ON FUNCTION door_request(text, text, text, text, double precision, int, int)
    TO onemap_app;
GRANT EXECUTE ON FUNCTION door_redeem(text, text) TO onemap_app;
GRANT EXECUTE ON FUNCTION door_own(text) TO onemap_app;
