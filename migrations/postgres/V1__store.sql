-- The store on PostgreSQL: what the file store keeps under its data
-- directory, one row a file, so that `bangtin store migrate` can move a
-- data directory in and back out file by file.

-- The JSON files: `kind` is the file's directory under the data directory
-- (content/panels, schedules, state/versions/<message id>, ...), `id` its
-- name without `.json`.
CREATE TABLE documents (
    kind text NOT NULL,
    id text NOT NULL,
    body jsonb NOT NULL,
    PRIMARY KEY (kind, id)
);

-- The files that are not JSON: uploaded images (content/assets), CAP
-- documents as received (state/cap/documents). `name` is the file name.
CREATE TABLE blobs (
    kind text NOT NULL,
    name text NOT NULL,
    bytes bytea NOT NULL,
    PRIMARY KEY (kind, name)
);

-- The audit trail, in the order the changes were committed.
CREATE TABLE audit (
    n bigserial PRIMARY KEY,
    entry jsonb NOT NULL
);

-- Raised by every committed change: a server whose snapshot was read at
-- another version reads the store again before it writes.
CREATE TABLE store_version (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    version bigint NOT NULL
);
INSERT INTO store_version (version) VALUES (0);
