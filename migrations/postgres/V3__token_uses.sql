-- Each API token's latest use, whichever server saw it, by the token's
-- SHA-256 (hex, as in the token file): kept out of the shared token file,
-- which would otherwise change whenever a token is used on either server.
CREATE TABLE token_uses (
    sha256 text PRIMARY KEY,
    used_at timestamptz NOT NULL
);
