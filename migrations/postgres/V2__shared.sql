-- What two servers on one store must agree on besides the documents.

-- Files each server keeps in its own data directory but that must be the
-- same on both (the token file, staff accounts, alarm settings, the
-- frame-signing key, cap.json): `name` is the path under the data
-- directory, `sha` the SHA-256 of `bytes`.
CREATE TABLE shared_files (
    name text PRIMARY KEY,
    bytes bytea NOT NULL,
    sha bytea NOT NULL
);

-- Frame sequence numbers' reserved high-water marks, per panel: a server
-- hands out numbers below its panel's mark and raises the mark here
-- before it uses a number above it, so a server that takes over starts
-- above everything the one before could have used.
CREATE TABLE seq_marks (
    panel text PRIMARY KEY,
    mark bigint NOT NULL
);

-- The leader's epoch, raised by every server that becomes leader.
CREATE TABLE leader (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    epoch bigint NOT NULL
);
INSERT INTO leader (epoch) VALUES (0);
