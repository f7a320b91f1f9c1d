package natsbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"hubbub/internal/natsnode"
)

// A node proves it is alive with one lease: the key Hex(node) of the nodes bucket, whose value
// is the node's incarnation (a random id, new for each run and each time the node lost its
// lease), written with the TTL and refreshed every TTL/6 by a publish that expects the key's
// last sequence. Each name key names its holder's node and incarnation; a name whose holder's
// lease is gone, or names another incarnation, is free. So holding a name costs one write to
// claim it and one to free it, whatever the number of names, and a node's liveness one write
// per TTL/6.
//
// Fail closed: a node whose lease write has not succeeded for dropAfter (measured from when
// the last successful write was sent, so before the server started its TTL) drops every
// member it holds a name for, before the lease can expire and anyone else may take the names.

// dropAfter is how long after its last successful lease write a node drops its members: a
// third of the TTL before the lease can expire, room for a loaded machine's late timers.
func (l *claims) dropAfter() time.Duration { return l.c.cfg.NameTTL * 2 / 3 }

// errNoLease is what a claim gets while this node holds no lease (NATS unreachable).
var errNoLease = errors.New("cluster: this node is not connected to the chat's cluster, try again in a moment")

// errLeaseHeld: another run of this node (or a node given the same name) holds the lease.
var errLeaseHeld = errors.New("cluster: another run of this node holds its lease")

func newIncarnation() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (l *claims) leaseKey() string { return natsnode.Hex(l.c.cfg.Node) }

// acquire takes this node's lease, waiting while a predecessor's is alive (it expires at most
// NameTTL after that run's last write), until ctx ends.
func (l *claims) acquire(ctx context.Context) error {
	logged := false
	for {
		err := l.acquireOnce(ctx)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errLeaseHeld) && ctx.Err() != nil {
			return err
		}
		if errors.Is(err, errLeaseHeld) && !logged {
			logged = true
			l.c.log.Warn("cluster: waiting for the lease of this node's previous run to expire", "node", l.c.cfg.Node,
				"at most", l.c.cfg.NameTTL)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: taking this node's lease: %w (last: %w)", ctx.Err(), err)
		case <-time.After(leaseRetry):
		}
	}
}

// leaseRetry is how long a node waits between attempts to take its lease.
const leaseRetry = 250 * time.Millisecond

// acquireOnce creates the lease with a new incarnation, or takes it over from this process's
// previous incarnation, whose members are gone already (dropAll).
func (l *claims) acquireOnce(ctx context.Context) error {
	inc := newIncarnation()
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	sent := time.Now()
	rev, err := l.nodes.Create(rctx, l.leaseKey(), []byte(inc), jetstream.KeyTTL(l.c.cfg.NameTTL))
	if errors.Is(err, jetstream.ErrKeyExists) {
		e, ok, gerr := leaderGet(rctx, l.c.cfg.Conn, natsnode.NodesBucket, l.leaseKey())
		l.mu.Lock()
		last := l.lastInc
		l.mu.Unlock()
		switch {
		case gerr != nil:
			return gerr
		case !ok:
			return fmt.Errorf("cluster: this node's lease changed meanwhile")
		case last == "" || string(e.value) != last:
			return errLeaseHeld
		}
		sent = time.Now()
		rev, err = l.writeLease(rctx, inc, e.rev)
	}
	if err != nil {
		return fmt.Errorf("cluster: taking this node's lease: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inc, l.leaseRev, l.leaseOK = inc, rev, sent
	l.c.log.Info("cluster: this node holds its lease", "node", l.c.cfg.Node, "incarnation", inc)
	return nil
}

// writeLease writes the lease again with a new TTL, if its last sequence is rev.
func (l *claims) writeLease(ctx context.Context, inc string, rev uint64) (uint64, error) {
	msg := &nats.Msg{Subject: "$KV." + natsnode.NodesBucket + "." + l.leaseKey(), Data: []byte(inc)}
	ack, err := l.js.PublishMsg(ctx, msg, jetstream.WithMsgTTL(l.c.cfg.NameTTL), jetstream.WithExpectLastSequencePerSubject(rev))
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// keepLease refreshes the lease every TTL/6 (a write last made that long ago and an election
// of the stream's leader fit in dropAfter), drops every member when it could not for
// dropAfter, and takes a lease again, until the cluster closes.
func (l *claims) keepLease() {
	every := l.c.cfg.NameTTL / 6
	again := max(l.c.cfg.NameTTL/15, 50*time.Millisecond)
	wait := time.NewTimer(every)
	defer wait.Stop()
	for {
		select {
		case <-l.c.ctx.Done():
			return
		case <-wait.C:
		}
		wait.Reset(l.renewLease(every, again))
	}
}

// renewLease makes one attempt at the lease and says when to make the next.
func (l *claims) renewLease(every, again time.Duration) time.Duration {
	l.mu.Lock()
	inc, rev, ok := l.inc, l.leaseRev, l.leaseOK
	l.mu.Unlock()
	if inc == "" {
		ctx, cancel := context.WithTimeout(l.c.ctx, requestTimeout)
		defer cancel()
		if err := l.acquireOnce(ctx); err != nil {
			l.c.log.Debug("cluster: no lease yet", "err", err)
			return again
		}
		return every
	}
	deadline := ok.Add(l.dropAfter())
	if !time.Now().Before(deadline) {
		l.dropAll(inc, "its lease could not be renewed in time")
		return again
	}
	// The attempt ends by the deadline: a request stuck on a lost connection must not keep
	// the members past it.
	ctx, cancel := context.WithDeadline(l.c.ctx, earliest(deadline, time.Now().Add(requestTimeout)))
	defer cancel()
	sent := time.Now()
	newRev, err := l.writeLease(ctx, inc, rev)
	if isWrongSequence(err) {
		// A write whose acknowledgement was lost (it timed out) may have been kept: the
		// lease is still ours if it names this incarnation; write it again at its revision.
		e, found, gerr := leaderGet(ctx, l.c.cfg.Conn, natsnode.NodesBucket, l.leaseKey())
		switch {
		case gerr != nil:
			err = gerr
		case !found || string(e.value) != inc:
			// Expired, or taken by another run: whoever reads it now may take our names.
			l.dropAll(inc, "its lease was lost")
			return again
		default:
			sent = time.Now()
			newRev, err = l.writeLease(ctx, inc, e.rev)
		}
	}
	if err != nil {
		l.c.log.Warn("cluster: this node's lease was not renewed", "err", err,
			"members dropped in", time.Until(deadline).Round(time.Millisecond))
		return min(again, max(time.Until(deadline), time.Millisecond))
	}
	l.mu.Lock()
	if l.inc == inc {
		l.leaseRev, l.leaseOK = newRev, sent
	}
	l.mu.Unlock()
	return every
}

// dropAll gives up the incarnation inc: every member holding a name through it is lost (its
// hub disconnects it), and the node holds no lease until it takes one again.
func (l *claims) dropAll(inc, why string) {
	l.mu.Lock()
	if l.inc != inc {
		l.mu.Unlock()
		return
	}
	holders := make([]uint64, 0, len(l.held))
	for h := range l.held {
		holders = append(holders, h)
	}
	l.held = make(map[uint64]*claim)
	l.freeing = nil // their keys name the old incarnation: free once anyone sees it gone
	l.lastInc, l.inc = inc, ""
	l.mu.Unlock()
	l.c.log.Error("cluster: this node disconnects its members: "+why, "members", len(holders))
	if f := l.lost.Load(); f != nil {
		for _, h := range holders {
			(*f)(h)
		}
	}
}

// releaseLease deletes the lease: what a node stopping does once its names are freed.
func (l *claims) releaseLease(ctx context.Context) {
	l.mu.Lock()
	inc, rev := l.inc, l.leaseRev
	l.inc = ""
	l.mu.Unlock()
	if inc != "" {
		l.nodes.Delete(ctx, l.leaseKey(), jetstream.LastRevision(rev))
	}
}

// entry is a key's live value as its stream's leader has it.
type entry struct {
	value []byte
	rev   uint64
}

// leaderGet reads key of bucket from the leader of the bucket's stream, never from a replica
// (a direct get may answer from one that is behind): a claim decides on what it reads. ok is
// false when the key was never written, or was deleted or expired.
func leaderGet(ctx context.Context, nc *nats.Conn, bucket, key string) (e entry, ok bool, err error) {
	req, _ := json.Marshal(map[string]string{"last_by_subj": "$KV." + bucket + "." + key})
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	msg, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+bucket, req)
	if err != nil {
		return entry{}, false, fmt.Errorf("cluster: reading %s: %w", bucket, err)
	}
	var resp struct {
		Error *struct {
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
		Message *struct {
			Seq    uint64 `json:"seq"`
			Header []byte `json:"hdrs"`
			Data   []byte `json:"data"`
		} `json:"message"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return entry{}, false, fmt.Errorf("cluster: reading %s: %w", bucket, err)
	}
	if resp.Error != nil {
		if resp.Error.ErrCode == int(jetstream.JSErrCodeMessageNotFound) {
			return entry{}, false, nil
		}
		return entry{}, false, fmt.Errorf("cluster: reading %s: %s (code %d)", bucket, resp.Error.Description, resp.Error.ErrCode)
	}
	if resp.Message == nil {
		return entry{}, false, fmt.Errorf("cluster: reading %s: an empty answer", bucket)
	}
	if len(resp.Message.Header) > 0 {
		h, err := nats.DecodeHeadersMsg(resp.Message.Header)
		if err != nil {
			return entry{}, false, fmt.Errorf("cluster: reading %s: %w", bucket, err)
		}
		// A delete or purge marker, or the marker of a key whose TTL ended.
		if h.Get("KV-Operation") != "" || h.Get("Nats-Marker-Reason") != "" {
			return entry{rev: resp.Message.Seq}, false, nil
		}
	}
	return entry{value: resp.Message.Data, rev: resp.Message.Seq}, true, nil
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
