-- /search used to match its words in every room's lines and only then keep the room's: a
-- common word cost a scan of the whole database however few lines were shown. Now each word is
-- indexed as a term of its room (hubbub_search_terms, in search.go), so that a search's terms
-- select the room's lines only. The index's rowids are the lines' ids negated, so that it hands
-- them over newest first in its fast, forward, direction, and a search stops after what it
-- returns and counts.
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5(
    terms, content = '', contentless_delete = 1, tokenize = 'ascii', detail = 'none');

-- What the old index held, indexed again; the writer indexes the rest, as before.
INSERT INTO messages_fts (rowid, terms)
    SELECT -id, hubbub_search_terms(room, text) FROM messages
    WHERE kind IN ('chat', 'action') AND id <= (SELECT last_indexed FROM fts_state)
    ORDER BY id DESC; -- rowids increasing: FTS5 writes a segment whenever one goes down
