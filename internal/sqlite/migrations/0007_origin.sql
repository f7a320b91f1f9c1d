-- In a cluster each node's history is an index of the events stream: a line another node kept
-- is added with the id of the event that carried it (origin), so that an event read twice (a
-- node that stopped before acknowledging it reads it again) is kept once. The node's own lines
-- have none: they are kept before they are published, and never read back.
ALTER TABLE messages ADD COLUMN origin TEXT;
CREATE UNIQUE INDEX messages_origin ON messages (origin) WHERE origin IS NOT NULL;
