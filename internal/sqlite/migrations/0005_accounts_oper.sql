-- Accounts get ids that are never reused (AUTOINCREMENT): private history will be kept under an
-- account's id, and a name registered again after its account was deleted must read none of
-- what the old account kept. SQLite cannot change a primary key in place, so the table is made
-- again and the rows copied with their ids. (An id freed before this migration, at the end of
-- the old table, may still be given once more: nothing was kept under account ids until now.)
--
-- Every hash is copied: the old table's pages, and the space the copy's pages leave as they
-- split while it grows, are overwritten, so that a password changed later leaves no copy of its
-- old hash anywhere in the file.
PRAGMA secure_delete = ON;
CREATE TABLE accounts_new (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    name    TEXT    NOT NULL UNIQUE, -- as registered
    key1    TEXT    NOT NULL,        -- skeleton of the lower-case form
    key2    TEXT    NOT NULL,        -- skeleton of the name as written
    hash    TEXT    NOT NULL,        -- argon2id, PHC string with its costs
    created INTEGER NOT NULL,        -- unix nanoseconds
    oper    INTEGER NOT NULL DEFAULT 0   -- named an operator by `hubbub account oper`
);
INSERT INTO accounts_new (id, name, key1, key2, hash, created)
    SELECT id, name, key1, key2, hash, created FROM accounts ORDER BY id;
DROP TABLE accounts;
ALTER TABLE accounts_new RENAME TO accounts;
CREATE UNIQUE INDEX accounts_key1 ON accounts (key1);
CREATE UNIQUE INDEX accounts_key2 ON accounts (key2);
PRAGMA secure_delete = OFF;
