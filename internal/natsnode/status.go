package natsnode

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Status is the node's view of NATS at one moment.
type Status struct {
	Connected    bool          // the connection is up
	URL          string        // the server it is connected to, password masked; "" when down
	Server       string        // that server's name
	Cluster      string        // that server's cluster name; "" without a cluster
	RTT          time.Duration // a round trip to the server; 0 when it did not answer
	Servers      int           // distinct servers the connection knows of (KnownServers)
	JetStream    bool          // JetStream answered an account info request in time
	JetStreamErr string        // why not, when it did not
	Reconnects   uint64        // reconnects so far
	ConsumerLag  uint64        // what the bus reports (0 without one)
}

// statusTimeout bounds each question ReadStatus asks, whatever ctx allows.
const statusTimeout = 2 * time.Second

// ReadStatus asks nc and js how they are: a round trip and a JetStream account info, each within
// ctx and at most two seconds. lag, when not nil, is asked for the bus's consumer lag.
func ReadStatus(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, lag func() uint64) Status {
	st := Status{
		Connected:  nc.IsConnected(),
		Servers:    KnownServers(nc),
		Reconnects: nc.Stats().Reconnects,
	}
	if lag != nil {
		st.ConsumerLag = lag()
	}
	if !st.Connected {
		st.JetStreamErr = "not connected to NATS"
		return st
	}
	st.URL = nc.ConnectedUrlRedacted()
	st.Server = nc.ConnectedServerName()
	st.Cluster = nc.ConnectedClusterName()
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	start := time.Now()
	if err := nc.FlushWithContext(ctx); err == nil {
		st.RTT = time.Since(start)
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		st.JetStreamErr = err.Error()
	} else {
		st.JetStream = true
	}
	return st
}

// NotReady says why a node with this status should not be sent users, or "" when it may be.
func (st Status) NotReady() string {
	switch {
	case !st.Connected:
		return "not connected to NATS"
	case !st.JetStream:
		return "JetStream unreachable: " + st.JetStreamErr
	}
	return ""
}
