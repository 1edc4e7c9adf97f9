-- The whole ledger: an ordered map of byte keys to byte values. bytea
-- compares bytewise, so index order is the key order the ledger's
-- prefixes and numbered keys are built for.
CREATE TABLE kv (
    k bytea PRIMARY KEY,
    v bytea NOT NULL
);
