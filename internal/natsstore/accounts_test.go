package natsstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"hubbub/internal/chat"
	"hubbub/internal/natsnode"
	"hubbub/internal/natsstore"
)

// TestAccounts: an account made on one node is found on every other at once, by its name and
// every look-alike of it, by either of its keys; a look-alike cannot be registered beside it
// on any node, even one whose first key is the other's second; its password changes and its
// operator mark is set on one node and read on another; it is deleted, and its name can be
// registered again.
func TestAccounts(t *testing.T) {
	nodes := startStores(t, natsstore.Config{})
	a, b, c := nodes[0].store, nodes[1].store, nodes[2].store
	ctx := t.Context()
	create(t, a, "Alice")
	create(t, b, "biII")
	create(t, c, "mike")
	for i, tc := range []struct{ typed, want string }{
		{"Alice", "Alice"},
		{"alice", "Alice"},
		{"ALICE", "Alice"},
		{"ａｌｉｃｅ", "Alice"}, // fullwidth
		{"ᴀlice", "Alice"}, // small capital
		{"biII", "biII"},
		{"bill", "biII"}, // key1 "bill" is biII's key2
		{"BIII", "biII"},
		{"rnike", "mike"},
		{"bob", ""},
		{"Alicia", ""},
		{"bil", ""},
		{"billy", ""},
		{"AIice", "Alice"},
		{"A1ice", "Alice"},
		{"Alise", ""},
	} {
		s := nodes[i%3].store
		acc, ok := find(t, s, tc.typed)
		if got := map[bool]string{true: acc.Name}[ok]; got != tc.want {
			t.Errorf("find %q on node %d: %q; want %q", tc.typed, i%3, got, tc.want)
		}
	}
	got, _ := find(t, c, "alice")
	if want := account(t, "Alice", "h-Alice"); got.Keys != want.Keys || got.Hash != "h-Alice" || !got.Created.Equal(want.Created) || got.ID == 0 || got.Oper {
		t.Errorf("found %+v; want %+v", got, want)
	}

	for i, name := range []string{"ALICE", "ᴀlice", "AIice", "bill", "BIII", "rnike", "Mike", "BILL"} {
		err := nodes[i%3].store.CreateAccount(ctx, account(t, name, "h-"+name))
		if !errors.Is(err, chat.ErrAccountExists) {
			t.Errorf("create look-alike %q: %v; want ErrAccountExists", name, err)
		}
	}
	if acc, _ := find(t, a, "bill"); acc.Hash != "h-biII" {
		t.Errorf("after the refusals, bill's account holds %q", acc.Hash)
	}
	create(t, a, "bob")

	if err := b.SetPassword(ctx, "Alice", "h-alice-2"); err != nil {
		t.Fatal(err)
	}
	if acc, _ := find(t, c, "ALICE"); acc.Hash != "h-alice-2" {
		t.Errorf("after SetPassword the hash is %q", acc.Hash)
	}
	if acc, _ := find(t, a, "bob"); acc.Hash != "h-bob" {
		t.Errorf("SetPassword of Alice changed bob's hash to %q", acc.Hash)
	}
	for _, name := range []string{"alice", "nobody", ""} {
		if err := a.SetPassword(ctx, name, "h-x"); !errors.Is(err, chat.ErrNoAccount) {
			t.Errorf("SetPassword(%q): %v; want ErrNoAccount", name, err)
		}
		if err := a.DeleteAccount(ctx, name); !errors.Is(err, chat.ErrNoAccount) {
			t.Errorf("DeleteAccount(%q): %v; want ErrNoAccount", name, err)
		}
		if err := a.SetOper(ctx, name, true); !errors.Is(err, chat.ErrNoAccount) {
			t.Errorf("SetOper(%q): %v; want ErrNoAccount", name, err)
		}
	}

	bill, _ := find(t, a, "biII")
	if err := c.DeleteAccount(ctx, "biII"); err != nil {
		t.Fatal(err)
	}
	if _, ok := find(t, a, "bill"); ok {
		t.Error("the deleted account is still found")
	}
	if err := b.CreateAccount(ctx, account(t, "bill", "h-new-bill")); err != nil {
		t.Errorf("a deleted account's name cannot be registered again: %v", err)
	}
	if acc, _ := find(t, c, "bill"); acc.ID == bill.ID || acc.Hash != "h-new-bill" {
		t.Errorf("registered again: %+v; want a new account (the old one had id %d)", acc, bill.ID)
	}
	if acc, _ := find(t, a, "Alice"); acc.Hash != "h-alice-2" {
		t.Errorf("deleting biII touched Alice: %q", acc.Hash)
	}
}

// TestAccountsRefuseIncomplete: an account without keys or hash would be found by nothing or
// opened by anything.
func TestAccountsRefuseIncomplete(t *testing.T) {
	s := startStores(t, natsstore.Config{})[0].store
	full := account(t, "alice", "h")
	for name, a := range map[string]chat.Account{
		"no name": {Keys: full.Keys, Hash: "h"},
		"no keys": {Name: "alice", Hash: "h"},
		"one key": {Name: "alice", Keys: [2]string{"alice", ""}, Hash: "h"},
		"no hash": {Name: "alice", Keys: full.Keys},
	} {
		if err := s.CreateAccount(t.Context(), a); err == nil || errors.Is(err, chat.ErrAccountExists) {
			t.Errorf("%s: %v; want a refusal", name, err)
		}
	}
	if err := s.SetPassword(t.Context(), "alice", ""); err == nil {
		t.Error("an empty hash was set")
	}
	if _, ok := find(t, s, "alice"); ok {
		t.Error("an incomplete account was made")
	}
}

// TestAccountsConcurrentLookAlikes: look-alikes registered at once through three nodes,
// several rounds: exactly one wins each round, and the losers leave nothing behind (every
// look-alike finds the winner; deleting it frees the name for the next round).
func TestAccountsConcurrentLookAlikes(t *testing.T) {
	nodes := startStores(t, natsstore.Config{})
	names := []string{"Alice", "alice", "ALICE", "ᴀlice", "ａｌｉｃｅ", "AIice", "A1ice", "alicE", "bill", "biII", "BILL"}
	groups := [][]string{names[:8], names[8:]} // each all look-alikes of each other
	for _, g := range groups {
		for _, x := range g {
			for _, y := range g {
				if !parse(t, x).SameAs(parse(t, y)) {
					t.Fatalf("%q and %q are not look-alikes", x, y)
				}
			}
		}
	}
	for round := range 3 {
		for _, g := range groups {
			errs := make(chan error, len(g))
			start := make(chan struct{})
			for i, name := range g {
				s := nodes[i%3].store
				a := account(t, name, "h-"+name)
				go func() {
					<-start
					errs <- s.CreateAccount(context.Background(), a)
				}()
			}
			close(start)
			won := 0
			for range g {
				switch err := <-errs; {
				case err == nil:
					won++
				case !errors.Is(err, chat.ErrAccountExists):
					t.Errorf("create: %v", err)
				}
			}
			if won != 1 {
				t.Fatalf("round %d: %d look-alikes of %s registered; want 1", round, won, g[0])
			}
			winner, ok := find(t, nodes[0].store, g[0])
			if !ok {
				t.Fatalf("round %d: nobody holds %s", round, g[0])
			}
			for _, name := range g {
				if acc, _ := find(t, nodes[2].store, name); acc.ID != winner.ID {
					t.Errorf("round %d: %q finds %+v; want the winner %+v", round, name, acc, winner)
				}
			}
			if err := nodes[1].store.DeleteAccount(t.Context(), winner.Name); err != nil {
				t.Fatal(err)
			}
		}
	}
	list, err := nodes[0].store.ListAccounts(t.Context())
	if err != nil || len(list) != 0 {
		t.Errorf("after every winner was deleted: %+v, %v; want no account", list, err)
	}
}

// TestAccountKeysCross: a name whose first key is an account's second (or the reverse) is a
// look-alike of it.
func TestAccountKeysCross(t *testing.T) {
	nodes := startStores(t, natsstore.Config{})
	for i, tc := range []struct{ registered, next string }{
		{"biII", "BILL"}, // ["biii" "bill"], then ["bill" "blll"]
		{"BILL", "biII"}, // the reverse
	} {
		r, n := parse(t, tc.registered).Keys(), parse(t, tc.next).Keys()
		if r[0] == n[0] || r[1] == n[1] || (r[0] != n[1] && r[1] != n[0]) {
			t.Fatalf("%q %q and %q %q: not a case of one key equal across columns only", tc.registered, r, tc.next, n)
		}
		create(t, nodes[i].store, tc.registered)
		if err := nodes[i+1].store.CreateAccount(t.Context(), account(t, tc.next, "h")); !errors.Is(err, chat.ErrAccountExists) {
			t.Errorf("%q after %q: %v; want ErrAccountExists", tc.next, tc.registered, err)
		}
		if err := nodes[i].store.DeleteAccount(t.Context(), tc.registered); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAccountIDNotReused: accounts registered after the newest one was deleted get new ids,
// whichever node registers them, also through a store opened afterwards; ids made at once on
// three nodes are all different.
func TestAccountIDNotReused(t *testing.T) {
	nodes := startStores(t, natsstore.Config{})
	create(t, nodes[0].store, "alice", "bob")
	bob, _ := find(t, nodes[0].store, "bob")
	if err := nodes[1].store.DeleteAccount(t.Context(), "bob"); err != nil {
		t.Fatal(err)
	}
	fresh, err := natsstore.New(t.Context(), nodes[2].js, natsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	for _, name := range []string{"bob", "carol"} {
		create(t, fresh, name)
		if a, _ := find(t, nodes[0].store, name); a.ID <= bob.ID {
			t.Errorf("%s registered after the deleted bob (id %d) got id %d", name, bob.ID, a.ID)
		}
	}
	const each = 5
	errs := make(chan error, 3*each)
	for i, nd := range nodes {
		go func() {
			for j := range each {
				errs <- nd.store.CreateAccount(context.Background(), account(t, fmt.Sprintf("user%dx%d", i, j), "h"))
			}
		}()
	}
	for range 3 * each {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	list, err := nodes[1].store.ListAccounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]string{}
	for _, a := range list {
		if other, dup := seen[a.ID]; dup || a.ID == bob.ID {
			t.Errorf("id %d given to %s and %s (deleted bob had %d)", a.ID, other, a.Name, bob.ID)
		}
		seen[a.ID] = a.Name
	}
	if len(list) != 3+3*each {
		t.Errorf("%d accounts listed, want %d", len(list), 3+3*each)
	}
}

// TestListAccountsAndSetOper: accounts are listed by name, upper and lower case together,
// without hashes; an account is marked an operator and unmarked, and FindAccount on another
// node says so.
func TestListAccountsAndSetOper(t *testing.T) {
	nodes := startStores(t, natsstore.Config{})
	s := nodes[0].store
	ctx := t.Context()
	if got, err := s.ListAccounts(ctx); err != nil || len(got) != 0 {
		t.Fatalf("no accounts: %+v, %v", got, err)
	}
	create(t, nodes[1].store, "carol", "Dave", "Alice", "bob")
	if err := s.SetOper(ctx, "bob", true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOper(ctx, "bob", true); err != nil {
		t.Fatalf("again: %v", err)
	}
	list, err := nodes[2].store.ListAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range list {
		names = append(names, a.Name)
		if a.Hash != "" || a.ID == 0 || a.Created.IsZero() || a.Keys[0] == "" {
			t.Errorf("listed %+v: want an id, keys and a date, and no hash", a)
		}
		if a.Oper != (a.Name == "bob") {
			t.Errorf("listed %s with oper %v", a.Name, a.Oper)
		}
	}
	if want := []string{"Alice", "bob", "carol", "Dave"}; !slices.Equal(names, want) {
		t.Errorf("listed %q; want %q", names, want)
	}
	for _, oper := range []bool{true, false} {
		if err := nodes[1].store.SetOper(ctx, "Alice", oper); err != nil {
			t.Fatal(err)
		}
		if a, _ := find(t, nodes[2].store, "alice"); a.Oper != oper {
			t.Errorf("after SetOper(%v): oper %v", oper, a.Oper)
		}
		if a, _ := find(t, nodes[2].store, "alice"); a.Hash != "h-Alice" {
			t.Errorf("SetOper changed the hash to %q", a.Hash)
		}
	}
	for _, name := range []string{"dave", "alice"} {
		if err := s.SetOper(ctx, name, true); !errors.Is(err, chat.ErrNoAccount) {
			t.Errorf("SetOper(%q): %v; want ErrNoAccount", name, err)
		}
	}
}

// TestAccountClaimLeftBehind: a claim whose account is gone (a node stopped halfway through
// deleting it) does not keep the name taken for ever: the next registration takes it over.
func TestAccountClaimLeftBehind(t *testing.T) {
	nodes := startStores(t, natsstore.Config{})
	kv, err := nodes[0].js.KeyValue(t.Context(), natsnode.AccountsBucket)
	if err != nil {
		t.Fatal(err)
	}
	// What a node leaves when it stops after deleting no claim but before the account: here,
	// a claim on alice's first skeleton that points at an id no account has.
	if _, err := kv.Create(t.Context(), natsnode.Hex(parse(t, "alice").Keys()[0]), []byte("999")); err != nil {
		t.Fatal(err)
	}
	if _, ok := find(t, nodes[1].store, "alice"); ok {
		t.Fatal("a claim without its account is found as an account")
	}
	create(t, nodes[1].store, "alice")
	if a, ok := find(t, nodes[2].store, "ALICE"); !ok || a.Name != "alice" {
		t.Errorf("after taking the claim over: %+v, %v", a, ok)
	}
}
