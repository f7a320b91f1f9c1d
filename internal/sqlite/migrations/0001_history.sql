-- Chat history: every line said in a room, every private message, every join, leave, nick
-- and topic change, in the order the server handled them.
CREATE TABLE messages (
    id        INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, so ids only increase
    at        INTEGER NOT NULL,                  -- unix nanoseconds
    kind      TEXT    NOT NULL,                  -- chat, action, topic, join, leave, nick, private
    room      TEXT    NOT NULL,                  -- the room's key; '' for private messages
    room_name TEXT    NOT NULL,
    sender    TEXT    NOT NULL,
    sender_key TEXT   NOT NULL,
    recipient TEXT    NOT NULL DEFAULT '',
    pair      TEXT    NOT NULL DEFAULT '',       -- private: the two parties' keys, sorted
    text      TEXT    NOT NULL
);
CREATE INDEX messages_room ON messages (room, id);
CREATE INDEX messages_pair ON messages (pair, id) WHERE pair <> '';

-- Full-text index of chat lines and actions. It is brought up to date in bulk at the end of
-- each write transaction (indexing row by row, by trigger, costs several times more).
CREATE VIRTUAL TABLE messages_fts USING fts5(text, content = 'messages', content_rowid = 'id');
CREATE TABLE fts_state (last_indexed INTEGER NOT NULL);
INSERT INTO fts_state VALUES (0);

-- Bans set by operators.
CREATE TABLE bans (
    kind    TEXT NOT NULL,     -- name or address
    value   TEXT NOT NULL,     -- the name's key, or the prefix
    display TEXT NOT NULL,     -- the name as shown, or the prefix
    until   INTEGER NOT NULL,  -- unix nanoseconds; 0: until lifted
    PRIMARY KEY (kind, value)
);
