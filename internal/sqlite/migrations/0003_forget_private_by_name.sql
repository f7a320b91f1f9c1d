-- Private messages were kept under their parties' names, and a name is whoever holds it now: a
-- newcomer who took a name could read the private talks of the one who had it before. Private
-- messages are kept only between accounts, which know who they are; those kept under names are
-- deleted, with their bytes overwritten rather than left in free pages of the file.
PRAGMA secure_delete = ON;
DELETE FROM messages WHERE kind = 'private';
PRAGMA secure_delete = OFF;
