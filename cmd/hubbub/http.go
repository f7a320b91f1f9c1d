package main

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"hubbub/internal/metrics"
	"hubbub/internal/webpage"
)

// publicHandler serves what users and load balancers reach: the web page, its WebSocket, and
// the health checks. Nothing an operator alone should see.
func (m *Main) publicHandler() http.Handler {
	mux := http.NewServeMux()
	if m.ws != nil {
		mux.Handle("GET /ws", m.ws)
		mux.Handle("GET /", webpage.Handler())
	}
	m.health(mux)
	return mux
}

// adminHandler serves what operators look at: /metrics, the health checks, and /debug/pprof/
// when --pprof is set.
func (m *Main) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.metrics.Registry, promhttp.HandlerOpts{}))
	m.health(mux)
	if m.cfg.PProf {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// health adds /healthz and /readyz to mux.
func (m *Main) health(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
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
	return ""
}
