package natsstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/natsnode"
)

// Accounts in the accounts bucket. Three kinds of key:
//
//   - <hex skeleton>: the name's claim, one per distinct skeleton of the account's name
//     (chat.Name.Keys), holding the account's ID. Made with a create, so that of two nodes
//     registering look-alikes at once only one can hold a skeleton; a name whose first
//     skeleton is another's second still meets it, since both columns are one key space.
//   - a.<ID>: the account itself (accountRecord), written before its claims and deleted after
//     them, so that a claim that points at no account is one a node left behind when it
//     stopped halfway (see reclaim).
//   - last-id: the last ID given, raised with compare-and-set: IDs are unique across the
//     cluster and never given twice, deleted accounts' included, since private history is kept
//     under them.
//
// The record is one key rather than a copy under each claim so that a password, or the
// operator mark, changes in one compare-and-set write.

const lastIDKey = "last-id"

func recordKey(id int64) string { return "a." + strconv.FormatInt(id, 10) }

// claimKeys are the bucket keys of a name's skeletons, each once.
func claimKeys(keys [2]string) []string {
	var out []string
	for _, k := range keys {
		if h := natsnode.Hex(k); h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// accountRecord is an account as the bucket keeps it.
type accountRecord struct {
	ID      int64     `json:"id"`
	Name    string    `json:"name"`
	Keys    [2]string `json:"keys"`
	Hash    string    `json:"hash"`
	Created int64     `json:"created"` // Unix nanoseconds
	Oper    bool      `json:"oper,omitempty"`
}

func (r accountRecord) account() chat.Account {
	return chat.Account{ID: r.ID, Name: r.Name, Keys: r.Keys, Hash: r.Hash, Created: time.Unix(0, r.Created), Oper: r.Oper}
}

var _ chat.Accounts = (*Store)(nil)

// FindAccount implements chat.Accounts. Should keys match two accounts (key1 of one, key2 of
// the other), the one whose name looks the same in the same way wins, then the older, as
// internal/sqlite has it.
func (s *Store) FindAccount(ctx context.Context, keys [2]string) (chat.Account, bool, error) {
	recs, err := s.accountsOf(ctx, keys)
	if err != nil {
		return chat.Account{}, false, fmt.Errorf("find account: %w", err)
	}
	if len(recs) == 0 {
		return chat.Account{}, false, nil
	}
	slices.SortFunc(recs, func(a, b stored) int {
		if c := cmpTrueFirst(a.rec.Keys[0] == keys[0], b.rec.Keys[0] == keys[0]); c != 0 {
			return c
		}
		if c := cmpTrueFirst(a.rec.Keys[1] == keys[1], b.rec.Keys[1] == keys[1]); c != 0 {
			return c
		}
		return cmp.Compare(a.rec.ID, b.rec.ID)
	})
	return recs[0].rec.account(), true, nil
}

func cmpTrueFirst(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// stored is an account record and its revision.
type stored struct {
	rec accountRecord
	rev uint64
}

// accountsOf returns the accounts that hold a claim on one of keys.
func (s *Store) accountsOf(ctx context.Context, keys [2]string) ([]stored, error) {
	var ids []int64
	for _, k := range claimKeys(keys) {
		e, ok, err := s.accounts.get(ctx, k)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		id, err := strconv.ParseInt(string(e.value), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("the claim %s holds %q, not an account id", k, e.value)
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	var out []stored
	for _, id := range ids {
		st, ok, err := s.record(ctx, id)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, st)
		}
	}
	return out, nil
}

func (s *Store) record(ctx context.Context, id int64) (stored, bool, error) {
	e, ok, err := s.accounts.get(ctx, recordKey(id))
	if err != nil || !ok {
		return stored{}, false, err
	}
	var r accountRecord
	if err := json.Unmarshal(e.value, &r); err != nil {
		return stored{}, false, fmt.Errorf("account %d: %w", id, err)
	}
	return stored{rec: r, rev: e.rev}, true, nil
}

// byName returns the account registered as name, exactly: ok is false when there is none
// (a look-alike's account is not it).
func (s *Store) byName(ctx context.Context, name string) (stored, bool, error) {
	n, err := chat.ParseName(name)
	if err != nil {
		return stored{}, false, nil // no account has a name the rule refuses
	}
	recs, err := s.accountsOf(ctx, n.Keys())
	if err != nil {
		return stored{}, false, err
	}
	for _, st := range recs {
		if st.rec.Name == name {
			return st, true, nil
		}
	}
	return stored{}, false, nil
}

// CreateAccount implements chat.Accounts. The account gets a new ID, is written, then each of
// its claims is created; when one is held (by a look-alike, registered before or at this
// moment on another node) the claims made are deleted again, then the record.
func (s *Store) CreateAccount(ctx context.Context, a chat.Account) error {
	if a.Name == "" || a.Keys[0] == "" || a.Keys[1] == "" || a.Hash == "" {
		return errors.New("create account: name, keys and hash are required")
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	// Asked first, so that a name plainly taken costs no ID.
	if recs, err := s.accountsOf(ctx, a.Keys); err != nil {
		return fmt.Errorf("create account: %w", err)
	} else if len(recs) > 0 {
		return chat.ErrAccountExists
	}
	id, err := s.nextID(ctx)
	if err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	rec := accountRecord{ID: id, Name: a.Name, Keys: a.Keys, Hash: a.Hash, Created: a.Created.UnixNano(), Oper: a.Oper}
	value, _ := json.Marshal(rec)
	recRev, err := s.accounts.create(ctx, recordKey(id), value, 0)
	if err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	type made struct {
		key string
		rev uint64
	}
	var claims []made
	undo := func() error {
		// Not ctx: the caller may have given up, and a half-made account would hold a name.
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		for _, c := range claims {
			if err := s.accounts.purge(ctx, c.key, c.rev); err != nil && !errors.Is(err, errChanged) {
				return err
			}
		}
		return s.accounts.purge(ctx, recordKey(id), recRev)
	}
	idValue := []byte(strconv.FormatInt(id, 10))
	for _, k := range claimKeys(a.Keys) {
		rev, err := s.claim(ctx, k, idValue)
		if err == nil {
			claims = append(claims, made{k, rev})
			continue
		}
		if uerr := undo(); uerr != nil {
			s.log.Error("create account: rolling back a refused account", "id", id, "err", uerr)
		}
		if errors.Is(err, errExists) {
			return chat.ErrAccountExists
		}
		return fmt.Errorf("create account: %w", err)
	}
	return nil
}

// claim creates the claim key for the account whose ID is idValue. A claim whose account is
// gone is taken over (reclaim).
func (s *Store) claim(ctx context.Context, key string, idValue []byte) (uint64, error) {
	rev, err := s.accounts.create(ctx, key, idValue, 0)
	if !errors.Is(err, errExists) {
		return rev, err
	}
	return s.reclaim(ctx, key, idValue)
}

// reclaim takes over a claim that points at no account. Accounts are written before their
// claims and deleted after them, so such a claim is one a node left behind when it stopped
// halfway through deleting an account or undoing a refused one: nobody will finish it, and the
// name would stay taken for ever.
func (s *Store) reclaim(ctx context.Context, key string, idValue []byte) (uint64, error) {
	e, ok, err := s.accounts.get(ctx, key)
	if err != nil {
		return 0, err
	}
	if !ok {
		return s.accounts.create(ctx, key, idValue, 0) // freed meanwhile
	}
	id, err := strconv.ParseInt(string(e.value), 10, 64)
	if err != nil {
		return 0, errExists // not ours to judge
	}
	if _, has, err := s.record(ctx, id); err != nil {
		return 0, err
	} else if has {
		return 0, errExists
	}
	rev, err := s.accounts.write(ctx, key, idValue, e.rev, 0)
	if errors.Is(err, errChanged) {
		return 0, errExists
	}
	return rev, err
}

// nextID raises last-id by one, with compare-and-set, and returns it.
func (s *Store) nextID(ctx context.Context) (int64, error) {
	for ctx.Err() == nil {
		e, ok, err := s.accounts.get(ctx, lastIDKey)
		if err != nil {
			return 0, err
		}
		var last int64
		if ok {
			if last, err = strconv.ParseInt(string(e.value), 10, 64); err != nil {
				return 0, fmt.Errorf("%s holds %q, not a number", lastIDKey, e.value)
			}
		}
		id := last + 1
		_, err = s.accounts.write(ctx, lastIDKey, []byte(strconv.FormatInt(id, 10)), e.rev, 0)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, errChanged) {
			return 0, err
		}
		// Another node took this one: read again.
	}
	return 0, fmt.Errorf("giving an account id: %w", ctx.Err())
}

// change applies edit to the account registered as name (exactly), with compare-and-set,
// reading it again when it changed meanwhile.
func (s *Store) change(ctx context.Context, name string, edit func(*accountRecord)) (accountRecord, error) {
	for range 10 {
		st, ok, err := s.byName(ctx, name)
		if err != nil {
			return accountRecord{}, err
		}
		if !ok {
			return accountRecord{}, chat.ErrNoAccount
		}
		edit(&st.rec)
		value, _ := json.Marshal(st.rec)
		_, err = s.accounts.write(ctx, recordKey(st.rec.ID), value, st.rev, 0)
		if err == nil {
			return st.rec, nil
		}
		if !errors.Is(err, errChanged) {
			return accountRecord{}, err
		}
	}
	return accountRecord{}, errors.New("the account keeps changing")
}

// SetPassword implements chat.Accounts. The account's web login tokens are revoked with it: a
// changed password ends every session it let in.
func (s *Store) SetPassword(ctx context.Context, name, hash string) error {
	if hash == "" {
		return errors.New("set password: the hash is required")
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	rec, err := s.change(ctx, name, func(r *accountRecord) { r.Hash = hash })
	if errors.Is(err, chat.ErrNoAccount) {
		return err
	}
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if err := s.revokeTokensOf(ctx, rec.ID, ""); err != nil {
		return fmt.Errorf("set password: the password is changed, but its web logins: %w", err)
	}
	return nil
}

// SetOper marks the account registered as name (exactly, as for SetPassword) an operator, or
// unmarks it; chat.ErrNoAccount when there is none. A session logged in now keeps the rights
// it has: the server reads the mark at login.
func (s *Store) SetOper(ctx context.Context, name string, oper bool) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	_, err := s.change(ctx, name, func(r *accountRecord) { r.Oper = oper })
	if err != nil && !errors.Is(err, chat.ErrNoAccount) {
		return fmt.Errorf("set oper: %w", err)
	}
	return err
}

// DeleteAccount implements chat.Accounts: its web login tokens first, then its claims (from
// then on it is not found, and its name can be registered again, as another account with
// another ID), then the account. A failure halfway leaves it findable, or at worst a record
// nothing points at, and claims pointing at nothing are taken over (reclaim).
//
// Private history is not here: each node's index keeps it (see the report of this package's
// author: the chat must ask every node to drop it).
func (s *Store) DeleteAccount(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	st, ok, err := s.byName(ctx, name)
	if err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	if !ok {
		return chat.ErrNoAccount
	}
	if err := s.revokeTokensOf(ctx, st.rec.ID, ""); err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	want := strconv.FormatInt(st.rec.ID, 10)
	for _, k := range claimKeys(st.rec.Keys) {
		e, ok, err := s.accounts.get(ctx, k)
		if err != nil {
			return fmt.Errorf("delete account: %w", err)
		}
		if !ok || string(e.value) != want {
			continue
		}
		if err := s.accounts.purge(ctx, k, e.rev); err != nil && !errors.Is(err, errChanged) {
			return fmt.Errorf("delete account: %w", err)
		}
	}
	// Purged, not only deleted: the hash does not stay behind as an older revision.
	if err := s.accounts.purge(ctx, recordKey(st.rec.ID), 0); err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	return nil
}

// ListAccounts returns every account, ordered by name (ASCII letters of either case
// together), as internal/sqlite does. Hash is left empty: listing is for people to read.
func (s *Store) ListAccounts(ctx context.Context) ([]chat.Account, error) {
	entries, err := s.accounts.list(ctx, ">")
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	claimed := map[string]bool{} // IDs some claim points at
	var recs []accountRecord
	for _, e := range entries {
		switch k := e.key; {
		case k == lastIDKey:
		case strings.HasPrefix(k, "a."):
			var r accountRecord
			if err := json.Unmarshal(e.value, &r); err != nil {
				return nil, fmt.Errorf("list accounts: %s: %w", k, err)
			}
			recs = append(recs, r)
		default:
			claimed[string(e.value)] = true
		}
	}
	var out []chat.Account
	for _, r := range recs {
		if !claimed[strconv.FormatInt(r.ID, 10)] {
			continue // being made, or deleted: not an account yet, or any more
		}
		r.Hash = ""
		out = append(out, r.account())
	}
	slices.SortFunc(out, func(a, b chat.Account) int {
		if c := cmp.Compare(asciiLower(a.Name), asciiLower(b.Name)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// asciiLower is SQLite's NOCASE: only ASCII letters are folded.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}
