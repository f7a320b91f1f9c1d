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
	secretNone    secretStep = iota
	secretNew                // a new password: for /register, /password, or a name at the prompt
	secretAgain              // the same new password again, to catch a typo
	secretLogin              // the password of the account whose name was chosen at the prompt
	secretCurrent            // the account's password, before /password changes it
	secretDelete             // the account's password, before /unregister deletes the account
)

// secretPurpose says what a new password is for.
type secretPurpose uint8

const (
	forRegister secretPurpose = iota // /register: the name the member holds
	forPrompt                        // a name chosen at the prompt, on a server for accounts only
	forChange                        // /password
)

// secretState is where a session is in asking for a password; used only by the reading
// goroutine.
type secretState struct {
	step    secretStep
	purpose secretPurpose
	first   string  // the password typed first, for secretAgain
	name    Name    // the name chosen at the prompt, for secretLogin and forPrompt
	account Account // its account, for secretLogin
	// question is what was asked, to ask again after an empty line; blank says one came.
	question string
	blank    bool
}

// notDone says, for each purpose, that nothing happened and how to try again.
func (p secretPurpose) notDone() string {
	switch p {
	case forPrompt:
		return "nothing was registered: choose a name again"
	case forChange:
		return "your password was not changed, /password to try again"
	}
	return "nothing was registered, /register to try again"
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

// How many password hashes or checks one address may cause: each costs 20 MB and 40 ms of a
// core, and the server runs only hashSlots at once, so one address asking without end (wrong
// passwords for one account after another, unknown names on the web form, /password in a
// loop) would keep everyone else's logins waiting.
const (
	hashesPerSecond = 1.0
	hashBurst       = 4
	hashAddresses   = 1 << 16 // addresses remembered; when full, new ones are refused
)

// hashBudget is what an address (an IPv4 address, an IPv6 /64) may still hash.
type hashBudget struct {
	tokens float64
	at     time.Time
}

// hashRates bounds the hashes each address causes. Its lock is a leaf.
type hashRates struct {
	mu    sync.Mutex
	addrs map[netip.Prefix]*hashBudget
}

// take counts one hash for addr now, or returns how long addr must wait for one.
func (r *hashRates) take(addr netip.Addr, now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.addrs == nil {
		r.addrs = make(map[netip.Prefix]*hashBudget)
	}
	key := operKey(addr)
	b := r.addrs[key]
	if b == nil {
		if len(r.addrs) >= hashAddresses {
			for k, x := range r.addrs { // those with a full budget again are forgotten
				if x.tokens+now.Sub(x.at).Seconds()*hashesPerSecond >= hashBurst {
					delete(r.addrs, k)
				}
			}
			if len(r.addrs) >= hashAddresses {
				return time.Second // fail closed: so many addresses at once is an attack
			}
		}
		b = &hashBudget{tokens: hashBurst, at: now}
		r.addrs[key] = b
	}
	b.tokens = min(hashBurst, b.tokens+now.Sub(b.at).Seconds()*hashesPerSecond)
	b.at = now
	if b.tokens < 1 {
		return time.Duration((1 - b.tokens) / hashesPerSecond * float64(time.Second))
	}
	b.tokens--
	return 0
}

// hashing runs f, which hashes or checks a password for a user at remote, in one of the hub's
// hashing slots, with no lock held. It fails with *LoginWaitError when remote has caused too
// many hashes lately, and errBusy when no slot came free within hashWait.
func (h *Hub) hashing(remote netip.Addr, f func()) error {
	if wait := h.hashRates.take(remote, h.now()); wait > 0 {
		return &LoginWaitError{Wait: wait, FromAddress: true}
	}
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

// refusedHash tells the user why a hash was not run (see hashing), and what did not happen.
func (s *Session) refusedHash(err error, notDone string) {
	var wait *LoginWaitError
	if errors.As(err, &wait) {
		s.noticef("too many passwords from your address: try again in %v; %s", seconds(wait.Wait), notDone)
		return
	}
	s.noticef("the server is busy, please try again in a moment; %s", notDone)
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
	st.question = text
	s.secret = &st
	s.client.Deliver(&Message{Kind: KindSecretPrompt, Text: text})
}

// endSecret ends the password input: the next line is an ordinary one again.
func (s *Session) endSecret() {
	s.secret = nil
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
	name := s.nameNow()
	if acc, has, err := h.findAccount(name); err == nil && has {
		// Said before any password is typed (an administrator may have made it meanwhile).
		s.noticef("%s is registered already, as %s; choose another name with /nick first", name.Display, acc.Name)
		return nil
	}
	if h.operatorName(name) {
		s.noticef("%s is kept for an operator's account, which only the server's administrator makes; choose another name with /nick first", name.Display)
		return nil
	}
	s.askSecret(secretState{step: secretNew, purpose: forRegister},
		fmt.Sprintf("choose a password for %s (%s)", s.nameNow().Display, password.Rule))
	return nil
}

// handleSecret acts on a line that is a password (s.secret is set). The line goes nowhere
// but here.
func (s *Session) handleSecret(pw string) {
	st := *s.secret
	s.endSecret()
	if strings.TrimSpace(pw) == "" {
		// An Enter typed too soon is no answer, and counts as nothing: the question stays,
		// so that the password typed next is still taken as one (and never said to a room).
		// A second empty line gives up.
		if !st.blank {
			st.blank = true
			question := st.question
			s.askSecret(st, "no password given: type it, or an empty line again to give up")
			s.secret.question = question
			return
		}
		s.gaveUp(st)
		return
	}
	s.keepSecret(pw)
	switch st.step {
	case secretNew:
		if err := password.Check(pw); err != nil {
			s.noticef("%v; %s", err, st.purpose.notDone())
			s.promptAgain(st.purpose)
			return
		}
		st.step, st.first = secretAgain, pw
		s.askSecret(st, "the same password again")
	case secretAgain:
		if pw != st.first {
			s.noticef("the two passwords differ; %s", st.purpose.notDone())
			s.promptAgain(st.purpose)
			return
		}
		if st.purpose == forChange {
			s.changePassword(pw)
			return
		}
		s.createAccount(st, pw)
	case secretLogin:
		s.login(st, pw)
	case secretCurrent, secretDelete:
		s.confirmed(st, pw)
	}
}

// gaveUp says that nothing happened, after a password question was answered with nothing.
func (s *Session) gaveUp(st secretState) {
	switch {
	case st.step == secretLogin || st.purpose == forPrompt && (st.step == secretNew || st.step == secretAgain):
		s.notice("no password given: choose a name again")
		s.client.Deliver(s.hub.prompt)
	case st.step == secretNew || st.step == secretAgain:
		s.noticef("no password given; %s", st.purpose.notDone())
	default:
		s.notice("no password given; nothing was changed")
	}
}

// promptAgain asks for a name again after a password at the prompt came to nothing.
func (s *Session) promptAgain(p secretPurpose) {
	if p == forPrompt {
		s.client.Deliver(s.hub.prompt)
	}
}

// TooLong is called by the transport when the user sent a line longer than it takes, which it
// dropped: a password question is closed rather than left waiting, unseen, for the next line.
func (s *Session) TooLong() {
	if s.secret == nil {
		return
	}
	st := *s.secret
	s.endSecret()
	switch st.step {
	case secretNew, secretAgain:
		s.noticef("that was too long for a password; %s", st.purpose.notDone())
		s.promptAgain(st.purpose)
	case secretLogin:
		s.notice("that was too long for a password, nothing was checked: choose a name again")
		s.client.Deliver(s.hub.prompt)
	default:
		s.notice("that was too long for a password, nothing was checked")
	}
}

// createAccount registers a name with pw: the member's (for /register), or the one chosen at
// the prompt, which the session then enters as.
func (s *Session) createAccount(st secretState, pw string) {
	h := s.hub
	name := st.name
	if st.purpose == forRegister {
		name = s.nameNow()
	}
	if h.operatorName(name) {
		// Whoever registered it would be an operator: such a name is made by the server's
		// administrator (`hubbub account create`), never by whoever comes first.
		s.noticef("%s is kept for an operator's account, which only the server's administrator makes; %s", name.Display, st.purpose.notDone())
		s.promptAgain(st.purpose)
		return
	}
	counted := h.now()
	if !h.registrations.allow(s.remote, counted) {
		s.noticef("too many names registered from your address lately; %s later", st.purpose.notDone())
		s.promptAgain(st.purpose)
		return
	}
	registered := false
	defer func() {
		if !registered {
			h.registrations.undo(s.remote, counted)
		}
	}()
	var hash string
	var err error
	if refused := h.hashing(s.remote, func() { hash, err = password.Hash(pw) }); refused != nil {
		s.refusedHash(refused, st.purpose.notDone())
		s.promptAgain(st.purpose)
		return
	}
	if err != nil {
		h.log.Error("register: hashing", "err", err)
		s.noticef("registering failed on the server; %s later", st.purpose.notDone())
		s.promptAgain(st.purpose)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), accountTimeout)
	defer cancel()
	err = h.cfg.Accounts.CreateAccount(ctx, Account{Name: name.Display, Keys: name.Keys(), Hash: hash, Created: h.now()})
	switch {
	case errors.Is(err, ErrAccountExists):
		if st.purpose == forPrompt {
			s.noticef("%s or a name like it was registered meanwhile: choose a name again", name.Display)
		} else {
			s.noticef("%s or a name like it is already registered; choose another name with /nick first", name.Display)
		}
		s.promptAgain(st.purpose)
		return
	case err != nil:
		h.log.Error("register: storing the account", "name", name.Display, "err", err)
		s.noticef("registering failed on the server; %s later", st.purpose.notDone())
		s.promptAgain(st.purpose)
		return
	}
	acc, has, err := h.findAccount(name)
	if err != nil || !has {
		h.log.Error("register: reading the account back", "name", name.Display, "err", err)
		s.noticef("registering failed on the server; %s later", st.purpose.notDone())
		s.promptAgain(st.purpose)
		return
	}
	registered = true
	h.log.Info("account registered", "name", name.Display)
	if st.purpose == forPrompt {
		s.noticef("%s is registered to you: next time, choosing %s asks for this password", name.Display, name.Display)
		s.enter(name, &acc)
		return
	}
	if !h.lockLive(s) {
		return
	}
	h.loginLocked(s.member, acc)
	h.mu.Unlock()
	s.noticef("%s is registered to you: next time, choosing %s asks for this password", name.Display, name.Display)
}

// cmdPassword changes the password of the account the member is logged in as: the current
// one first, so that a device left logged in is not enough to take the account.
func (s *Session) cmdPassword(args string) error {
	return s.askCurrent(args, "password", secretCurrent, "your current password")
}

// cmdUnregister deletes the account the member is logged in as, with its private history.
func (s *Session) cmdUnregister(args string) error {
	return s.askCurrent(args, "unregister", secretDelete,
		"your password, to delete your account and its private history for good")
}

func (s *Session) askCurrent(args, command string, step secretStep, question string) error {
	if s.hub.cfg.Accounts == nil {
		s.notice("accounts are off on this server")
		return nil
	}
	if args != "" {
		s.noticef("usage: /%s, then type the password when asked (not on the same line)", command)
		return nil
	}
	acc := s.Account()
	if acc == "" {
		s.notice("you are not logged in: /register claims your name")
		return nil
	}
	n, err := ParseName(acc)
	if err != nil {
		return nil
	}
	s.askSecret(secretState{step: step, name: n}, question)
	return nil
}

// confirmed checks pw, the account's password typed for /password or /unregister, and goes on
// with them when it is right.
func (s *Session) confirmed(st secretState, pw string) {
	h := s.hub
	acc, has, err := h.findAccount(st.name)
	if err != nil {
		h.log.Error("account", "err", err)
		s.notice("your account cannot be read just now, please try again later; nothing was changed")
		return
	}
	if !has || acc.Name != s.Account() {
		// Deleted by the administrator (`hubbub account delete`) since this session logged in.
		s.forgetAccount(s.Account())
		s.notice("your account no longer exists (the administrator deleted it): you are a guest now")
		return
	}
	err = h.checkPassword(acc, pw, s.remote)
	var wait *LoginWaitError
	switch {
	case err == nil:
	case errors.As(err, &wait):
		s.noticef("%v; nothing was changed", wait)
	case errors.Is(err, ErrLoginBusy):
		s.notice("the server is busy, please try again in a moment; nothing was changed")
	case errors.Is(err, ErrWrongPassword):
		s.notice("wrong password; nothing was changed")
	default:
		h.log.Error("account", "err", err)
		s.notice("checking failed on the server, please try again later; nothing was changed")
	}
	if err != nil {
		return
	}
	if st.step == secretDelete {
		s.deleteAccount(acc)
		return
	}
	s.askSecret(secretState{step: secretNew, purpose: forChange, name: st.name},
		fmt.Sprintf("choose a new password (%s)", password.Rule))
}

// changePassword gives the member's account pw as its password.
func (s *Session) changePassword(pw string) {
	h := s.hub
	var hash string
	var err error
	if refused := h.hashing(s.remote, func() { hash, err = password.Hash(pw) }); refused != nil {
		s.refusedHash(refused, "your password was not changed")
		return
	}
	account := s.Account()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), accountTimeout)
		err = h.cfg.Accounts.SetPassword(ctx, account, hash)
		cancel()
	}
	if err != nil {
		h.log.Error("password: storing", "account", account, "err", err)
		s.notice("changing it failed on the server; your password was not changed, /password to try again later")
		return
	}
	// Whoever knew the old password is out: the account's other devices and every web login
	// (this browser's too: the store ends them all with the old password).
	h.revokeTokens(account, "")
	n := 0
	if h.lockLive(s) {
		n = h.endOtherDevicesLocked(s, "your password was changed from another device")
		h.mu.Unlock()
	}
	h.log.Info("password changed", "account", account)
	s.noticef("your password is changed, and web logins must log in again (%s)", devicesEnded(n))
}

// devicesEnded says how many other devices were disconnected.
func devicesEnded(n int) string {
	switch n {
	case 0:
		return "no other device was connected"
	case 1:
		return "your 1 other device was disconnected"
	}
	return fmt.Sprintf("your %d other devices were disconnected", n)
}

// deleteAccount deletes acc, the member's account: the member stays, as a guest, on this
// device; its other devices are disconnected.
func (s *Session) deleteAccount(acc Account) {
	h := s.hub
	ctx, cancel := context.WithTimeout(context.Background(), accountTimeout)
	err := h.cfg.Accounts.DeleteAccount(ctx, acc.Name)
	cancel()
	if err != nil && !errors.Is(err, ErrNoAccount) {
		h.log.Error("unregister", "account", acc.Name, "err", err)
		s.notice("deleting it failed on the server; your account is still there, /unregister to try again later")
		return
	}
	h.revokeTokens(acc.Name, "")
	h.log.Info("account deleted", "name", acc.Name)
	if !s.forgetAccount(acc.Name) {
		return
	}
	if h.cfg.AccountsRequired {
		s.noticef("your account %s and its private history are deleted; this server is for accounts only, so goodbye", acc.Name)
		h.mu.Lock()
		h.dropDeviceLocked(s, DropLoggedOut, "(quit: account deleted)", "account deleted")
		h.mu.Unlock()
		return
	}
	s.noticef("your account %s and its private history are deleted: you are a guest now", acc.Name)
}

// forgetAccount makes s's member, logged in to account, a guest, and disconnects its other
// devices; it reports whether s is still in the chat.
func (s *Session) forgetAccount(account string) bool {
	h := s.hub
	if !h.lockLive(s) {
		return false
	}
	defer h.mu.Unlock()
	m := s.member
	if m.account != account {
		return true
	}
	h.endOtherDevicesLocked(s, "your account was deleted")
	if h.byAccount[m.accountID] == m {
		delete(h.byAccount, m.accountID)
	}
	m.account, m.accountID = "", 0
	if m.operByAccount {
		m.oper, m.operByAccount = false, false
	}
	h.showLocked(m)
	return true
}

// cmdLogout ends the member's other devices and the account's other web logins.
func (s *Session) cmdLogout(string) error {
	h := s.hub
	if h.cfg.Accounts == nil {
		s.notice("accounts are off on this server")
		return nil
	}
	account := s.Account()
	if account == "" {
		s.notice("you are not logged in, so there are no other sessions to end")
		return nil
	}
	h.revokeTokens(account, s.token)
	if !h.lockLive(s) {
		return nil
	}
	defer h.mu.Unlock()
	n := h.endOtherDevicesLocked(s, "logged out from another device")
	switch n {
	case 0:
		s.notice("no other device was connected; web logins elsewhere are ended")
	case 1:
		s.notice("ended your session on 1 other device; web logins elsewhere are ended")
	default:
		s.noticef("ended your sessions on %d other devices; web logins elsewhere are ended", n)
	}
	return nil
}

// endOtherDevicesLocked disconnects the devices of s's member but s, telling them why, and
// returns how many there were.
func (h *Hub) endOtherDevicesLocked(s *Session, why string) int {
	n := 0
	for _, d := range s.member.list() {
		if d != s {
			h.dropDeviceLocked(d, DropLoggedOut, why, why)
			n++
		}
	}
	return n
}

// revokeTokens ends the web logins of account but keep ("": all).
func (h *Hub) revokeTokens(account, keep string) {
	ctx, cancel := context.WithTimeout(context.Background(), accountTimeout)
	defer cancel()
	if err := h.cfg.Accounts.RevokeTokens(ctx, account, keep); err != nil {
		h.log.Error("ending web logins", "account", account, "err", err)
	}
}

// registrations bounds how many names one address registers: each costs a hash, a row and a
// name nobody else can take.
type registrations struct {
	mu    sync.Mutex
	times map[netip.Prefix][]time.Time
}

const (
	registrationsPerAddress = 3
	registrationWindow      = time.Hour
	registrationAddresses   = 1 << 14 // addresses remembered; when full, new ones are refused
)

// allow reports whether addr may register a name now, and counts it if so.
func (r *registrations) allow(addr netip.Addr, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.times == nil {
		r.times = make(map[netip.Prefix][]time.Time)
	}
	key := operKey(addr)
	recent := slices.DeleteFunc(r.times[key], func(t time.Time) bool { return now.Sub(t) >= registrationWindow })
	if len(recent) >= registrationsPerAddress {
		r.times[key] = recent
		return false
	}
	if len(recent) == 0 && len(r.times) >= registrationAddresses {
		for k, ts := range r.times {
			if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= registrationWindow {
				delete(r.times, k)
			}
		}
		if len(r.times) >= registrationAddresses {
			return false // fail closed: many addresses registering at once is an attack
		}
	}
	r.times[key] = append(recent, now)
	return true
}

// undo forgets the registration allow counted for addr at now, which came to nothing (the
// name was taken, the server failed): only names registered count.
func (r *registrations) undo(addr netip.Addr, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := operKey(addr)
	if i := slices.Index(r.times[key], now); i >= 0 {
		r.times[key] = slices.Delete(r.times[key], i, i+1)
	}
}

// loginLocked makes the member m, a guest, logged in to acc.
func (h *Hub) loginLocked(m *member, acc Account) {
	m.account, m.accountID = acc.Name, acc.ID
	if h.byAccount == nil {
		h.byAccount = make(map[int64]*member)
	}
	h.byAccount[acc.ID] = m
	if acc.Oper || h.isOperatorAccount(acc.Name) {
		m.oper, m.operByAccount = true, true
	}
	h.showLocked(m) // a member logs in when it registers, or registers an account
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
type LoginWaitError struct {
	Wait time.Duration
	// FromAddress: the address caused too many password checks lately, whatever the account.
	FromAddress bool
}

func (e *LoginWaitError) Error() string {
	if e.FromAddress {
		return fmt.Sprintf("too many passwords from your address: try again in %v", seconds(e.Wait))
	}
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
	if refused := h.hashing(remote, func() { ok, err = password.Verify(acc.Hash, pw) }); refused != nil {
		if errors.Is(refused, errBusy) {
			return ErrLoginBusy
		}
		h.observer.LoginFailed(LoginWaiting)
		return refused
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
// *LoginWaitError, ErrLoginBusy, ErrBanned (the name or the address), or another error when
// the server cannot check.
func (h *Hub) CheckLogin(name, pw string, remote netip.Addr) (string, error) {
	remote = remote.Unmap()
	n, err := ParseName(name)
	if err != nil || strings.TrimSpace(pw) == "" {
		return "", ErrWrongPassword
	}
	h.mu.Lock()
	banned := h.bans.nameBannedLocked(n, h.now()) || h.bans.addrBannedLocked(remote, h.now())
	h.mu.Unlock()
	if banned {
		return "", ErrBanned // before any password is checked: a guess learns nothing
	}
	acc, has, err := h.findAccount(n)
	if err != nil {
		return "", err
	}
	if !has {
		// As slow as a wrong password, so that the time taken does not tell which names are
		// registered.
		if refused := h.hashing(remote, func() { _, _ = password.Verify(dummyHash(), pw) }); refused != nil {
			if errors.Is(refused, errBusy) {
				return "", ErrLoginBusy
			}
			h.observer.LoginFailed(LoginWaiting)
			return "", refused
		}
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

// login checks pw against the account chosen at the prompt and, when right, welcomes the
// member under the name chosen.
func (s *Session) login(st secretState, pw string) {
	h := s.hub
	// Read again: the password may have changed, or the account been deleted (and the name
	// registered by someone else), since the question was asked.
	acc, has, err := h.findAccount(st.name)
	if err == nil && (!has || acc.ID != st.account.ID) {
		s.notice("that account changed while you typed: choose a name again")
		s.client.Deliver(h.prompt)
		return
	}
	if err == nil {
		err = h.checkPassword(acc, pw, s.remote)
	}
	var wait *LoginWaitError
	switch {
	case err == nil:
	case errors.As(err, &wait) && wait.FromAddress:
		s.notice(wait.Error())
	case errors.As(err, &wait):
		s.noticef("too many wrong passwords for %s: try again in %v", acc.Name, seconds(wait.Wait))
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
	// As registered, whichever look-alike was typed: the account is who comes in.
	name, err := ParseName(acc.Name)
	if err != nil {
		name = st.name
	}
	s.enter(name, &acc)
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
