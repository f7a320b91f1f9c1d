-- Accounts: a registered name and its password's hash. A name is found by its two skeletons
-- (chat.Name's look-alike keys), so that no one registers, or takes as a guest, a name that
-- looks like one registered. Each key column is unique; that key1 of one account never equals
-- key2 of another is CreateAccount's check, in the transaction that inserts.
CREATE TABLE accounts (
    id      INTEGER PRIMARY KEY,
    name    TEXT    NOT NULL UNIQUE, -- as registered
    key1    TEXT    NOT NULL,        -- skeleton of the lower-case form
    key2    TEXT    NOT NULL,        -- skeleton of the name as written
    hash    TEXT    NOT NULL,        -- argon2id, PHC string with its costs
    created INTEGER NOT NULL         -- unix nanoseconds
);
CREATE UNIQUE INDEX accounts_key1 ON accounts (key1);
CREATE UNIQUE INDEX accounts_key2 ON accounts (key2);
