-- Kiosk tokens of the wall screen (大屏): bound to one area, read-only, aggregates only,
-- revocable. Only a SHA-256 of the token is stored; the token itself is shown once at issue.
CREATE TABLE wall_token (
    token_id    bigserial   PRIMARY KEY,
    token_hash  text        NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    area_code   text        NOT NULL
                CHECK (area_code ~ '^([0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})$'),
    label       text        NOT NULL,
    issued_by   text        NOT NULL,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- The app never reads the table: it asks whether a token hash is live (and for which area).
CREATE FUNCTION wall_token_area(p_hash text)
RETURNS TABLE (token_id bigint, area_code text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT w.token_id, w.area_code FROM public.wall_token w
    WHERE w.token_hash = p_hash AND w.revoked_at IS NULL
$$;
REVOKE ALL ON FUNCTION wall_token_area(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wall_token_area(text) TO onemap_app;
