package main

import (
	"fmt"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"hubbub/internal/webpage"
)

// httpHandler serves what operators look at: /metrics, /healthz, /readyz, and /debug/pprof/
// when --pprof is set.
func (m *Main) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.metrics.Registry, promhttp.HandlerOpts{}))
	if m.ws != nil {
		mux.Handle("GET /ws", m.ws)
		mux.Handle("GET /", webpage.Handler())
	}
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
	if m.cfg.PProf {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

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
