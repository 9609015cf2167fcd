-- Proof of play (state/plays.redb on a file store): one row per frame a
-- sign confirmed, written by the server that led then, read by every
-- server, so reports span failovers. Times in ms since the epoch. The
-- panel id sorts byte-wise, as on the file store, whatever the
-- database's collation.
CREATE TABLE plays (
    shown_ms bigint NOT NULL,
    panel text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    message text NOT NULL,
    campaign text NOT NULL,
    alert text NOT NULL,
    -- The ack named the CRC of the frame sent to the panel.
    verified boolean NOT NULL,
    PRIMARY KEY (shown_ms, panel, seq)
);

-- The fleet's online count, sampled every few minutes by the leader.
CREATE TABLE online_samples (
    at_ms bigint PRIMARY KEY,
    online bigint NOT NULL,
    panels bigint NOT NULL
);
