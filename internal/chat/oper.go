package chat

import (
	"crypto/subtle"
	"log/slog"
	"math"
	"net/netip"
	"sync"
	"time"
)

// OperFailure says why an /oper try failed: one of a few values, fit for a metric label.
type OperFailure string

// The ways an /oper try fails.
const (
	// OperWrongPassword: the password was checked and is wrong.
	OperWrongPassword OperFailure = "wrong_password"
	// OperAddressWaiting: refused unchecked, the address must wait after a wrong password.
	OperAddressWaiting OperFailure = "address_waiting"
	// OperServerBusy: refused unchecked, the server checks only so many passwords a second.
	OperServerBusy OperFailure = "server_busy"
)

// Observer is told what the chat does, for metrics. It must not block.
type Observer interface {
	OperFailed(why OperFailure)
	LoginFailed(why LoginFailure)
}

// LoginFailure says why a password for an account was refused; a closed set, fit for a
// metric label.
type LoginFailure string

// Why a login failed.
const (
	// LoginWrongPassword: checked and wrong.
	LoginWrongPassword LoginFailure = "wrong_password"
	// LoginWaiting: refused unchecked, the address or the account must wait after wrong ones.
	LoginWaiting LoginFailure = "waiting"
)

type noObserver struct{}

func (noObserver) OperFailed(OperFailure)   {}
func (noObserver) LoginFailed(LoginFailure) {}

// How /oper resists guessing. An address (an IPv4 address, an IPv6 /64) that gave a wrong
// password waits before its next try is checked, twice as long after each wrong one, so
// reconnecting gains nothing; and the whole server checks only a few passwords a second, so
// many addresses together gain little more. Nobody can lock anyone out: an address waits only
// for its own wrong passwords, and the server-wide bound costs the real operator a moment.
const (
	operFirstWait    = time.Second
	operLongestWait  = 10 * time.Minute
	operForgetAfter  = 24 * time.Hour // an address quiet this long starts over
	operChecksPerSec = 2
	operCheckBurst   = 5
	operMaxAddrs     = 1 << 16 // addresses remembered; the oldest are forgotten beyond it
	operLogEvery     = time.Minute
)

// operGuard keeps the state that bounds /oper guesses. Its lock is a leaf: nothing else is
// locked while it is held.
type operGuard struct {
	log *slog.Logger

	mu     sync.Mutex
	addrs  map[netip.Prefix]*operAddr // guarded by mu
	tokens float64                    // checks the server may do now; guarded by mu
	filled time.Time                  // when tokens was last topped up; guarded by mu

	// Failures since the last log line, logged together once per operLogEvery.
	logged  time.Time                 // guarded by mu
	wrong   int                       // guarded by mu
	refused int                       // guarded by mu
	from    map[netip.Prefix]struct{} // guarded by mu
}

type operAddr struct {
	wrong int       // wrong passwords in a row
	until time.Time // no try is checked before
	last  time.Time // the last try
}

// operResult is what came of an /oper try.
type operResult struct {
	ok   bool
	why  OperFailure   // when not ok
	wait time.Duration // for OperAddressWaiting and OperServerBusy: how long until a try is checked
}

func newOperGuard(log *slog.Logger) *operGuard {
	return &operGuard{log: log, addrs: make(map[netip.Prefix]*operAddr), tokens: operCheckBurst}
}

// operKey is what an address's waits are kept by: the address, or its /64 for IPv6, since
// one IPv6 user commonly has a whole /64.
func operKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p
	}
	return netip.PrefixFrom(a, a.BitLen())
}

// try checks password against want for a user at remote, unless the address must wait or
// the server has checked enough for now.
func (g *operGuard) try(remote netip.Addr, now time.Time, password, want string) operResult {
	key := operKey(remote)
	g.mu.Lock()
	defer g.mu.Unlock()
	defer g.logLocked(now)
	a := g.addrs[key]
	if a != nil && now.Before(a.until) {
		a.last = now
		g.noteLocked(key, false)
		return operResult{why: OperAddressWaiting, wait: a.until.Sub(now)}
	}
	g.tokens = min(operCheckBurst, g.tokens+now.Sub(g.filled).Seconds()*operChecksPerSec)
	g.filled = now
	if g.tokens < 1 {
		g.noteLocked(key, false)
		wait := time.Duration((1 - g.tokens) / operChecksPerSec * float64(time.Second))
		return operResult{why: OperServerBusy, wait: wait}
	}
	g.tokens--
	if subtle.ConstantTimeCompare([]byte(password), []byte(want)) == 1 {
		delete(g.addrs, key)
		return operResult{ok: true}
	}
	if a == nil {
		a = g.rememberLocked(key, now)
	}
	a.wrong++
	a.last = now
	a.until = now.Add(operWait(a.wrong))
	g.noteLocked(key, true)
	return operResult{why: OperWrongPassword, wait: a.until.Sub(now)}
}

// operWait is how long an address waits after its nth wrong password in a row.
func operWait(n int) time.Duration {
	if n > 30 {
		return operLongestWait
	}
	return min(operFirstWait<<(n-1), operLongestWait)
}

// rememberLocked adds an entry for key, first forgetting addresses quiet for
// operForgetAfter, and the quietest if there are still too many. The server-wide bound on
// checks bounds how fast entries are added, so this runs rarely.
func (g *operGuard) rememberLocked(key netip.Prefix, now time.Time) *operAddr {
	if len(g.addrs) >= operMaxAddrs {
		var oldest netip.Prefix
		oldestAt := time.Time{}
		for k, a := range g.addrs {
			if now.Sub(a.last) > operForgetAfter {
				delete(g.addrs, k)
				continue
			}
			if oldestAt.IsZero() || a.last.Before(oldestAt) {
				oldest, oldestAt = k, a.last
			}
		}
		if len(g.addrs) >= operMaxAddrs {
			delete(g.addrs, oldest)
		}
	}
	a := &operAddr{last: now}
	g.addrs[key] = a
	return a
}

// noteLocked counts a failure for the next log line.
func (g *operGuard) noteLocked(key netip.Prefix, wrong bool) {
	if wrong {
		g.wrong++
	} else {
		g.refused++
	}
	if g.from == nil {
		g.from = make(map[netip.Prefix]struct{})
	}
	if len(g.from) < operMaxAddrs {
		g.from[key] = struct{}{}
	}
}

// logLocked logs the failures counted, at most once per operLogEvery: one line for a storm
// of guesses, never one per guess. The first failure after a quiet spell is logged at once, so
// that an attack shows as it starts; what follows is logged with the first try after
// operLogEvery has passed. The metric counts each failure at once.
func (g *operGuard) logLocked(now time.Time) {
	if g.wrong+g.refused == 0 || now.Sub(g.logged) < operLogEvery {
		return
	}
	g.log.Warn("failed operator logins", "wrong_passwords", g.wrong, "refused_unchecked", g.refused,
		"addresses", len(g.from))
	g.logged, g.wrong, g.refused, g.from = now, 0, 0, nil
}

// seconds says d in whole seconds, rounded up: "wait 0s" would invite a try that fails.
func seconds(d time.Duration) time.Duration {
	return time.Duration(math.Ceil(d.Seconds())) * time.Second
}

func (s *Session) cmdOper(args string) error {
	if args == "" {
		return s.usage("oper")
	}
	if made, err := s.becomeOper(args); !s.tell(err) && made {
		s.notice("you are now an operator")
	}
	return nil
}

// Oper makes the member an operator, given the server's operator password. An address that
// gave a wrong one waits before its next try is checked, and the server checks only a few a
// second (CodeTryLater); each failure is counted by the Observer.
func (s *Session) Oper(password string) error {
	_, err := s.becomeOper(password)
	return err
}

// becomeOper is Oper, reporting whether the member was made an operator (a device no longer in the
// chat is not, and fails with no error).
func (s *Session) becomeOper(password string) (bool, error) {
	h := s.hub
	switch {
	case password == "":
		return false, fail(CodeNeedArgs, "no password given")
	case h.cfg.OperPassword == "":
		return false, fail(CodeNotOffered, "this server has no operator password")
	}
	res := h.oper.try(s.remote, h.now(), password, h.cfg.OperPassword)
	if !res.ok {
		h.observer.OperFailed(res.why)
		switch res.why {
		case OperWrongPassword:
			return false, fail(CodeWrongPassword, "wrong password: wait %v before trying again", seconds(res.wait))
		case OperAddressWaiting:
			return false, fail(CodeTryLater, "not checked: wait %v before trying /oper again", seconds(res.wait))
		default: // OperServerBusy
			return false, fail(CodeTryLater, "not checked, too many operator logins at once: try again in %v", seconds(res.wait))
		}
	}
	if !h.lockLive(s) {
		return false, nil
	}
	defer h.mu.Unlock()
	s.oper = true
	h.showLocked(s.member)
	h.log.Info("operator", "name", s.name().Display, "remote", s.remote.String())
	return true, nil
}
