-- Per-user API tokens for desktop GIS (OGC API - Features, vector tiles): only a SHA-256 of
-- the token is kept; a token acts as its user (same role and jurisdiction) until revoked.
CREATE TABLE api_token (
    token_id    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username    text        NOT NULL REFERENCES app_user (username),
    token_hash  text        NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    label       text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_token_user_idx ON api_token (username);

-- The app resolves a presented token's hash to its (enabled) user, never reading the table.
CREATE FUNCTION api_token_user(p_hash text) RETURNS TABLE (username text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT t.username FROM public.api_token t
    JOIN public.app_user u ON u.username = t.username
    WHERE t.token_hash = p_hash AND t.revoked_at IS NULL AND NOT u.disabled
$$;
REVOKE ALL ON api_token FROM onemap_app;
REVOKE ALL ON FUNCTION api_token_user(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api_token_user(text) TO onemap_app;
