package natsstore_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/natsnode"
	"hubbub/internal/natsstore"
	"hubbub/internal/sqlite"
	"hubbub/internal/wsgateway"
)

// The web page logs in through the store (cmd/hubbub hands it to wsgateway.Server.SetTokens).
var _ wsgateway.Tokens = (*natsstore.Store)(nil)

func newToken(t *testing.T, s *natsstore.Store, account string) (token, id string) {
	t.Helper()
	token, id, err := s.CreateToken(t.Context(), account)
	if err != nil {
		t.Fatalf("create token for %s: %v", account, err)
	}
	return token, id
}

// tokenWorks reports whether token logs in to want, with id (when id is not "").
func tokenWorks(t *testing.T, s *natsstore.Store, token, want, id string) bool {
	t.Helper()
	account, gotID, ok, err := s.AccountOfToken(t.Context(), token)
	if err != nil {
		t.Fatalf("account of token: %v", err)
	}
	if ok && (account != want || (id != "" && gotID != id)) {
		t.Fatalf("token logs in to %q with id %q, want %q with id %q", account, gotID, want, id)
	}
	return ok
}

func tokensKV(t *testing.T, nd node) jetstream.KeyValue {
	t.Helper()
	kv, err := nd.js.KeyValue(t.Context(), natsnode.TokensBucket)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// TestTokens: a token made on one node logs in on every node until it is revoked, on any
// node, alone or with the account's others but one; a token that was never made, or is not
// even shaped like one, logs in to nothing; no token is made for an account that does not
// exist; the bucket keeps the token's hash and never the token.
func TestTokens(t *testing.T) {
	nodes := startStores(t, natsstore.Config{})
	a, b, c := nodes[0].store, nodes[1].store, nodes[2].store
	ctx := t.Context()
	create(t, a, "Alice", "bob")
	a1, id1 := newToken(t, a, "Alice")
	a2, id2 := newToken(t, b, "Alice")
	a3, _ := newToken(t, c, "Alice")
	b1, _ := newToken(t, a, "bob")
	if a1 == a2 || id1 == id2 || len(a1) < 43 {
		t.Fatalf("tokens %q (%s) and %q (%s): want two different tokens of 32 bytes", a1, id1, a2, id2)
	}
	for _, nd := range nodes {
		for _, tok := range []string{a1, a2, a3} {
			if !tokenWorks(t, nd.store, tok, "Alice", "") {
				t.Fatalf("a new token of Alice does not work")
			}
		}
	}
	if !tokenWorks(t, c, a1, "Alice", id1) {
		t.Fatal("token 1 does not work")
	}
	prefix, secret, _ := strings.Cut(a1, ".")
	other := "A"
	if secret[0] == 'A' {
		other = "B"
	}
	for _, bad := range []string{"", "x", ".", prefix + "." + other + secret[1:], a1 + "AAAA", "0" + a1, "+" + a1,
		"9" + a1, strings.Replace(a1, ".", "..", 1), prefix, secret, id1, "'; DROP TABLE web_sessions; --", "*." + secret, ">"} {
		if tokenWorks(t, b, bad, "", "") {
			t.Errorf("%q logs in", bad)
		}
	}
	if _, _, err := a.CreateToken(ctx, "carol"); !errors.Is(err, chat.ErrNoAccount) {
		t.Errorf("token for no account: %v, want ErrNoAccount", err)
	}
	if _, _, err := a.CreateToken(ctx, "alice"); !errors.Is(err, chat.ErrNoAccount) {
		t.Errorf("token for another spelling of the name: %v, want ErrNoAccount (the account's name, exactly)", err)
	}

	// The bucket holds the hash, never the token nor its secret part.
	kv := tokensKV(t, nodes[0])
	w, err := kv.WatchAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(a1))
	hashed := false
	for e := range w.Updates() {
		if e == nil {
			break
		}
		for _, tok := range []string{a1, a2, a3, b1} {
			_, secret, _ := strings.Cut(tok, ".")
			if strings.Contains(e.Key(), secret) || strings.Contains(string(e.Value()), secret) {
				t.Errorf("the bucket holds a token: %s = %s", e.Key(), e.Value())
			}
		}
		hashed = hashed || strings.HasSuffix(e.Key(), "."+hex.EncodeToString(sum[:]))
	}
	w.Stop()
	if !hashed {
		t.Error("no key of the bucket is token 1's SHA-256")
	}

	if err := b.RevokeToken(ctx, id1); err != nil {
		t.Fatal(err)
	}
	if tokenWorks(t, c, a1, "Alice", "") {
		t.Error("a revoked token works on another node")
	}
	for _, id := range []string{id1, "", "x", "1.zz", "../x", "1.*", ">"} {
		if err := a.RevokeToken(ctx, id); err != nil {
			t.Errorf("revoking %q: %v", id, err)
		}
	}
	if !tokenWorks(t, a, a2, "Alice", id2) {
		t.Error("revoking one token ended another")
	}
	// /logout from the device of token 2: every other token of Alice ends, bob's stay.
	if err := c.RevokeTokens(ctx, "Alice", id2); err != nil {
		t.Fatal(err)
	}
	if tokenWorks(t, a, a3, "Alice", "") || !tokenWorks(t, b, a2, "Alice", id2) || !tokenWorks(t, c, b1, "bob", "") {
		t.Error("RevokeTokens(Alice, keep 2): want token 3 ended, token 2 and bob's working")
	}
	if err := a.RevokeTokens(ctx, "Alice", ""); err != nil {
		t.Fatal(err)
	}
	if tokenWorks(t, b, a2, "Alice", "") || !tokenWorks(t, c, b1, "bob", "") {
		t.Error("RevokeTokens(Alice, none kept): want Alice's tokens ended, bob's working")
	}
	if err := a.RevokeTokens(ctx, "nobody", ""); err != nil {
		t.Errorf("RevokeTokens of no account: %v", err)
	}
}

// TestTokensEndWithAccount: changing an account's password or deleting the account ends every
// token of it, and none of another account's; a token of a deleted account does not log in
// to the account registered again under its name.
func TestTokensEndWithAccount(t *testing.T) {
	nodes := startStores(t, natsstore.Config{})
	a, b, c := nodes[0].store, nodes[1].store, nodes[2].store
	ctx := t.Context()
	create(t, a, "Alice", "bob")
	ta, _ := newToken(t, b, "Alice")
	tb, _ := newToken(t, b, "bob")
	if err := c.SetPassword(ctx, "Alice", "h-new"); err != nil {
		t.Fatal(err)
	}
	if tokenWorks(t, a, ta, "Alice", "") || !tokenWorks(t, a, tb, "bob", "") {
		t.Error("after Alice's new password: want her token ended and bob's working")
	}
	ta, _ = newToken(t, a, "Alice")
	if !tokenWorks(t, b, ta, "Alice", "") {
		t.Fatal("a token made after the new password does not work")
	}
	if err := c.DeleteAccount(ctx, "Alice"); err != nil {
		t.Fatal(err)
	}
	if tokenWorks(t, a, ta, "Alice", "") || !tokenWorks(t, a, tb, "bob", "") {
		t.Error("after Alice was deleted: want her token ended and bob's working")
	}
	create(t, b, "Alice")
	if tokenWorks(t, c, ta, "Alice", "") {
		t.Error("a token of the deleted account logs in to the new one")
	}
}

// TestTokenOfDeletedAccountStaysDead: a token that outlived its account in the bucket (made
// on one node while another deleted the account) logs in neither to it nor to the account
// registered again under its name.
func TestTokenOfDeletedAccountStaysDead(t *testing.T) {
	nodes := startStores(t, natsstore.Config{})
	a, b := nodes[0].store, nodes[1].store
	create(t, a, "Alice")
	tok, id := newToken(t, a, "Alice")
	kv := tokensKV(t, nodes[0])
	e, err := kv.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteAccount(t.Context(), "Alice"); err != nil {
		t.Fatal(err)
	}
	// Put back, as if made a moment after the revocation.
	if _, err := kv.Create(t.Context(), id, e.Value(), jetstream.KeyTTL(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if tokenWorks(t, b, tok, "Alice", "") {
		t.Error("a token of a deleted account works")
	}
	create(t, b, "Alice")
	if tokenWorks(t, a, tok, "Alice", "") {
		t.Error("a token of the deleted account logs in to the account registered again")
	}
}

// TestTokensBounded: logging in again and again keeps a bounded number of tokens per account,
// the least recently used going first.
func TestTokensBounded(t *testing.T) {
	nodes := startStores(t, natsstore.Config{})
	s := nodes[0].store
	create(t, s, "Alice", "bob")
	bob, _ := newToken(t, s, "bob")
	first, _ := newToken(t, s, "Alice")
	var last string
	for i := range 60 {
		last, _ = newToken(t, nodes[i%3].store, "Alice")
	}
	keys, err := tokensKV(t, nodes[1]).ListKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for k := range keys.Keys() {
		if !strings.HasPrefix(k, strings.Split(bob, ".")[0]+".") {
			n++
		}
	}
	if n > 50 || tokenWorks(t, s, first, "Alice", "") || !tokenWorks(t, s, last, "Alice", "") || !tokenWorks(t, s, bob, "bob", "") {
		t.Errorf("%d tokens of Alice kept; want at most 50, the newest working and the oldest gone, and bob's working", n)
	}
}

// TestTokenExpiry: a token unused for its lifetime is gone from the bucket (the server's TTL
// removes it, on every node) and logs in to nothing.
func TestTokenExpiry(t *testing.T) {
	nodes := startStores(t, natsstore.Config{TokenLifetime: 2 * time.Second})
	create(t, nodes[0].store, "Alice")
	tok, id := newToken(t, nodes[0].store, "Alice")
	if !tokenWorks(t, nodes[1].store, tok, "Alice", id) {
		t.Fatal("a new token does not work")
	}
	kv := tokensKV(t, nodes[2])
	chattest.WaitFor(t, "the token's key expires", func() bool {
		_, err := kv.Get(t.Context(), id)
		return errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted)
	})
	for _, nd := range nodes {
		if tokenWorks(t, nd.store, tok, "Alice", "") {
			t.Error("an expired token works")
		}
	}
}

// TestTokenRefresh: using a token writes it again with a fresh lifetime, as a TTL the server
// holds, once its refresh interval has passed; a token revoked meanwhile is not brought back.
func TestTokenRefresh(t *testing.T) {
	const lifetime = 3 * time.Hour
	nodes := startStores(t, natsstore.Config{TokenLifetime: lifetime, TokenRefresh: time.Nanosecond})
	create(t, nodes[0].store, "Alice")
	tok, id := newToken(t, nodes[0].store, "Alice")
	stream, err := nodes[1].js.Stream(t.Context(), "KV_"+natsnode.TokensBucket)
	if err != nil {
		t.Fatal(err)
	}
	last := func() *jetstream.RawStreamMsg {
		t.Helper()
		m, err := stream.GetLastMsgForSubject(t.Context(), "$KV."+natsnode.TokensBucket+"."+id)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	made := last()
	if !tokenWorks(t, nodes[2].store, tok, "Alice", id) {
		t.Fatal("token does not work")
	}
	var used *jetstream.RawStreamMsg
	chattest.WaitFor(t, "the token written again", func() bool {
		used = last()
		return used.Sequence > made.Sequence
	})
	if ttl := used.Header.Get(jetstream.MsgTTLHeader); ttl != lifetime.String() && ttl != "10800s" && ttl != "10800" {
		t.Errorf("the token written again has TTL %q; want %v", ttl, lifetime)
	}
	if string(used.Data) != string(made.Data) {
		t.Errorf("the token's value changed from %s to %s", made.Data, used.Data)
	}
	if err := nodes[0].store.RevokeToken(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if tokenWorks(t, nodes[1].store, tok, "Alice", "") {
		t.Error("a revoked token works")
	}
}

// TestTokenLifetimeAsSQLite: a web login lasts as long in a cluster as on one node.
func TestTokenLifetimeAsSQLite(t *testing.T) {
	if natsstore.DefaultTokenLifetime != sqlite.TokenLifetime {
		t.Errorf("natsstore.DefaultTokenLifetime %v, sqlite.TokenLifetime %v", natsstore.DefaultTokenLifetime, sqlite.TokenLifetime)
	}
}
