package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"hubbub/internal/metrics"
	"hubbub/internal/webpage"
	"hubbub/internal/wsgateway"
)

// publicHandler serves what users and load balancers reach: the web page, the chat over its
// WebSocket ws, and the health checks. Nothing an operator alone should see.
func (m *Main) publicHandler(ws *wsgateway.Server) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /ws", ws)
	if m.accountsOn() {
		mux.HandleFunc("POST /login", ws.ServeLogin)
		mux.HandleFunc("POST /logout", ws.ServeLogout)
	}
	// What the page offers depends on it: no login form where there are no accounts.
	mux.HandleFunc("GET /features.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, `{"accounts":%t,"accounts_required":%t}`+"\n", m.accountsOn(), m.accountsOn() && m.cfg.Accounts == "required")
	})
	mux.Handle("GET /", webpage.Handler())
	m.health(mux)
	return mux
}

// adminHandler serves what operators look at: /metrics, the health checks, and /debug/pprof/
// when --pprof is set; only to requests that name the listener by address or by this
// machine's name (see adminHostAllowed).
func (m *Main) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.metrics.Registry, promhttp.HandlerOpts{}))
	m.health(mux)
	if m.cfg.PProf {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", maskedCmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	hostname, _ := os.Hostname()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !adminHostAllowed(r.Host, hostname) {
			http.Error(w, "the admin listener answers requests to its address or to this machine's name", http.StatusMisdirectedRequest)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// adminHostAllowed reports whether a request to the admin listener names it by an IP address,
// localhost or this machine's name (alone or as the first label of a longer name). A web page
// on another site that points a name of its own at this machine (DNS rebinding) sends that
// name, and is refused: only a page of this machine could read the metrics then.
func adminHostAllowed(host, hostname string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	first, _, _ := strings.Cut(host, ".")
	return strings.EqualFold(host, "localhost") || hostname != "" && strings.EqualFold(first, hostname)
}

// maskedCmdline is pprof's cmdline with the values of secret flags masked, as `hubbub config`
// masks them: a profile is no way to the operator password.
func maskedCmdline(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	args := slices.Clone(os.Args)
	for i := 0; i < len(args); i++ {
		name, value, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") || !secretFlags[name] {
			continue
		}
		if hasValue {
			args[i] = args[i][:len(args[i])-len(value)] + "********"
		} else if i+1 < len(args) {
			args[i+1] = "********"
			i++
		}
	}
	fmt.Fprint(w, strings.Join(args, "\x00"))
}

// health adds /healthz and /readyz to mux.
func (m *Main) health(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
		if line := m.clusterHealth(); line != "" {
			fmt.Fprintln(w, line)
		}
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if why := m.notReady(); why != "" {
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
}

// wsCount is the WebSocket gateway's limiter. It refuses nobody: the HTTP listener counted
// the connection against the shared limits when it was accepted, and a browser counts once.
// It keeps the WebSocket gauges.
type wsCount struct{ m *metrics.Metrics }

func (c wsCount) Acquire(string, netip.Addr) string {
	c.m.WebSocketOpened()
	return ""
}

func (c wsCount) Release(string, netip.Addr) { c.m.WebSocketClosed() }

// notReady says why the server should not be sent users now, or "" when it should.
func (m *Main) notReady() string {
	switch {
	case m.stopping.Load():
		return "shutting down"
	case !m.ready.Load():
		return "starting"
	}
	if h := m.history; h != nil {
		if err := h.Err(); err != nil {
			return "history cannot be written: " + err.Error()
		}
	}
	return m.clusterNotReady()
}

// accountsOn reports whether users may have accounts: they are kept with the history.
func (m *Main) accountsOn() bool {
	return (m.history != nil || m.shared != nil) && m.cfg.Accounts != "off"
}
