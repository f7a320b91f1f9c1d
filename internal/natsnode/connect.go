// Package natsnode is the plumbing a hubbub node stands on in a cluster: its connection to NATS
// (with reconnects that never give up), an embedded nats-server for an all-hubbub deployment, the
// JetStream objects every node shares (created idempotently by whichever node starts first), and
// the node's view of NATS for /healthz, /readyz and /metrics.
//
// It knows nothing of the chat: the bus and the names registry built on it live in natsbus.
package natsnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options say how to reach NATS.
type Options struct {
	// URLs of NATS servers: any of them will do, the rest of the cluster is discovered.
	URLs []string
	// Creds is a NATS credentials file (JWT and seed); "" connects without.
	Creds string
	// TLSCA is a PEM file of the CAs that sign the servers' certificates; "" uses the system's.
	TLSCA string
	// Name is how the connection shows in the server's monitoring: the node name.
	Name string
	// Counters, if set, counts what happens to the connection, for metrics.
	Counters *Counters
}

// Counters count a connection's troubles. Its fields are safe to read at any time.
type Counters struct {
	Reconnects    atomic.Uint64 // a connection lost and made again
	AsyncErrors   atomic.Uint64 // errors NATS reports outside a call, slow consumers included
	SlowConsumers atomic.Uint64 // a subscription fell behind and NATS dropped messages for it
}

// Connection timing. Reconnects go on forever: a node without NATS is useless, and an operator
// who restarts the NATS cluster expects its nodes to come back by themselves.
const (
	dialTimeout    = 5 * time.Second // one attempt at one server
	reconnectWait  = time.Second     // before trying the same server again
	reconnectJiter = 500 * time.Millisecond
	// A server that vanished without closing the socket is noticed after about
	// pingInterval*maxPingsOut.
	pingInterval = 5 * time.Second
	maxPingsOut  = 3
	// apiTimeout bounds a JetStream API call made without a deadline of its own.
	apiTimeout = 10 * time.Second
	// asyncLogEvery: a subscription that stays slow reports again and again; the counter sees
	// every report, the log one per interval.
	asyncLogEvery = 30 * time.Second
)

// ErrNoServer is returned by Connect when no server answered before the context ended.
var ErrNoServer = errors.New("no NATS server answered")

// Connect connects to NATS and returns the connection and its JetStream. It waits until one
// server of opts.URLs answers or ctx ends; from then on the connection reconnects by itself,
// forever. Disconnects, reconnects and the final close are logged once each; failed attempts
// are not logged.
func Connect(ctx context.Context, opts Options, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if len(opts.URLs) == 0 {
		return nil, nil, errors.New("nats: no server URL")
	}
	counters := opts.Counters
	if counters == nil {
		counters = new(Counters)
	}
	connected := make(chan struct{})
	var once atomic.Bool
	var lastErr atomic.Pointer[error] // why the last attempt failed, for Connect's own error
	var lastAsyncLog atomic.Int64
	nopts := []nats.Option{
		nats.Name(opts.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.ReconnectJitter(reconnectJiter, reconnectJiter),
		nats.Timeout(dialTimeout),
		nats.PingInterval(pingInterval),
		nats.MaxPingsOutstanding(maxPingsOut),
		// The first connection is retried like any reconnect, so that nodes and NATS servers may
		// start in any order; Connect waits for it below.
		nats.RetryOnFailedConnect(true),
		nats.ConnectHandler(func(nc *nats.Conn) {
			if once.CompareAndSwap(false, true) {
				close(connected)
			}
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				lastErr.Store(&err)
			}
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() {
				return // the closed handler says it
			}
			log.Warn("nats disconnected, reconnecting", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			counters.Reconnects.Add(1)
			log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted(), "server", nc.ConnectedServerName())
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			log.Info("nats connection closed")
		}),
		nats.LameDuckModeHandler(func(nc *nats.Conn) {
			log.Info("nats server is going away, moving to another", "server", nc.ConnectedServerName())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			counters.AsyncErrors.Add(1)
			if errors.Is(err, nats.ErrSlowConsumer) {
				counters.SlowConsumers.Add(1)
			}
			now := time.Now().UnixNano()
			last := lastAsyncLog.Load()
			if now-last < int64(asyncLogEvery) || !lastAsyncLog.CompareAndSwap(last, now) {
				return
			}
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("nats asynchronous error (counted; logged once per interval)", "err", err, "subject", subject, "interval", asyncLogEvery)
		}),
	}
	if opts.Creds != "" {
		nopts = append(nopts, nats.UserCredentials(opts.Creds))
	}
	if opts.TLSCA != "" {
		nopts = append(nopts, nats.RootCAs(opts.TLSCA))
	}
	nc, err := nats.Connect(joinURLs(opts.URLs), nopts...)
	if err != nil {
		return nil, nil, fmt.Errorf("nats: connect to %s: %w", redacted(opts.URLs), err)
	}
	if !nc.IsConnected() {
		log.Info("waiting for a NATS server to answer", "urls", redacted(opts.URLs))
		select {
		case <-connected:
		case <-ctx.Done():
			nc.Close()
			err := fmt.Errorf("nats: %w at %s", ErrNoServer, redacted(opts.URLs))
			if last := lastErr.Load(); last != nil {
				err = fmt.Errorf("%w (last: %w)", err, *last)
			}
			return nil, nil, err
		}
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(apiTimeout))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	log.Info("nats connected", "url", nc.ConnectedUrlRedacted(), "server", nc.ConnectedServerName(), "cluster", nc.ConnectedClusterName())
	return nc, js, nil
}

// joinURLs joins urls for nats.Connect.
func joinURLs(urls []string) string { return strings.Join(urls, ",") }

// redacted is urls as they may be logged: a password in one is masked.
func redacted(urls []string) string {
	out := make([]string, len(urls))
	for i, s := range urls {
		out[i] = s
		if u, err := url.Parse(s); err == nil && u.User != nil {
			out[i] = u.Redacted()
		} else if err != nil {
			out[i] = "(a URL that does not parse)"
		}
	}
	return strings.Join(out, ",")
}
