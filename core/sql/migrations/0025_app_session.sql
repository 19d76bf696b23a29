-- Server-side web sessions (issue 14): the cookie carries a random id, the table only its
-- SHA-256. Deleting a row ends the session at once, whatever copies of the cookie exist.
CREATE TABLE app_session (
    id_hash   bytea            PRIMARY KEY CHECK (length(id_hash) = 32),
    username  text             NOT NULL REFERENCES app_user (username) ON DELETE CASCADE,
    -- Seconds since the epoch, as the web app's clock says (its idle and age limits use them).
    login_at  double precision NOT NULL,
    seen_at   double precision NOT NULL
);
CREATE INDEX app_session_username ON app_session (username);

-- A change of role, jurisdiction, password or a disabled account ends every session of the
-- user, whoever makes the change (CLI, SQL): privileges never outlive the change.
CREATE FUNCTION app_session_end_on_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    DELETE FROM public.app_session WHERE username = OLD.username;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION app_session_end_on_change() FROM PUBLIC;
CREATE TRIGGER app_user_ends_sessions
    AFTER UPDATE OF role, jurisdiction, password_hash, disabled ON app_user
    FOR EACH ROW
    WHEN (OLD.role IS DISTINCT FROM NEW.role
          OR OLD.jurisdiction IS DISTINCT FROM NEW.jurisdiction
          OR OLD.password_hash IS DISTINCT FROM NEW.password_hash
          OR (NEW.disabled AND NOT OLD.disabled))
    EXECUTE FUNCTION app_session_end_on_change();

GRANT SELECT, INSERT, DELETE ON app_session TO onemap_app;
GRANT UPDATE (seen_at) ON app_session TO onemap_app;
