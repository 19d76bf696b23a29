-- The token behind each household's door QR code (小康码): random, stable once issued, and in
-- no way derived from the household's or a member's ID.
CREATE TABLE household_token (
    household_id text        PRIMARY KEY,
    county_code  text        NOT NULL,
    token        text        NOT NULL UNIQUE CHECK (token ~ '^[0-9a-f]{32}$'),
    issued_at    timestamptz NOT NULL DEFAULT now()
);
