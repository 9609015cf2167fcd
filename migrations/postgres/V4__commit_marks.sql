-- Which server committed each of the latest store versions: a server
-- whose connection dropped during its COMMIT reads here, once the
-- transaction has ended, whether its change was committed (the outcome
-- is not otherwise known). Only the latest few hundred are kept.
CREATE TABLE commit_marks (
    version bigint PRIMARY KEY,
    instance text NOT NULL
);
