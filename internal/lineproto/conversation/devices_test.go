package conversation_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
	passwords "hubbub/internal/password"
	"hubbub/internal/sqlite"
)

// accountsServer is a chat over the real line transport whose history and accounts are kept
// in a real SQLite file.
type accountsServer struct {
	*chattest.Server
	store *sqlite.Store
	clock *clock
}

func startAccounts(t *testing.T, cfg chat.Config) *accountsServer {
	t.Helper()
	store, err := sqlite.Open(t.Context(), chattest.StoreConfig(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clk := newClock()
	cfg.Now = clk.Now
	cfg.History, cfg.Bans = store, store
	cfg.Accounts = store
	line := lineproto.DefaultConfig()
	line.LineRate = 0
	return &accountsServer{Server: chattest.StartChat(t, line, cfg, nil), store: store, clock: clk}
}

// addAccount registers name with pw, as `/register` would.
func (s *accountsServer) addAccount(t *testing.T, name, pw string) {
	t.Helper()
	n, err := chat.ParseName(name)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := passwords.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.store.CreateAccount(context.Background(), chat.Account{Name: name, Keys: n.Keys(), Hash: hash, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// logIn connects from ip and logs in to the account called name with pw, up to the welcome.
func logIn(t *testing.T, addr, ip, name, pw string) *chattest.Client {
	t.Helper()
	c := chattest.DialFrom(t, ip, addr)
	c.Expect("What's your name?")
	c.Send(name)
	c.Expect("\xff\xfb\x01*** password for " + name + ":")
	c.Send(pw)
	c.Expect("\xff\xfc\x01Welcome, " + name + "!")
	return c
}

// device logs in to an account whose member is online already, as one more device of it.
func device(t *testing.T, addr, ip, name, pw string, others int, rooms string) *chattest.Client {
	t.Helper()
	c := logIn(t, addr, ip, name, pw)
	devices := "device"
	if others > 1 {
		devices = "devices"
	}
	c.Expect(fmt.Sprintf("*** you are also connected from %d other %s: what you say and are sent shows on each", others, devices),
		"*** you are in "+rooms)
	return c
}

const (
	alicePW = "alice's long password"
	carolPW = "carol's long password"
)

func TestDevicesOfOneAccount(t *testing.T) {
	srv := startAccounts(t, chat.DefaultConfig())
	srv.addAccount(t, "alice", alicePW)
	laptop := logIn(t, srv.Addr, "127.0.0.2", "alice", alicePW)
	bob := chattest.Join(t, srv.Addr, "bob")
	laptop.Expect("bob has joined the channel")

	// A second device is the same person: nobody hears of it, and /who lists alice once.
	phone := device(t, srv.Addr, "127.0.0.3", "alice", alicePW, 1, "#lobby")
	laptop.Expect("*** another device logged in to your account, from 127.0.0.3: /logout ends every device but the one you type it on")
	bob.Send("/who")
	bob.Expect("*** #lobby (2): alice, bob")
	bob.Send("/whois alice")
	bob.Expect("*** alice: in #lobby, online 0s, logged in as alice, on 2 devices")

	// What one device says shows on the other as its own; what alice is sent shows on both.
	laptop.Send("hello from the laptop")
	bob.Expect("<alice> hello from the laptop")
	phone.Expect("<alice> hello from the laptop")
	bob.Send("/msg alice are you there?")
	bob.Expect("[PM to alice] are you there?",
		"*** private messages with guests are kept nowhere: they are shown to the two of you now, and are not in /history")
	laptop.Expect("[PM from bob] are you there?")
	phone.Expect("[PM from bob] are you there?")
	phone.Send("/reply yes, on my phone")
	bob.Expect("[PM from alice] yes, on my phone")
	phone.Expect("[PM to bob] yes, on my phone",
		"*** private messages with guests are kept nowhere: they are shown to the two of you now, and are not in /history")
	laptop.Expect("[PM to bob] yes, on my phone")

	// Rooms are the person's: a room joined on one device is joined on all, once.
	phone.Send("/join go")
	phone.Expect("*** you made #go and own it: plain lines now go there")
	laptop.Expect("alice has joined #go")
	bob.Send("/join go")
	bob.Expect("*** you joined #go (2 here): plain lines now go there")
	phone.Expect("bob has joined #go")
	laptop.Expect("bob has joined #go")
	bob.Send("/who")
	bob.Expect("*** #go (2): alice (owner), bob")
	// Each device has its own current room: the laptop's plain lines still go to #lobby.
	laptop.Send("still in the lobby")
	bob.Expect("[#lobby] <alice> still in the lobby")
	phone.Expect("[#lobby] <alice> still in the lobby")

	// One device leaving is not the person leaving; the last one is.
	laptop.Send("/quit")
	laptop.Expect("*** goodbye")
	laptop.ExpectClosed() // closed once the device has left
	bob.Send("/whois alice")
	bob.Expect("*** alice: in #lobby #go, online 0s, logged in as alice")
	phone.Send("/quit bye")
	bob.Expect("alice has left the channel. (quit: bye)")
}

func TestDevicesLimitAndLogout(t *testing.T) {
	cfg := chat.DefaultConfig()
	cfg.MaxSessionsPerAccount = 2
	srv := startAccounts(t, cfg)
	srv.addAccount(t, "alice", alicePW)
	one := logIn(t, srv.Addr, "127.0.0.2", "alice", alicePW)
	two := device(t, srv.Addr, "127.0.0.3", "alice", alicePW, 1, "#lobby")
	one.Expect("*** another device logged in to your account, from 127.0.0.3: /logout ends every device but the one you type it on")

	three := chattest.DialFrom(t, "127.0.0.4", srv.Addr)
	three.Expect("What's your name?")
	three.Send("alice")
	three.Expect("\xff\xfb\x01*** password for alice:")
	three.Send(alicePW)
	three.Expect("\xff\xfc\x01*** alice is connected from 2 devices already, the most allowed: /logout on one of them ends the others",
		"What's your name?")

	one.Send("/logout")
	two.Expect("*** logged out from another device")
	two.ExpectClosed()
	one.Expect("*** ended your session on 1 other device; web logins elsewhere are ended")
	three.Send("alice")
	three.Expect("*** password for alice (it will show as you type):") // nc: no telnet answer came
	three.Send(alicePW)
	three.Expect("Welcome, alice!", "*** you are also connected from 1 other device: what you say and are sent shows on each")
}

// The attack that opened the accounts issue, replayed: carol and dave talk in private and
// quit; whoever takes their names reads nothing, and /reply never reaches a newcomer.
func TestPrivateHistoryBelongsToAccounts(t *testing.T) {
	srv := startAccounts(t, chat.DefaultConfig())
	srv.addAccount(t, "alice", alicePW)
	srv.addAccount(t, "carol", carolPW)
	alice := logIn(t, srv.Addr, "127.0.0.2", "alice", alicePW)
	carol := logIn(t, srv.Addr, "127.0.0.3", "carol", carolPW)
	alice.Expect("carol has joined the channel")
	alice.Send("/msg carol the vault code is 4711")
	carol.Expect("[PM from alice] the vault code is 4711")
	alice.Expect("[PM to carol] the vault code is 4711") // kept: no notice that it is not
	carol.Send("/reply thanks")
	alice.Expect("[PM from carol] thanks")
	carol.Expect("[PM to alice] thanks")
	carol.Send("/quit")
	carol.Expect("*** goodbye")
	alice.Expect("carol has left the channel.")

	// Back on another device, after a rename: the conversation is the accounts', not the names'.
	carol = logIn(t, srv.Addr, "127.0.0.4", "carol", carolPW)
	alice.Expect("carol has joined the channel")
	carol.Send("/nick caroline")
	carol.Expect("carol is now known as caroline")
	alice.Expect("carol is now known as caroline")
	carol.Send("/history alice")
	carol.Expect(at+"[PM from alice] the vault code is 4711", at+"[PM to alice] thanks", "*** end of history: nothing earlier")
	alice.Send("/msg caroline still there?")
	carol.Expect("[PM from alice] still there?")
	alice.Expect("[PM to caroline] still there?")

	// carol deletes her account; whoever registers the name next reads none of it.
	carol.Send("/unregister")
	// This client is nc, which did not answer the first offer to hide the password.
	carol.Expect("*** your password, to delete your account and its private history for good (it will show as you type)")
	carol.Send(carolPW)
	carol.Expect("*** your account carol and its private history are deleted: you are a guest now")
	carol.Send("/quit")
	carol.Expect("*** goodbye")
	alice.Expect("caroline has left the channel.")

	mallory := chattest.DialFrom(t, "127.0.0.9", srv.Addr)
	mallory.Register("carol")
	alice.Expect("carol has joined the channel")
	mallory.Send("/register")
	mallory.Expect("\xff\xfb\x01*** choose a password for carol (a password has at least 8 characters, at most 256 bytes, and no control characters)")
	mallory.Send("mallory's password")
	mallory.Expect("\xff\xfc\x01*** the same password again (it will show as you type)")
	mallory.Send("mallory's password")
	mallory.Expect("*** carol is registered to you: next time, choosing carol asks for this password")
	mallory.Send("/history alice")
	mallory.Expect("*** no earlier history")
	// A /reply to the old carol goes nowhere near the new one.
	alice.Send("/reply are you still there?")
	alice.Expect("*** carol, who wrote to you, has left: your reply was not sent (someone called carol now would be someone else)")
	mallory.ExpectSilence(100 * time.Millisecond)

	// The stored messages are gone from the file, not only from view.
	recs, err := srv.store.Recent(context.Background(), "", "@1", "@2", 0, 100)
	if err != nil || len(recs) != 0 {
		t.Errorf("alice and the deleted carol still have %d private messages kept (%v)", len(recs), err)
	}
}

func TestChangePassword(t *testing.T) {
	srv := startAccounts(t, chat.DefaultConfig())
	srv.addAccount(t, "alice", alicePW)
	alice := logIn(t, srv.Addr, "127.0.0.2", "alice", alicePW)
	alice.Send("/password")
	alice.Expect("*** your current password (it will show as you type)")
	alice.Send("not the password")
	alice.Expect("*** wrong password; nothing was changed")
	srv.clock.Add(time.Second) // the wait after one wrong password
	alice.Send("/password")
	alice.Expect("*** your current password (it will show as you type)")
	alice.Send(alicePW)
	alice.Expect("*** choose a new password (a password has at least 8 characters, at most 256 bytes, and no control characters) (it will show as you type)")
	alice.Send("new password 2")
	alice.Expect("*** the same password again (it will show as you type)")
	alice.Send("new password 2")
	alice.Expect("*** your password is changed, and web logins must log in again (no other device was connected)")

	c := chattest.DialFrom(t, "127.0.0.3", srv.Addr)
	c.Expect("What's your name?")
	c.Send("alice")
	c.Expect("\xff\xfb\x01*** password for alice:")
	c.Send(alicePW)
	c.Expect("\xff\xfc\x01*** wrong password", "What's your name?")
	logIn(t, srv.Addr, "127.0.0.4", "alice", "new password 2")
}

func TestAccountsRequired(t *testing.T) {
	cfg := chat.DefaultConfig()
	cfg.AccountsRequired = true
	srv := startAccounts(t, cfg)
	c := chattest.DialFrom(t, "127.0.0.2", srv.Addr)
	c.Expect("What's your name?")
	c.Send("dora")
	c.Expect("\xff\xfb\x01*** dora is not registered, and this server is for accounts only: choose a password to register it (a password has at least 8 characters, at most 256 bytes, and no control characters)")
	c.Send("")
	c.Expect("\xff\xfc\x01*** no password given: type it, or an empty line again to give up (it will show as you type)")
	c.Send("")
	c.Expect("*** no password given: choose a name again", "What's your name?")
	c.Send("dora")
	c.Expect("*** dora is not registered, and this server is for accounts only: choose a password to register it (a password has at least 8 characters, at most 256 bytes, and no control characters) (it will show as you type)")
	c.Send("dora's password")
	c.Expect("*** the same password again (it will show as you type)")
	c.Send("dora's password")
	c.Expect("*** dora is registered to you: next time, choosing dora asks for this password", "Welcome, dora!")
	c.Send("/quit")
	c.Expect("*** goodbye")
	c.ExpectClosed()
	logIn(t, srv.Addr, "127.0.0.3", "dora", "dora's password")
}

func TestOperatorAccounts(t *testing.T) {
	cfg := chat.DefaultConfig()
	cfg.Operators = []string{"ALICE"}
	srv := startAccounts(t, cfg)
	srv.addAccount(t, "alice", alicePW)
	srv.addAccount(t, "carol", carolPW)
	if err := srv.store.SetOper(context.Background(), "carol", true); err != nil {
		t.Fatal(err)
	}
	alice := logIn(t, srv.Addr, "127.0.0.2", "alice", alicePW)
	alice.Expect("*** you are an operator (your account is one)")
	carol := logIn(t, srv.Addr, "127.0.0.3", "carol", carolPW)
	carol.Expect("*** you are an operator (your account is one)")
	alice.Expect("carol has joined the channel")

	// A name is worn; the account is who it is: banning the name bans the account too.
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")
	carol.Expect("bob has joined the channel")
	srv.addAccount(t, "mallory", "mallory's password")
	mallory := logIn(t, srv.Addr, "127.0.0.4", "mallory", "mallory's password")
	mallory.Send("/nick spammer")
	mallory.Expect("mallory is now known as spammer")
	alice.Expect("mallory has joined the channel", "mallory is now known as spammer")
	alice.Send("/ban spammer")
	alice.Expect("*** banned the name spammer until /unban", "*** banned the account mallory until /unban")
	mallory.Expect("*** you are banned from this server")
	mallory.ExpectClosed()
	c := chattest.DialFrom(t, "127.0.0.5", srv.Addr)
	c.Expect("What's your name?")
	c.Send("mallory")
	c.Expect("*** that name is banned, please choose other", "What's your name?") // no password asked

	// A mute of an account outlasts its connection.
	srv.addAccount(t, "trudy", "trudy's password")
	trudy := logIn(t, srv.Addr, "127.0.0.6", "trudy", "trudy's password")
	alice.Expect("spammer has left the channel. (banned)", "trudy has joined the channel")
	alice.Send("/mute trudy 1h")
	alice.Expect("*** muted trudy for 1h0m0s")
	trudy.Expect("*** an operator muted you for 1h0m0s")
	trudy.Send("/quit")
	trudy.Expect("*** goodbye")
	trudy.ExpectClosed()
	trudy = logIn(t, srv.Addr, "127.0.0.6", "trudy", "trudy's password")
	trudy.Send("hello again")
	trudy.Expect("*** you are muted for another 1h0m0s")
	_, _ = bob, carol
}

func TestPasswordQuestionGuards(t *testing.T) {
	srv := startAccounts(t, chat.DefaultConfig())
	srv.addAccount(t, "alice", alicePW)

	// A password typed again at the name question is not taken for a name.
	c := chattest.DialFrom(t, "127.0.0.2", srv.Addr)
	c.Expect("What's your name?")
	c.Send("alice")
	c.Expect("\xff\xfb\x01*** password for alice:")
	c.Send("alicespw")
	c.Expect("\xff\xfc\x01*** wrong password", "What's your name?")
	c.Send("alicespw")
	c.Expect("*** that holds the password you typed before, so it is not a name: it was shown to no one. Choose a name", "What's your name?")

	// An over-long line at the password question closes it, rather than leaving it open, unseen.
	long := chattest.DialFrom(t, "127.0.0.3", srv.Addr)
	long.Expect("What's your name?")
	long.Send("alice")
	long.Expect("\xff\xfb\x01*** password for alice:")
	long.Send(strings.Repeat("x", 5000))
	long.Expect("*** line too long (max 4096 bytes)", "\xff\xfc\x01*** that was too long for a password, nothing was checked: choose a name again", "What's your name?")

	// Registrations from one address are bounded.
	for i := range 4 {
		g := chattest.DialFrom(t, "127.0.0.7", srv.Addr)
		g.Register(fmt.Sprintf("squatter%d", i))
		g.Send("/register")
		g.Expect(fmt.Sprintf("\xff\xfb\x01*** choose a password for squatter%d (a password has at least 8 characters, at most 256 bytes, and no control characters)", i))
		g.Send("squatter's password")
		g.Expect("\xff\xfc\x01*** the same password again (it will show as you type)")
		g.Send("squatter's password")
		if i < 3 {
			g.Expect(fmt.Sprintf("*** squatter%d is registered to you: next time, choosing squatter%d asks for this password", i, i))
		} else {
			g.Expect("*** too many names registered from your address lately; nothing was registered, /register to try again later")
		}
	}
}

func TestNoPrivateHistory(t *testing.T) {
	cfg := chat.DefaultConfig()
	cfg.NoPrivateHistory = true
	srv := startAccounts(t, cfg)
	srv.addAccount(t, "alice", alicePW)
	srv.addAccount(t, "carol", carolPW)
	alice := logIn(t, srv.Addr, "127.0.0.2", "alice", alicePW)
	carol := logIn(t, srv.Addr, "127.0.0.3", "carol", carolPW)
	alice.Expect("carol has joined the channel")
	alice.Send("/msg carol not for keeping")
	carol.Expect("[PM from alice] not for keeping")
	alice.Expect("[PM to carol] not for keeping",
		"*** this server keeps private messages nowhere: they are shown to the two of you now, and are not in /history")
	carol.Send("/history alice")
	carol.Expect("*** this server keeps private messages nowhere, so there is no history with alice to show")
}

// --operators may name an account nobody made yet: whoever registered it first would be an
// operator, so only the administrator makes it.
func TestOperatorNameNotRegisteredByAnyone(t *testing.T) {
	cfg := chat.DefaultConfig()
	cfg.Operators = []string{"root1"}
	srv := startAccounts(t, cfg)
	c := chattest.DialFrom(t, "127.0.0.2", srv.Addr)
	c.Expect("What's your name?")
	c.Send("ROOT1")
	c.Expect("*** that name is kept for an operator, please choose other", "What's your name?")
	c.Send("guest")
	c.Expect("Welcome, guest!")
	c.Send("/nick r00t1")
	c.Expect("*** r00t1 is kept for an operator: choose another name")
	// Worn before --operators named it (by a reload), it still cannot be registered, even when
	// the reload comes while the password is typed.
	srv.Hub.SetOperators([]string{"root1", "guest"})
	c.Send("/register")
	c.Expect("*** guest is kept for an operator's account, which only the server's administrator makes; choose another name with /nick first")
	srv.Hub.SetOperators([]string{"root1"})
	c.Send("/register")
	c.Expect("\xff\xfb\x01*** choose a password for guest (a password has at least 8 characters, at most 256 bytes, and no control characters)")
	c.Send("sneaky password")
	c.Expect("\xff\xfc\x01*** the same password again (it will show as you type)")
	srv.Hub.SetOperators([]string{"root1", "guest"})
	c.Send("sneaky password")
	c.Expect("*** guest is kept for an operator's account, which only the server's administrator makes; nothing was registered, /register to try again")
	c.Send("/kick bob")
	c.Expect("*** only operators and the owner of a room kick, and only operators from #lobby")
}

// What an attacker found: a password typed again after a failed question, by a member, went to
// the room; a password question opened before /password or /unregister took the old one.
func TestPasswordsTypedAgainAndOldQuestions(t *testing.T) {
	srv := startAccounts(t, chat.DefaultConfig())
	srv.addAccount(t, "alice", alicePW)
	srv.addAccount(t, "carol", carolPW)
	alice := logIn(t, srv.Addr, "127.0.0.2", "alice", alicePW)
	watcher := chattest.Join(t, srv.Addr, "watcher")
	alice.Expect("watcher has joined the channel")
	alice.Send("/password")
	alice.Expect("*** your current password (it will show as you type)")
	alice.Send("alice's long passwrod")
	alice.Expect("*** wrong password; nothing was changed")
	alice.Send("alice's long passwrod")
	alice.Expect("*** not sent: it holds the password you typed before, and was shown to no one")
	alice.Send("/msg watcher alice's long passwrod")
	alice.Expect("*** not sent: it holds the password you typed before, and was shown to no one")
	alice.Send("an ordinary line")
	watcher.Expect("<alice> an ordinary line") // the first thing watcher hears from alice

	// A question opened before the password changed takes only the new one.
	thief := chattest.DialFrom(t, "127.0.0.9", srv.Addr)
	thief.Expect("What's your name?")
	thief.Send("alice")
	thief.Expect("\xff\xfb\x01*** password for alice:")
	srv.clock.Add(time.Second)
	alice.Send("/password")
	alice.Expect("*** your current password (it will show as you type)")
	alice.Send(alicePW)
	alice.Expect("*** choose a new password (a password has at least 8 characters, at most 256 bytes, and no control characters) (it will show as you type)")
	alice.Send("alice's new password")
	alice.Expect("*** the same password again (it will show as you type)")
	alice.Send("alice's new password")
	alice.Expect("*** your password is changed, and web logins must log in again (no other device was connected)")
	thief.Send(alicePW)
	thief.Expect("\xff\xfc\x01*** wrong password", "What's your name?")

	// One deleted and registered again by someone else is another account.
	thief.Send("carol")
	thief.Expect("*** password for carol (it will show as you type):")
	carol := logIn(t, srv.Addr, "127.0.0.3", "carol", carolPW)
	carol.Expect(at+"<alice> an ordinary line", "*** end of history")
	carol.Send("/unregister")
	carol.Expect("*** your password, to delete your account and its private history for good (it will show as you type)")
	carol.Send(carolPW)
	carol.Expect("*** your account carol and its private history are deleted: you are a guest now")
	carol.Send("/quit")
	carol.Expect("*** goodbye")
	srv.addAccount(t, "carol", "the new carol's password")
	thief.Send(carolPW)
	thief.Expect("*** that account changed while you typed: choose a name again", "What's your name?")
}

func TestPasswordChecksPerAddress(t *testing.T) {
	srv := startAccounts(t, chat.DefaultConfig())
	names := []string{"anna", "bert", "cleo", "dirk", "emma"}
	for _, n := range names {
		srv.addAccount(t, n, n+"'s password")
	}
	// One address trying one password on account after account is slowed as well.
	c := chattest.DialFrom(t, "127.0.0.2", srv.Addr)
	c.Expect("What's your name?")
	for i, n := range names {
		c.Send(n)
		if i == 0 { // this client is nc: it leaves the first offer to hide the password unanswered
			c.Expect("\xff\xfb\x01*** password for " + n + ":")
		} else {
			c.Expect("*** password for " + n + " (it will show as you type):")
		}
		c.Send("summer2026")
		switch {
		case i == 0:
			c.Expect("\xff\xfc\x01*** wrong password", "What's your name?")
		case i < 4:
			c.Expect("*** wrong password", "What's your name?")
		default:
			c.Expect("*** too many passwords from your address: try again in 1s", "What's your name?")
		}
	}
	srv.clock.Add(time.Second)
	c.Send("emma")
	c.Expect("*** password for emma (it will show as you type):")
	c.Send("summer2026")
	c.Expect("*** wrong password", "What's your name?")
}

func TestLookAlikeLoginEntersAsTheAccount(t *testing.T) {
	srv := startAccounts(t, chat.DefaultConfig())
	srv.addAccount(t, "alice", alicePW)
	c := chattest.DialFrom(t, "127.0.0.2", srv.Addr)
	c.Expect("What's your name?")
	c.Send("ALICE")
	c.Expect("\xff\xfb\x01*** password for alice:")
	c.Send(alicePW)
	c.Expect("\xff\xfc\x01Welcome, alice!")
}

// What a new user found: an Enter typed too soon at a password question closed it, and the
// password typed next went to the room.
func TestEnterTooSoonAtPasswordQuestion(t *testing.T) {
	srv := startAccounts(t, chat.DefaultConfig())
	watcher := chattest.Join(t, srv.Addr, "watcher")
	erin := chattest.Join(t, srv.Addr, "erin")
	watcher.Expect("erin has joined the channel")
	erin.Send("/register")
	erin.Expect("\xff\xfb\x01*** choose a password for erin (a password has at least 8 characters, at most 256 bytes, and no control characters)")
	erin.Send("")
	erin.Expect("\xff\xfc\x01*** no password given: type it, or an empty line again to give up (it will show as you type)")
	erin.Send("erin's password")
	erin.Expect("*** the same password again (it will show as you type)")
	erin.Send("erin's password")
	erin.Expect("*** erin is registered to you: next time, choosing erin asks for this password")
	erin.Send("/password")
	erin.Expect("*** your current password (it will show as you type)")
	erin.Send("")
	erin.Expect("*** no password given: type it, or an empty line again to give up (it will show as you type)")
	erin.Send("")
	erin.Expect("*** no password given; nothing was changed")
	erin.Send("a line after")
	watcher.Expect("<erin> a line after") // nothing of the passwords before it
}
