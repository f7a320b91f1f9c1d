package chat

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"hubbub/internal/password"
)

// secretStep says what the next line a session reads is: a password, never said, cleaned,
// logged or kept.
type secretStep uint8

const (
	secretNone  secretStep = iota
	secretNew              // the password chosen by /register
	secretAgain            // the same password again, to catch a typo
	secretLogin            // the password of the account whose name was chosen at the prompt
)

// secretState is where a session is in asking for a password; used only by the reading
// goroutine.
type secretState struct {
	step    secretStep
	first   string  // the password typed first, during /register
	name    Name    // the name chosen at the prompt, for secretLogin
	account Account // its account, for secretLogin
}

// Bounds on the work a password costs.
const (
	// hashSlots is how many hashes or verifies run at once server-wide: each takes about
	// 20 MB and 40 ms, and 2 keep a small machine answering while a crowd logs in.
	hashSlots = 2
	// hashWait is how long a password waits for a slot before the user is told to retry.
	hashWait = 10 * time.Second
	// accountTimeout bounds one account lookup or creation in the store.
	accountTimeout = 10 * time.Second
)

// errBusy says every hashing slot stayed taken for hashWait.
var errBusy = errors.New("busy hashing passwords")

// hashing runs f in one of the hub's hashing slots, with no lock held.
func (h *Hub) hashing(f func()) error {
	t := time.NewTimer(hashWait)
	defer t.Stop()
	select {
	case h.hashSlots <- struct{}{}:
	case <-t.C:
		return errBusy
	}
	defer func() { <-h.hashSlots }()
	f()
	return nil
}

// Account returns the name of the account the member is logged in as, "" for a guest.
func (s *Session) Account() string {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if s.member == nil {
		return ""
	}
	return s.account
}

// askSecret makes the next line a password and asks for it with text.
func (s *Session) askSecret(st secretState, text string) {
	s.secret = st
	s.client.Deliver(&Message{Kind: KindSecretPrompt, Text: text})
}

// endSecret ends the password input: the next line is an ordinary one again.
func (s *Session) endSecret() {
	s.secret = secretState{}
	s.client.Deliver(&Message{Kind: KindSecretDone})
}

func (s *Session) cmdRegister(args string) error {
	h := s.hub
	if h.cfg.Accounts == nil {
		s.notice("accounts are off on this server")
		return nil
	}
	if args != "" {
		// Whatever follows is likely the password itself: never repeated, never kept.
		s.notice("usage: /register, then type the password when asked (not on the same line)")
		return nil
	}
	if acc := s.Account(); acc != "" {
		s.noticef("you are already logged in as %s", acc)
		return nil
	}
	s.askSecret(secretState{step: secretNew},
		fmt.Sprintf("choose a password for %s (%s)", s.nameNow().Display, password.Rule))
	return nil
}

// handleSecret acts on a line that is a password. The line goes nowhere but here.
func (s *Session) handleSecret(pw string) {
	st := s.secret
	s.endSecret()
	switch st.step {
	case secretNew:
		if err := password.Check(pw); err != nil {
			s.noticef("%v; nothing was registered, /register to try again", err)
			return
		}
		st.step, st.first = secretAgain, pw
		s.askSecret(st, "the same password again")
	case secretAgain:
		if pw != st.first {
			s.notice("the two passwords differ; nothing was registered, /register to try again")
			return
		}
		s.createAccount(pw)
	case secretLogin:
		s.login(st, pw)
	}
}

// createAccount registers the member's name with pw and logs the session in as it.
func (s *Session) createAccount(pw string) {
	h := s.hub
	var hash string
	var err error
	if busy := h.hashing(func() { hash, err = password.Hash(pw) }); busy != nil {
		s.notice("the server is busy; nothing was registered, /register to try again in a moment")
		return
	}
	if err != nil {
		h.log.Error("register: hashing", "err", err)
		s.notice("registering failed on the server; /register to try again later")
		return
	}
	name := s.nameNow()
	ctx, cancel := context.WithTimeout(context.Background(), accountTimeout)
	defer cancel()
	err = h.cfg.Accounts.CreateAccount(ctx, Account{Name: name.Display, Keys: name.Keys(), Hash: hash, Created: h.now()})
	switch {
	case errors.Is(err, ErrAccountExists):
		s.noticef("%s or a name like it is already registered; choose another name with /nick first", name.Display)
		return
	case err != nil:
		h.log.Error("register: storing the account", "name", name.Display, "err", err)
		s.notice("registering failed on the server; /register to try again later")
		return
	}
	acc, has, err := h.findAccount(name)
	if err != nil || !has {
		h.log.Error("register: reading the account back", "name", name.Display, "err", err)
		s.notice("registering failed on the server; /register to try again later")
		return
	}
	if !h.lockLive(s) {
		return
	}
	h.loginLocked(s.member, acc)
	h.mu.Unlock()
	h.log.Info("account registered", "name", name.Display)
	s.noticef("%s is registered to you: next time, choosing %s asks for this password", name.Display, name.Display)
}

// loginLocked makes the member m, a guest, logged in to acc.
func (h *Hub) loginLocked(m *member, acc Account) {
	m.account, m.accountID = acc.Name, acc.ID
	if h.byAccount == nil {
		h.byAccount = make(map[string]*member)
	}
	h.byAccount[acc.Name] = m
	if acc.Oper || h.isOperatorAccount(acc.Name) {
		m.oper = true
	}
}

// findAccount returns the account whose name looks like n, if accounts are on and there is one.
func (h *Hub) findAccount(n Name) (Account, bool, error) {
	if h.cfg.Accounts == nil {
		return Account{}, false, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), accountTimeout)
	defer cancel()
	acc, ok, err := h.cfg.Accounts.FindAccount(ctx, n.Keys())
	if err != nil {
		return Account{}, false, fmt.Errorf("finding the account of %q: %w", n.Display, err)
	}
	return acc, ok, nil
}

// Why a password was not accepted, for a caller outside the chat (the web page's login).
var (
	// ErrWrongPassword: the password is not the account's, or there is no such account (the
	// two are not told apart, so that a login form is no way to list accounts).
	ErrWrongPassword = errors.New("wrong password")
	// ErrLoginBusy: every hashing slot stayed taken; try again in a moment.
	ErrLoginBusy = errors.New("the server is busy checking passwords")
)

// LoginWaitError says that too many wrong passwords came for the account from the address:
// no password is checked before Wait has passed.
type LoginWaitError struct{ Wait time.Duration }

func (e *LoginWaitError) Error() string {
	return fmt.Sprintf("too many wrong passwords: try again in %v", seconds(e.Wait))
}

// checkPassword checks pw against acc for a user at remote, under the limits on guessing,
// and counts failures. nil means right.
func (h *Hub) checkPassword(acc Account, pw string, remote netip.Addr) error {
	if wait := h.logins.wait(acc.Name, remote, h.now()); wait > 0 {
		h.observer.LoginFailed(LoginWaiting)
		return &LoginWaitError{Wait: wait}
	}
	var ok bool
	var err error
	if busy := h.hashing(func() { ok, err = password.Verify(acc.Hash, pw) }); busy != nil {
		return ErrLoginBusy
	}
	if err != nil {
		return fmt.Errorf("the stored hash of %s cannot be checked: %w", acc.Name, err)
	}
	if !ok {
		h.logins.failed(acc.Name, remote, h.now())
		h.observer.LoginFailed(LoginWrongPassword)
		h.log.Info("wrong password", "account", acc.Name, "remote", remote)
		return ErrWrongPassword
	}
	h.logins.succeeded(acc.Name, remote)
	return nil
}

// CheckLogin checks the password of the account registered as name (or a name that looks
// like it) for a user at remote, as the name prompt does, and returns the account's name.
// For a transport's own login (the web page's form). It fails with ErrWrongPassword,
// *LoginWaitError, ErrLoginBusy, or another error when the server cannot check.
func (h *Hub) CheckLogin(name, pw string, remote netip.Addr) (string, error) {
	remote = remote.Unmap()
	n, err := ParseName(name)
	if err != nil || strings.TrimSpace(pw) == "" {
		return "", ErrWrongPassword
	}
	acc, has, err := h.findAccount(n)
	if err != nil {
		return "", err
	}
	if !has {
		// As slow as a wrong password, so that the time taken does not tell which names are
		// registered.
		_ = h.hashing(func() { _, _ = password.Verify(dummyHash(), pw) })
		h.observer.LoginFailed(LoginWrongPassword)
		return "", ErrWrongPassword
	}
	if err := h.checkPassword(acc, pw, remote); err != nil {
		return "", err
	}
	return acc.Name, nil
}

// dummyHash is checked against when there is no account, to take the time a real one takes.
// Made on first use: a hash costs 20 MB, which a process that never checks one should not pay.
var dummyHash = sync.OnceValue(func() string {
	h, err := password.Hash("not a password anyone has")
	if err != nil {
		panic(fmt.Sprintf("hashing a constant: %v", err))
	}
	return h
})

// ConnectAccount is Connect for a user who proved to the transport that they hold account
// (the web page's login token, named by token so that /logout can keep it): the user enters
// the chat at once under the account's name, with no name prompt. It returns ErrNoAccount,
// having said nothing to the user, when accounts are off or the account no longer exists: the
// transport then forgets the token and calls Connect instead.
func (h *Hub) ConnectAccount(c Client, remote netip.Addr, account, token string) (*Session, error) {
	n, err := ParseName(account)
	if err != nil {
		return nil, ErrNoAccount
	}
	acc, has, err := h.findAccount(n)
	if err != nil {
		return nil, err
	}
	if !has || acc.Name != account {
		return nil, ErrNoAccount
	}
	remote = remote.Unmap()
	s := &Session{hub: h, client: c, remote: remote, connected: h.now(), token: token}
	h.mu.Lock()
	banned := h.bans.addrBannedLocked(remote, h.now())
	h.mu.Unlock()
	if banned {
		s.closed = true
		s.notice("you are banned from this server")
		return s, ErrBanned
	}
	s.enter(n, &acc)
	return s, nil
}

// login checks pw against the account chosen at the prompt and, when right, welcomes the
// member under the name chosen.
func (s *Session) login(st secretState, pw string) {
	h := s.hub
	if strings.TrimSpace(pw) == "" {
		// An Enter typed too soon, or a user who changed their mind: no guess, not counted.
		// Said, so that nobody types a password at the name question that comes back.
		s.notice("no password given: choose a name again")
		s.client.Deliver(h.prompt)
		return
	}
	err := h.checkPassword(st.account, pw, s.remote)
	var wait *LoginWaitError
	switch {
	case err == nil:
	case errors.As(err, &wait):
		s.noticef("too many wrong passwords for %s: try again in %v", st.account.Name, seconds(wait.Wait))
	case errors.Is(err, ErrLoginBusy):
		s.notice("the server is busy, please try again in a moment")
	case errors.Is(err, ErrWrongPassword):
		s.notice("wrong password")
	default:
		h.log.Error("login", "err", err)
		s.notice("logging in failed on the server, please try again later")
	}
	if err != nil {
		s.client.Deliver(h.prompt)
		return
	}
	s.enter(st.name, &st.account)
}

// Failed logins are slowed, never locked out: a stranger must not be able to keep someone out
// of their own account.
const (
	// loginFirstWait is the wait after the first wrong password from one address for one
	// account; each further one doubles it, up to loginMaxWait.
	loginFirstWait = time.Second
	loginMaxWait   = 5 * time.Minute
	// loginForget is how long after its last failure a pair's count is forgotten.
	loginForget = time.Hour
	// loginAccountRate: across all addresses, an account's password is checked at most once
	// per loginAccountRate for addresses that already failed on it; an address that never
	// failed on the account always gets its check, so that an attacker spending many
	// addresses does not keep the owner out.
	loginAccountRate = time.Second
	// loginMaxPairs bounds the memory of failures; past it the oldest are forgotten.
	loginMaxPairs = 1 << 16
)

// loginPair is an account and an address (an IPv6 /64 as one, see operKey).
type loginPair struct {
	account string
	addr    netip.Prefix
}

type loginFailures struct {
	count int
	last  time.Time
	until time.Time // no check before
}

// loginGuard remembers failed logins. Its lock is a leaf, taken without Hub.mu.
type loginGuard struct {
	mu      sync.Mutex
	pairs   map[loginPair]*loginFailures
	account map[string]time.Time // the last check of an account for an address that had failed
}

func newLoginGuard() *loginGuard {
	return &loginGuard{pairs: map[loginPair]*loginFailures{}, account: map[string]time.Time{}}
}

// wait returns how long addr must wait before its next password for account is checked, and
// when it is 0 counts the check against the account's rate.
func (g *loginGuard) wait(account string, addr netip.Addr, now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.pairs[loginPair{account, operKey(addr)}]
	if f == nil {
		return 0
	}
	if w := f.until.Sub(now); w > 0 {
		return w
	}
	if next := g.account[account].Add(loginAccountRate); now.Before(next) {
		return next.Sub(now)
	}
	g.account[account] = now
	return 0
}

// failed records a wrong password for account from addr.
func (g *loginGuard) failed(account string, addr netip.Addr, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	k := loginPair{account, operKey(addr)}
	f := g.pairs[k]
	if f == nil {
		if len(g.pairs) >= loginMaxPairs {
			g.forgetLocked(now)
		}
		f = &loginFailures{}
		g.pairs[k] = f
	}
	f.count++
	f.last = now
	wait := loginMaxWait
	if f.count <= 20 {
		wait = min(loginFirstWait<<(f.count-1), loginMaxWait)
	}
	f.until = now.Add(wait)
}

// succeeded forgets the failures of addr on account.
func (g *loginGuard) succeeded(account string, addr netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.pairs, loginPair{account, operKey(addr)})
}

// forgetLocked drops failures older than loginForget and, when that frees too little, the
// older half of the rest. Never all of them: an attacker who filled the table (an IPv6 /48
// holds 65,536 /64s) would otherwise wipe the waits of its own recent guesses.
func (g *loginGuard) forgetLocked(now time.Time) {
	for k, f := range g.pairs {
		if now.Sub(f.last) > loginForget {
			delete(g.pairs, k)
		}
	}
	if len(g.pairs) > loginMaxPairs/2 {
		lasts := make([]time.Time, 0, len(g.pairs))
		for _, f := range g.pairs {
			lasts = append(lasts, f.last)
		}
		slices.SortFunc(lasts, time.Time.Compare)
		median := lasts[len(lasts)/2]
		for k, f := range g.pairs {
			if f.last.Before(median) {
				delete(g.pairs, k)
			}
		}
		// Failures all at one time leave no older half: then any half goes.
		for k := range g.pairs {
			if len(g.pairs) <= loginMaxPairs/2 {
				break
			}
			delete(g.pairs, k)
		}
	}
	for a, at := range g.account {
		if now.Sub(at) > loginAccountRate {
			delete(g.account, a)
		}
	}
}
