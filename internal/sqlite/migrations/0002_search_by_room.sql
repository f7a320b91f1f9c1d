-- /search used to match its words in every room's lines and only then keep the room's: a
-- common word cost a scan of the whole database however few lines were shown. The room is now
-- in the full-text index, as one token of its own (r and the hex of the room's key, so that no
-- punctuation in a room's name splits it), and the MATCH itself selects the room's lines,
-- newest first, as many as asked.
--
-- The token is a generated column of messages, so that the index (whose content is messages)
-- and its content agree, and retention's deletes give the index back exactly what it holds.
ALTER TABLE messages ADD COLUMN room_token TEXT GENERATED ALWAYS AS ('r' || hex(room)) VIRTUAL;

DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5(room_token, text, content = 'messages', content_rowid = 'id');

-- What the old index held, indexed again; the writer indexes the rest, as before.
INSERT INTO messages_fts (rowid, room_token, text)
    SELECT id, room_token, text FROM messages
    WHERE kind IN ('chat', 'action') AND id <= (SELECT last_indexed FROM fts_state);
