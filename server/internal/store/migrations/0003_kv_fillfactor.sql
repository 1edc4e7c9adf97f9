-- Leave a fifth of each new page of kv free. Most of what the ledger
-- writes again is a record rewritten in place — a device's sync state,
-- a license, a counter — and an update that fits on its row's page is a
-- heap-only tuple: no new index entry, and the old version is cleaned up
-- by the next reader of the page instead of waiting for vacuum. Pages
-- already written keep their fill until they are rewritten.
ALTER TABLE kv SET (fillfactor = 80);
