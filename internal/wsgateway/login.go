package wsgateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"strconv"
	"time"

	"hubbub/internal/chat"
)

// Tokens keeps the web page's login tokens: what its session cookie holds, so that a browser
// stays logged in to an account across reloads without keeping the password anywhere.
// Declared here, implemented by the history store.
type Tokens interface {
	// CreateToken makes a token for account (as registered) and returns it, and its id.
	CreateToken(ctx context.Context, account string) (token, id string, err error)
	// AccountOfToken returns the account token logs in to and its id; ok is false for a token
	// unknown, revoked or expired.
	AccountOfToken(ctx context.Context, token string) (account, id string, ok bool, err error)
	// RevokeToken ends the token with id.
	RevokeToken(ctx context.Context, id string) error
}

// CookieName is the session cookie's name.
const CookieName = "hubbub_session"

const (
	// cookieMaxAge is how long the browser keeps the cookie: the token's lifetime in the
	// store (sqlite.TokenLifetime), which each use pushes back as the cookie is not; a browser
	// that keeps coming back logs in again after 30 days.
	cookieMaxAge = 30 * 24 * 60 * 60
	// maxLoginBody bounds what /login and /logout read: a name and a password are a few
	// hundred bytes.
	maxLoginBody = 4 << 10
	// tokenTimeout bounds a look-up or change of a token for one request.
	tokenTimeout = 10 * time.Second
)

// SetTokens turns on logging in from the web page (ServeLogin, ServeLogout, and the session
// cookie on /ws), with tokens kept in t. Call it before serving.
func (s *Server) SetTokens(t Tokens) { s.tokens = t }

// What the page is told about its login, first thing on /ws (docs/protocol.md).
var (
	// eventLoggedOut: the browser's cookie logs in no more (revoked by /logout elsewhere, a
	// new password, the account deleted, or expired); the connection goes on as a guest's.
	eventLoggedOut = []byte(`{"kind":"logged_out","text":"your login has ended: log in again, or choose a name"}`)
	// noticeTokenTrouble: the cookie could not be checked.
	noticeTokenTrouble = &chat.Message{Kind: chat.KindNotice,
		Text: "your login could not be checked on the server: choose a name, or reload later to try again"}
)

// eventLoggedIn says the browser's cookie logs in to account: the page offers to log out.
func eventLoggedIn(account string) []byte {
	b, _ := json.Marshal(struct {
		Kind string `json:"kind"`
		From string `json:"from"`
	}{"logged_in", account})
	return b
}

// cookieLogin is what a request's session cookie says.
type cookieLogin struct {
	had         bool   // the request carried the cookie
	token       string // the cookie's value
	account, id string // the account it logs in to and its token's id; "": none
	failed      bool   // it could not be checked
}

// loginOf looks up the request's session cookie.
func (s *Server) loginOf(r *http.Request) cookieLogin {
	if s.tokens == nil {
		return cookieLogin{}
	}
	ck, err := r.Cookie(CookieName)
	if err != nil || ck.Value == "" {
		return cookieLogin{}
	}
	ctx, cancel := context.WithTimeout(r.Context(), tokenTimeout)
	defer cancel()
	account, id, ok, err := s.tokens.AccountOfToken(ctx, ck.Value)
	if err != nil {
		s.log.Error("web login: checking a session cookie", "remote", r.RemoteAddr, "err", err)
		return cookieLogin{had: true, failed: true}
	}
	if !ok {
		return cookieLogin{had: true}
	}
	return cookieLogin{had: true, token: ck.Value, account: account, id: id}
}

// sessionCookie is the cookie that holds token; "" clears it. Secure when the page is served
// over TLS, here or (Config.SecureCookies) by a proxy in front.
func (s *Server) sessionCookie(r *http.Request, token string) *http.Cookie {
	c := &http.Cookie{Name: CookieName, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		MaxAge: cookieMaxAge, Secure: r.TLS != nil || s.cfg.SecureCookies}
	if token == "" {
		c.MaxAge = -1 // Max-Age=0: delete it now
	}
	return c
}

// ServeLogin is POST /login: the form fields name and password are checked as the name
// prompt checks them (the same slowing of wrong guesses, the same metrics), and when right
// the answer is 204 with the session cookie. Wrong: 401, never saying whether the name or the
// password was; too many wrong: 429 with the wait; busy: 503. The password and the token are
// never logged.
func (s *Server) ServeLogin(w http.ResponseWriter, r *http.Request) {
	if !s.startRequest(w, r) {
		return
	}
	defer s.handlers.Done()
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		jsonError(w, http.StatusUnsupportedMediaType, "send name and password as a form (application/x-www-form-urlencoded)")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		jsonError(w, http.StatusRequestEntityTooLarge, "the form is too large")
		return
	}
	// The body's fields only: a password in the URL would be in logs and history.
	name, pw := r.PostForm.Get("name"), r.PostForm.Get("password")
	remote := remoteAddr(r.RemoteAddr)
	account, err := s.hub.CheckLogin(name, pw, remote)
	var wait *chat.LoginWaitError
	switch {
	case err == nil:
	case errors.Is(err, chat.ErrWrongPassword):
		jsonError(w, http.StatusUnauthorized, "wrong name or password")
		return
	case errors.As(err, &wait):
		secs := int(math.Ceil(wait.Wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		why := "too many wrong passwords"
		if wait.FromAddress {
			why = "too many passwords from your address"
		}
		writeJSON(w, http.StatusTooManyRequests, map[string]any{
			"error": fmt.Sprintf("%s: try again in %d s", why, secs), "wait": secs})
		return
	case errors.Is(err, chat.ErrBanned):
		jsonError(w, http.StatusForbidden, "banned from this server")
		return
	case errors.Is(err, chat.ErrLoginBusy):
		w.Header().Set("Retry-After", "1")
		jsonError(w, http.StatusServiceUnavailable, "the server is busy, please try again in a moment")
		return
	default:
		s.log.Error("web login", "remote", r.RemoteAddr, "err", err)
		jsonError(w, http.StatusInternalServerError, "logging in failed on the server, please try again later")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), tokenTimeout)
	defer cancel()
	token, id, err := s.tokens.CreateToken(ctx, account)
	if errors.Is(err, chat.ErrNoAccount) { // deleted in the meantime
		jsonError(w, http.StatusUnauthorized, "wrong name or password")
		return
	}
	if err != nil {
		s.log.Error("web login: making a token", "remote", r.RemoteAddr, "account", account, "err", err)
		jsonError(w, http.StatusInternalServerError, "logging in failed on the server, please try again later")
		return
	}
	// The browser's earlier login, if any, ends: its cookie is being replaced.
	if old := s.loginOf(r); old.id != "" {
		if err := s.tokens.RevokeToken(ctx, old.id); err != nil {
			s.log.Warn("web login: revoking the replaced token", "remote", r.RemoteAddr, "err", err)
		}
	}
	s.log.Info("web login", "remote", r.RemoteAddr, "account", account, "token_id", id)
	http.SetCookie(w, s.sessionCookie(r, token))
	w.WriteHeader(http.StatusNoContent)
}

// ServeLogout is POST /logout: the cookie's token is revoked and the cookie cleared. Other
// browsers logged in to the account stay logged in (the chat's /logout ends those).
func (s *Server) ServeLogout(w http.ResponseWriter, r *http.Request) {
	if !s.startRequest(w, r) {
		return
	}
	defer s.handlers.Done()
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if login := s.loginOf(r); login.id != "" {
		ctx, cancel := context.WithTimeout(r.Context(), tokenTimeout)
		defer cancel()
		if err := s.tokens.RevokeToken(ctx, login.id); err != nil {
			s.log.Error("web logout", "remote", r.RemoteAddr, "err", err)
			jsonError(w, http.StatusInternalServerError, "logging out failed on the server, please try again")
			return
		}
		s.log.Info("web logout", "remote", r.RemoteAddr, "account", login.account, "token_id", login.id)
	}
	http.SetCookie(w, s.sessionCookie(r, ""))
	w.WriteHeader(http.StatusNoContent)
}

// startRequest admits a /login or /logout request: logins are on, the server is not stopping
// (Shutdown waits for the request, which may be using the store), and the page's origin may
// connect to /ws (the same allow-list: another site's page must not log its visitor in or out).
// When it returns true, the caller must call s.handlers.Done.
func (s *Server) startRequest(w http.ResponseWriter, r *http.Request) bool {
	w.Header().Set("Cache-Control", "no-store")
	if s.tokens == nil {
		http.NotFound(w, r)
		return false
	}
	if !s.originAllowed(r.Header.Get("Origin")) {
		s.refused.note(s.log, r.RemoteAddr, r.Header.Get("Origin"), "origin not allowed for "+r.URL.Path)
		jsonError(w, http.StatusForbidden, "pages from this origin may not log in here (--ws-origins)")
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		jsonError(w, http.StatusServiceUnavailable, closeShutdown)
		return false
	}
	s.handlers.Add(1)
	return true
}

func jsonError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
