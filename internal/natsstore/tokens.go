package natsstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"hubbub/internal/chat"
)

// Web login tokens in the tokens bucket, under the key <account ID>.<hex SHA-256 of the
// token>, which is also the token's id: the bucket never holds a token, only its hash, and
// the hash lets nobody log in. The token itself is <account ID>.<32 random bytes, base64url>:
// its account's ID in front lets the account's tokens be listed (and revoked) by a filter on
// the key, as the server filters them, rather than by reading every token of the cluster.
//
// Each key has a TTL of the token's lifetime, written again, with compare-and-set, when the
// token is used and was last written more than TokenRefresh ago: an unused token expires by
// itself on every node. A token also ends with its account: it logs in only while the account
// registered under its name still has its ID.

const (
	// tokenBytes is a token's randomness: 256 bits, beyond guessing.
	tokenBytes = 32
	// maxTokensPerAccount bounds the keys one account can make by logging in again and again
	// (a script with the password); past it the least recently used go first.
	maxTokensPerAccount = 50
)

var tokenEncoding = base64.RawURLEncoding

// tokenValue is what a token's key holds.
type tokenValue struct {
	Account string `json:"account"` // the account's name as registered
	Created int64  `json:"created"` // Unix nanoseconds
}

func tokenKey(id int64, token string) string {
	sum := sha256.Sum256([]byte(token))
	return strconv.FormatInt(id, 10) + "." + hex.EncodeToString(sum[:])
}

// parseID reads an account ID as a token or a token id starts with it: digits, no sign, no
// leading zero.
func parseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0 && strconv.FormatInt(id, 10) == s
}

// CreateToken makes a login token for the account registered as account (exactly) and returns
// it, to be given to the browser once, and its id, to revoke it by. chat.ErrNoAccount when
// there is no such account.
func (s *Store) CreateToken(ctx context.Context, account string) (token, id string, err error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	st, ok, err := s.byName(ctx, account)
	if err != nil {
		return "", "", fmt.Errorf("create token: %w", err)
	}
	if !ok {
		return "", "", chat.ErrNoAccount
	}
	raw := make([]byte, tokenBytes)
	rand.Read(raw) // never fails (crypto/rand crashes the program rather than return short)
	token = strconv.FormatInt(st.rec.ID, 10) + "." + tokenEncoding.EncodeToString(raw)
	key := tokenKey(st.rec.ID, token)
	value, _ := json.Marshal(tokenValue{Account: st.rec.Name, Created: time.Now().UnixNano()})
	if _, err := s.tokens.create(ctx, key, value, s.cfg.TokenLifetime); err != nil {
		return "", "", fmt.Errorf("create token: %w", err)
	}
	if err := s.trimTokens(ctx, st.rec.ID, key); err != nil {
		return "", "", fmt.Errorf("create token: %w", err)
	}
	return token, key, nil
}

// trimTokens revokes the account's least recently used tokens past maxTokensPerAccount,
// never the one just made (keep).
func (s *Store) trimTokens(ctx context.Context, id int64, keep string) error {
	entries, err := s.tokens.list(ctx, strconv.FormatInt(id, 10)+".*")
	if err != nil || len(entries) <= maxTokensPerAccount {
		return err
	}
	// The time of a key's last write is when the token was last used (or refreshed).
	slices.SortFunc(entries, func(a, b keyEntry) int {
		return cmp.Or(a.time.Compare(b.time), cmp.Compare(a.rev, b.rev))
	})
	for _, e := range entries[:len(entries)-maxTokensPerAccount] {
		if e.key == keep {
			continue
		}
		if err := s.tokens.purge(ctx, e.key, e.rev); err != nil && !errors.Is(err, errChanged) {
			return err
		}
	}
	return nil
}

// AccountOfToken returns the account that token logs in to, and the token's id. ok is false
// for a token that is unknown, revoked or expired, or whose account is gone.
func (s *Store) AccountOfToken(ctx context.Context, token string) (account, id string, ok bool, err error) {
	prefix, rest, found := strings.Cut(token, ".")
	accountID, valid := parseID(prefix)
	if !found || !valid {
		return "", "", false, nil // not one of ours: no need to look
	}
	if raw, err := tokenEncoding.DecodeString(rest); err != nil || len(raw) != tokenBytes {
		return "", "", false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	key := tokenKey(accountID, token)
	e, live, err := s.tokens.get(ctx, key)
	if err != nil {
		return "", "", false, fmt.Errorf("token: %w", err)
	}
	if !live {
		return "", "", false, nil
	}
	var v tokenValue
	if err := json.Unmarshal(e.value, &v); err != nil {
		return "", "", false, fmt.Errorf("token %s: %w", key, err)
	}
	now := time.Now()
	if !now.Before(e.time.Add(s.cfg.TokenLifetime)) {
		// The server expires it; this is for a clock or a server that lags.
		return "", "", false, nil
	}
	st, has, err := s.byName(ctx, v.Account)
	if err != nil {
		return "", "", false, fmt.Errorf("token: %w", err)
	}
	if !has || st.rec.ID != accountID {
		return "", "", false, nil // its account was deleted (and the name perhaps registered again)
	}
	if now.Sub(e.time) >= s.cfg.TokenRefresh {
		// Expecting the revision read: a token revoked meanwhile is not brought back.
		_, err := s.tokens.write(ctx, key, e.value, e.rev, s.cfg.TokenLifetime)
		if errors.Is(err, errChanged) {
			return "", "", false, nil // revoked, or refreshed by another use: ask again to know
		}
		if err != nil {
			return "", "", false, fmt.Errorf("refresh token: %w", err)
		}
	}
	return st.rec.Name, key, true, nil
}

// validTokenID reports whether id is shaped like a token's id: <account ID>.<64 hex digits>.
func validTokenID(id string) (int64, bool) {
	prefix, hash, found := strings.Cut(id, ".")
	accountID, ok := parseID(prefix)
	if !found || !ok || len(hash) != 2*sha256.Size {
		return 0, false
	}
	if _, err := hex.DecodeString(hash); err != nil || strings.ToLower(hash) != hash {
		return 0, false
	}
	return accountID, true
}

// RevokeToken ends the token with id; one already gone is no error.
func (s *Store) RevokeToken(ctx context.Context, id string) error {
	if _, ok := validTokenID(id); !ok {
		return nil // no token has that id
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	if err := s.tokens.purge(ctx, id, 0); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// RevokeTokens implements chat.Accounts: it ends every token of the account registered as
// account except the one with id keep ("": all of them), so that /logout ends the account's
// other sessions and not the one it was typed in.
func (s *Store) RevokeTokens(ctx context.Context, account, keep string) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	st, ok, err := s.byName(ctx, account)
	if err != nil {
		return fmt.Errorf("revoke tokens: %w", err)
	}
	if !ok {
		return nil
	}
	if err := s.revokeTokensOf(ctx, st.rec.ID, keep); err != nil {
		return fmt.Errorf("revoke tokens: %w", err)
	}
	return nil
}

// revokeTokensOf ends every token of the account with id, but keep.
func (s *Store) revokeTokensOf(ctx context.Context, id int64, keep string) error {
	entries, err := s.tokens.list(ctx, strconv.FormatInt(id, 10)+".*")
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.key == keep {
			continue
		}
		if err := s.tokens.purge(ctx, e.key, 0); err != nil {
			return err
		}
	}
	return nil
}
