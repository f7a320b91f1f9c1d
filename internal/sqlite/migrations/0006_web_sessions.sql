-- Web sessions: the web page's login tokens. The browser holds the token (a cookie); the table
-- holds only its SHA-256, so that a copy of the file logs nobody in. A token ends when it has
-- not been used for 30 days, when it is revoked (/logout from the page, /logout elsewhere), or
-- when its account's password changes or the account is deleted.
CREATE TABLE web_sessions (
    id         INTEGER PRIMARY KEY,
    hash       BLOB    NOT NULL UNIQUE, -- SHA-256 of the token
    account_id INTEGER NOT NULL,        -- accounts.id
    account    TEXT    NOT NULL,        -- accounts.name, as registered
    created    INTEGER NOT NULL,        -- unix nanoseconds
    last_used  INTEGER NOT NULL,        -- unix nanoseconds; written at most once an hour
    expires    INTEGER NOT NULL         -- unix nanoseconds; last_used + 30 days
);
CREATE INDEX web_sessions_account ON web_sessions (account);
