package chat

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// recorder is a Client that keeps what it is sent.
type recorder struct {
	mu      sync.Mutex
	got     []*Message
	dropped bool
}

func (r *recorder) Deliver(m *Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, m)
}

func (r *recorder) Drop(DropReason, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropped = true
}

// unsafe reports text that could act on a terminal rather than be shown.
func unsafe(s string) bool {
	return !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
	})
}

// FuzzCommands has an operator and a user type whatever the fuzzer makes, as lines and
// commands: nothing panics, nothing unsafe reaches anyone, and once both leave the chat is as
// empty as it began.
func FuzzCommands(f *testing.F) {
	for _, seed := range [][2]string{
		{"/join go", "/join #go"}, {"/msg bob hi", "/reply x"}, {"/nick al\x1bice", "/nick alice"},
		{"/kick bob spam", "/part"}, {"/ban 127.0.0.0/8 1h", "/ban bob"}, {"/mute bob 1s", "hello"},
		{"/topic \x1b]0;pwned\x07", "/topic"}, {"/whois bob", "/who go"}, {"//me", "/ME waves"},
		{"/ignore bob", "/unignore alice"}, {"/join a", "/join b"}, {"/away \u202egone", "/rooms"},
		{"/help ban", "/quit bye"}, {"/unban 127.0.0.1", "/oper pw"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		h := NewHub(Config{OperPassword: "pw", MaxRoomsPerUser: 3, FloodMute: 1}, slog.New(slog.DiscardHandler))
		var clients []*recorder
		var sessions []*Session
		for i, name := range []string{"alice", "bob"} {
			c := &recorder{}
			s, err := h.Connect(c, Peer{Addr: netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)})})
			if err != nil {
				t.Fatal(err)
			}
			s.Handle([]byte(name))
			clients, sessions = append(clients, c), append(sessions, s)
		}
		alice, bob := sessions[0], sessions[1]
		alice.Handle([]byte("/oper pw"))
		for _, step := range []struct {
			s    *Session
			line string
		}{{alice, a}, {bob, b}, {alice, b}, {bob, a}, {bob, "after"}} {
			if err := step.s.Handle([]byte(step.line)); err == ErrQuit {
				step.s.Close()
			}
		}
		bob.Flooding()
		for _, s := range sessions {
			s.Close()
		}
		for _, c := range clients {
			for _, m := range c.got {
				for _, field := range []string{m.Room, m.From, m.To, m.Text} {
					if unsafe(field) {
						t.Fatalf("a message carries unsafe text %q: %+v", field, m)
					}
				}
			}
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if len(h.names.m) != 0 || len(h.rooms.values()) != 1 || len(h.lobby.list()) != 0 {
			t.Fatalf("after everyone left: names %v, rooms %d, lobby %d", h.names.m, len(h.rooms.values()), len(h.lobby.list()))
		}
	})
}

// memAccounts is an in-memory Accounts, enough for the fuzzer: found by either look-alike key.
type memAccounts struct {
	mu     sync.Mutex
	nextID int64
	byName map[string]Account
}

func (m *memAccounts) FindAccount(_ context.Context, keys [2]string) (Account, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range m.byName {
		if slices.Contains(keys[:], a.Keys[0]) || slices.Contains(keys[:], a.Keys[1]) {
			return a, true, nil
		}
	}
	return Account{}, false, nil
}

func (m *memAccounts) CreateAccount(_ context.Context, a Account) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.byName {
		if b.Name == a.Name || slices.Contains(a.Keys[:], b.Keys[0]) || slices.Contains(a.Keys[:], b.Keys[1]) {
			return ErrAccountExists
		}
	}
	m.nextID++
	a.ID = m.nextID
	m.byName[a.Name] = a
	return nil
}

func (m *memAccounts) SetPassword(_ context.Context, name, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.byName[name]
	if !ok {
		return ErrNoAccount
	}
	a.Hash = hash
	m.byName[name] = a
	return nil
}

func (m *memAccounts) DeleteAccount(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.byName[name]; !ok {
		return ErrNoAccount
	}
	delete(m.byName, name)
	return nil
}

func (m *memAccounts) RevokeTokens(context.Context, string, string) error { return nil }

// memHistory is an in-memory History that keeps every record it is given, so that the fuzzer
// can look for what must never be kept. It stores at once: the chat calls Store with no lock
// held, so done may run on the caller's goroutine.
type memHistory struct {
	mu      sync.Mutex
	records []Record
}

func (m *memHistory) Store(r Record, done func(Record, error)) {
	m.mu.Lock()
	r.ID = int64(len(m.records) + 1)
	m.records = append(m.records, r)
	m.mu.Unlock()
	done(r, nil)
}

func (m *memHistory) Note(r Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.ID = int64(len(m.records) + 1)
	m.records = append(m.records, r)
}

func (m *memHistory) Recent(_ context.Context, room, a, b string, before int64, n int) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Record
	for i := len(m.records) - 1; i >= 0 && len(out) < n; i-- {
		r := m.records[i]
		if before > 0 && r.ID >= before {
			continue
		}
		switch {
		case room != "" && r.Room == room && r.Kind != KindJoin && r.Kind != KindLeave && r.Kind != KindNick,
			room == "" && r.Kind == KindPrivate && (r.FromKey == a && r.ToKey == b || r.FromKey == b && r.ToKey == a):
			out = append(out, r)
		}
	}
	slices.Reverse(out)
	return out, nil
}

func (m *memHistory) Search(context.Context, SearchQuery) (SearchPage, error) {
	return SearchPage{}, nil
}
func (m *memHistory) SaveBan(Ban)                         {}
func (m *memHistory) DeleteBan(Ban)                       {}
func (m *memHistory) Bans(context.Context) ([]Ban, error) { return nil, nil }

// fuzzClock is a clock the fuzzer moves, so that waits after wrong passwords can pass.
type fuzzClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fuzzClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fuzzClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fuzzSecrets are the passwords the fuzzer has its users type: each carries a random word
// made for this process, which no input of the fuzzer can hold, so that finding one anywhere
// means a password got there. Each is also a valid name, so that one typed at the name
// question would show.
var fuzzSecrets = sync.OnceValue(func() (s fuzzPasswords) {
	word := strings.ToLower(strings.TrimRight(base32.StdEncoding.EncodeToString(randomBytes(10)), "="))
	s.right, s.wrong, s.fresh = "Right"+word, "Wrong"+word, "Fresh"+word
	// The lowest costs Verify takes, so that logins cost the fuzzer little; new passwords
	// (/register, /password) are hashed at the real costs.
	salt := randomBytes(16)
	s.rightHash = fmt.Sprintf("$argon2id$v=%d$m=8,t=1,p=1$%s$%s", argon2.Version,
		base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte(s.right), salt, 1, 8, 1, 32)))
	return s
})

// fuzzPasswords are alice's password and its hash, a wrong one, and a new one.
type fuzzPasswords struct{ right, wrong, fresh, rightHash string }

// in reports whether s holds one of the passwords.
func (p fuzzPasswords) in(s string) bool {
	return strings.Contains(s, p.right) || strings.Contains(s, p.wrong) || strings.Contains(s, p.fresh)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// secretRecorder is a recorder that also keeps why it was dropped.
type secretRecorder struct {
	recorder
	details []string
}

func (r *secretRecorder) Drop(reason DropReason, detail string) {
	r.recorder.Drop(reason, detail)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.details = append(r.details, detail)
}

// asking reports whether the last password question r was sent is still open.
func (r *secretRecorder) asking() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.got) - 1; i >= 0; i-- {
		switch r.got[i].Kind {
		case KindSecretPrompt:
			return true
		case KindSecretDone:
			return false
		}
	}
	return false
}

// What a step of FuzzPasswordPrompt does; the fuzzer's bytes pick one, and which user.
const (
	opAlice      = iota // "alice" at the name question: alice has an account
	opGuestName         // a name of a guest (or, under --accounts required, of a new account)
	opRight             // alice's password, when a password is asked
	opWrong             // a wrong one, when a password is asked
	opFresh             // a new password, when a password is asked
	opQuit              // "/quit"
	opTooLong           // a line longer than the transport takes
	opEmpty             // ""
	opSpaces            // "   "
	opRegister          // "/register"
	opPassword          // "/password"
	opUnregister        // "/unregister"
	opLogout            // "/logout"
	opText              // the next of the fuzzer's own lines
	opRetype            // the password typed last, typed again at the name question
	opWait              // the clock moves on: 2s, or 10 minutes
	opCount
)

// FuzzPasswordPrompt has three users, each on a connection of its own that may end and begin
// again, go through the name and password questions in any order: alice's account logs in
// (right, wrong, waiting), /register, /password, /unregister, /logout, /quit at a question,
// over-long, empty and blank lines, and whatever lines the fuzzer makes. Whatever they do, no
// password typed ever reaches a client (anyone's, also the typist's own), the log or history;
// every password question is closed by exactly one KindSecretDone before another is asked and
// before the user leaves by /quit; nothing panics; and once all have left nobody is left in.
func FuzzPasswordPrompt(f *testing.F) {
	for _, seed := range []struct {
		ops      string
		lines    string
		required bool
	}{
		{string([]byte{opAlice, opRight, opText}), "hello", false},
		{string([]byte{opAlice, opWrong, opAlice, opRight, opAlice, opWait, opRight}), "", false},
		{string([]byte{opAlice, opEmpty, opAlice, opSpaces, opAlice, opQuit}), "", false},
		{string([]byte{opAlice, opTooLong, opRetype, opAlice, opWrong, opRetype}), "", false},
		{string([]byte{opGuestName, opRegister, opFresh, opFresh, opText, opPassword, opFresh, opFresh, opFresh}), "/nick carol", false},
		{string([]byte{opAlice, opRight, opPassword, opRight, opFresh, opTooLong, opUnregister, opRight}), "", false},
		{string([]byte{opAlice, opRight, opAlice + opCount, opRight + opCount, opLogout, opUnregister + opCount, opRight + opCount}), "", false},
		{string([]byte{opGuestName, opFresh, opFresh, opText, opGuestName + opCount, opEmpty + opCount}), "/msg guest1 hi", true},
		{string([]byte{opGuestName, opRegister, opFresh, opQuit, opText, opRegister, opFresh, opWrong}), "/register now", false},
	} {
		f.Add([]byte(seed.ops), seed.lines, seed.required)
	}
	f.Fuzz(func(t *testing.T, ops []byte, lines string, required bool) {
		if len(ops) > 64 { // new passwords are hashed at full cost: keep each input quick
			ops = ops[:64]
		}
		secrets := fuzzSecrets()
		var log bytes.Buffer
		clock := &fuzzClock{now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
		accounts := &memAccounts{byName: map[string]Account{}}
		history := &memHistory{}
		alice, err := ParseName("alice")
		if err != nil {
			t.Fatal(err)
		}
		if err := accounts.CreateAccount(context.Background(), Account{Name: "alice", Keys: alice.Keys(), Hash: secrets.rightHash}); err != nil {
			t.Fatal(err)
		}
		h := NewHub(Config{MaxRoomsPerUser: 3, FloodMute: 1, Now: clock.Now, History: history, Accounts: accounts,
			AccountsRequired: required, MaxSessionsPerAccount: 2},
			slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})))

		type user struct {
			rec       *secretRecorder
			s         *Session
			gone      bool   // the connection ended
			lastTyped string // the last password typed before a name was chosen
		}
		var all []*secretRecorder
		users := make([]*user, 3)
		connect := func(i int) {
			rec := &secretRecorder{}
			all = append(all, rec)
			s, err := h.Connect(rec, Peer{Addr: netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)})})
			users[i] = &user{rec: rec, s: s, gone: err != nil}
		}
		for i := range users {
			connect(i)
		}
		texts := strings.Split(lines, "\n")
		for _, op := range ops {
			u := users[int(op/opCount)%len(users)]
			if u.gone {
				connect(int(op/opCount) % len(users))
				continue
			}
			var line string
			switch op % opCount {
			case opAlice:
				line = "alice"
			case opGuestName:
				line = fmt.Sprintf("guest%d", op/opCount%3)
			case opRight, opWrong, opFresh:
				if !u.rec.asking() {
					continue // typed at another question it would be a line said, as the user typed it
				}
				line = map[byte]string{opRight: secrets.right, opWrong: secrets.wrong, opFresh: secrets.fresh}[op%opCount]
			case opQuit:
				line = "/quit"
			case opTooLong:
				u.s.TooLong()
				continue
			case opEmpty:
				line = ""
			case opSpaces:
				line = "   "
			case opRegister:
				line = "/register"
			case opPassword:
				line = "/password"
			case opUnregister:
				line = "/unregister"
			case opLogout:
				line = "/logout"
			case opText:
				line, texts = texts[0], texts[1:]
				if len(texts) == 0 {
					texts = []string{""}
				}
			case opRetype:
				if u.lastTyped == "" || u.s.Registered() || u.rec.asking() {
					continue
				}
				line = u.lastTyped
			case opWait:
				clock.add(map[bool]time.Duration{false: 2 * time.Second, true: 10 * time.Minute}[op/opCount%2 == 1])
				continue
			}
			if u.rec.asking() && !u.s.Registered() && strings.TrimSpace(line) != "" && !strings.EqualFold(strings.TrimSpace(line), "/quit") {
				// The server remembers the last answer (not a blank one) to a password question
				// before a name was chosen, and refuses it as a name; only a password of ours
				// is worth typing again.
				u.lastTyped = ""
				if secrets.in(line) {
					u.lastTyped = line
				}
			}
			if err := u.s.Handle([]byte(line)); errors.Is(err, ErrQuit) {
				if u.rec.asking() {
					t.Fatalf("left by %q with a password question open", line)
				}
				u.s.Close()
				u.gone = true
			}
			for _, u := range users { // a device ended by another (/logout, /unregister)
				if !u.gone && u.rec.dropped {
					u.s.Close()
					u.gone = true
				}
			}
		}
		for _, u := range users {
			u.s.Close()
		}

		leaked := secrets.in
		for i, rec := range all {
			open := false
			for _, m := range rec.got {
				fields := []string{m.Room, m.From, m.To, m.Text}
				for _, r := range m.Rooms {
					fields = append(fields, r.Name, r.Topic)
				}
				for _, mi := range m.Members {
					fields = append(fields, mi.Name, mi.Away)
				}
				if slices.ContainsFunc(fields, leaked) {
					t.Fatalf("connection %d was sent a password: %+v", i, m)
				}
				switch m.Kind {
				case KindSecretPrompt:
					if open {
						t.Fatalf("connection %d was asked for a password twice with no KindSecretDone between", i)
					}
					open = true
				case KindSecretDone:
					if !open {
						t.Fatalf("connection %d got a KindSecretDone with no question open", i)
					}
					open = false
				}
			}
			if slices.ContainsFunc(rec.details, leaked) {
				t.Fatalf("connection %d was dropped with a password: %q", i, rec.details)
			}
		}
		if leaked(log.String()) {
			t.Fatalf("the log has a password:\n%s", log.String())
		}
		for _, r := range history.records {
			if slices.ContainsFunc([]string{r.Room, r.RoomName, r.From, r.FromKey, r.To, r.ToKey, r.Text}, leaked) {
				t.Fatalf("history keeps a password: %+v", r)
			}
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if len(h.names.m) != 0 || len(h.byAccount) != 0 || len(h.lobby.list()) != 0 {
			t.Fatalf("after everyone left: names %v, accounts %v, lobby %d", h.names.m, h.byAccount, len(h.lobby.list()))
		}
	})
}
