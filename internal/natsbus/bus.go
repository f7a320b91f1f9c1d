package natsbus

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"hubbub/internal/chat"
	"hubbub/internal/natsnode"
)

// bus is chat.Bus on the HUBBUB_EVENTS stream.
type bus struct {
	c       *Cluster
	deliver atomic.Pointer[func(chat.Event)] // set by NewBus

	own  jetstream.ConsumeContext // this node's subject and every node's
	mu   sync.Mutex
	subs map[string]*roomSub // room key → its consumer

	seen seen // multi-room events delivered already
}

// roomSub is one room's ordered consumer on this node.
type roomSub struct {
	cc   jetstream.ConsumeContext
	last uint64 // the stream sequence of the last event delivered; read by its callback only
	lag  int64  // what its last message said was pending; read by its callback only
}

func newBus(c *Cluster) *bus {
	return &bus{c: c, subs: make(map[string]*roomSub)}
}

// start reads this node's subject and the one for every node, from now on.
func (b *bus) start(ctx context.Context) error {
	cc, err := b.consume(ctx, []string{nodeSubject(b.c.cfg.Node), everyNode}, &roomSub{})
	if err != nil {
		return fmt.Errorf("cluster: reading this node's events: %w", err)
	}
	b.own = cc
	return nil
}

func (b *bus) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for key, s := range b.subs {
		s.cc.Stop()
		delete(b.subs, key)
	}
	if b.own != nil {
		b.own.Stop()
	}
}

// consume starts an ordered consumer of subjects from the stream's next event on: it refills
// gaps and follows reconnects itself, and its callback runs on one goroutine, in order.
func (b *bus) consume(ctx context.Context, subjects []string, s *roomSub) (jetstream.ConsumeContext, error) {
	cons, err := b.c.js.OrderedConsumer(ctx, natsnode.EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: subjects,
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return nil, err
	}
	return cons.Consume(func(m jetstream.Msg) { b.received(s, m) },
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			b.c.log.Debug("cluster: a consumer", "err", err)
		}))
}

// received hands one event from the stream to the hub, once and in order.
func (b *bus) received(s *roomSub, m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		return
	}
	b.c.lag.Add(int64(md.NumPending) - s.lag)
	s.lag = int64(md.NumPending)
	seq := md.Sequence.Stream
	if seq <= s.last { // delivered again after a reset
		return
	}
	s.last = seq
	id, ev, err := decodeEvent(m.Data())
	if err != nil {
		b.c.log.Warn("cluster: an event cannot be read", "subject", m.Subject(), "err", err)
		return
	}
	// An event about several rooms comes once per room: the first copy is delivered.
	if len(ev.Rooms) > 0 && !b.seen.first(id) {
		return
	}
	ev.Seq = seq
	if deliver := b.deliver.Load(); deliver != nil {
		(*deliver)(ev)
	}
}

// Publish hands ev to JetStream and returns without waiting for its acknowledgement: nobody
// is shown an event before it is in the stream, since every node, this one too, shows what
// its consumers read from there. A failure to keep it is counted and logged.
func (b *bus) Publish(ev chat.Event) error {
	id := b.c.cfg.Node + "." + b.c.boot + "." + strconv.FormatUint(b.c.published.Add(1), 36)
	data, err := encodeEvent(id, ev)
	if err != nil {
		return err
	}
	var subjects []string
	switch {
	case ev.Room != "":
		subjects = []string{roomSubject(ev.Room)}
	case len(ev.Rooms) > 0:
		for _, r := range ev.Rooms {
			subjects = append(subjects, roomSubject(r))
		}
	case ev.To != 0:
		subjects = []string{everyNode} // where the member is, if nobody knows
		if node, ok := b.c.node(ev.To); ok {
			subjects[0] = nodeSubject(node)
		}
	default:
		subjects = []string{everyNode}
	}
	for i, subject := range subjects {
		msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, id+"."+strconv.Itoa(i))
		if _, err := b.c.js.PublishMsgAsync(msg); err != nil {
			b.c.publishFail.Add(1)
			return fmt.Errorf("cluster: publishing an event: %w", err)
		}
	}
	return nil
}

// Subscribe starts reading room's events; it returns once the node will receive every event
// published from then on.
func (b *bus) Subscribe(room string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[room]; ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(b.c.ctx, requestTimeout)
	defer cancel()
	s := &roomSub{}
	cc, err := b.consume(ctx, []string{roomSubject(room)}, s)
	if err != nil {
		return fmt.Errorf("cluster: reading a room: %w", err)
	}
	s.cc = cc
	b.subs[room] = s
	return nil
}

// Unsubscribe stops reading room's events.
func (b *bus) Unsubscribe(room string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.subs[room]; ok {
		s.cc.Stop()
		delete(b.subs, room)
	}
}

// seen remembers the last events about several rooms delivered, by id, so that the copies
// that come through the other rooms are not: a bounded ring, since the copies of one event
// come close together.
type seen struct {
	mu   sync.Mutex
	ids  map[string]struct{}
	ring [4096]string
	next int
}

func (s *seen) first(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return false
	}
	if s.ids == nil {
		s.ids = make(map[string]struct{}, len(s.ring))
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.ids, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % len(s.ring)
	s.ids[id] = struct{}{}
	return true
}
