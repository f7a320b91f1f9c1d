package natsbus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"hubbub/internal/chat"
	"hubbub/internal/natsnode"
)

// How a consumer's pull requests last, and how often the server says it is alive meanwhile.
const (
	consumerExpiry    = 4 * time.Second
	consumerHeartbeat = time.Second
)

// bus is chat.Bus on the HUBBUB_EVENTS stream.
type bus struct {
	c       *Cluster
	deliver atomic.Pointer[func(chat.Event)] // set by NewBus

	mu   sync.Mutex
	own  *consumer            // this node's subject and every node's
	subs map[string]*consumer // room key → its consumer
	// making: room key → the Prepare in flight; its other joiners wait for it rather than each
	// making a consumer (a hundred joiners of a new room would make a hundred, under a storm
	// enough to time the JetStream API out).
	making map[string]*making

	renewals chan *consumer // consumers to make again, by renew
	seen     seen           // multi-room events delivered already
}

// making is a room's consumer being made by Prepare.
type making struct {
	done chan struct{} // closed once err is set
	err  error
}

// consumer reads some subjects of the stream in order: a JetStream ordered consumer, made
// again by the bus from where it was when it fails (see renew).
type consumer struct {
	subjects []string
	start    uint64 // the stream sequence it started at

	cc jetstream.ConsumeContext // guarded by bus.mu
	// Which making of it cc is, and whether it is stopped for good: changed under bus.mu, read
	// without it by nats.go's error callback, which runs holding the ordered consumer's own
	// lock while cc.Stop (called under bus.mu) waits for that lock.
	gen     atomic.Int64
	stopped atomic.Bool

	// A room's consumer made by Prepare is unclaimed until Subscribe takes it; one left
	// unclaimed (the join that prepared it failed, or lost a race) is stopped by sweep.
	claimed  bool      // guarded by bus.mu
	prepared time.Time // guarded by bus.mu

	mu   sync.Mutex // held while an event is delivered: an old consumer's last callback may overlap a new one's first
	last uint64     // the stream sequence of the last event delivered
	lag  int64      // what its last message said was pending
}

func newBus(c *Cluster) *bus {
	return &bus{c: c, subs: make(map[string]*consumer), making: make(map[string]*making), renewals: make(chan *consumer, 1024)}
}

// start reads this node's subject and the one for every node, from now on.
func (b *bus) start(ctx context.Context) error {
	own, err := b.consume(ctx, []string{nodeSubject(b.c.cfg.Node), everyNode})
	if err != nil {
		return fmt.Errorf("cluster: reading this node's events: %w", err)
	}
	b.own = own
	return nil
}

func (b *bus) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for key, s := range b.subs {
		b.stopLocked(s)
		delete(b.subs, key)
	}
	if b.own != nil {
		b.stopLocked(b.own)
	}
}

func (b *bus) stopLocked(s *consumer) {
	s.stopped.Store(true)
	s.cc.Stop()
	s.mu.Lock()
	b.c.lag.Add(-s.lag)
	s.lag = 0
	s.mu.Unlock()
}

// consume starts reading subjects from the stream's next event on. It starts at a sequence
// rather than at "new", since a consumer made again before it delivered anything must start
// where it was told to, and "new" would then skip what came meanwhile.
func (b *bus) consume(ctx context.Context, subjects []string) (*consumer, error) {
	stream, err := b.c.js.Stream(ctx, natsnode.EventsStream)
	if err != nil {
		return nil, err
	}
	s := &consumer{subjects: subjects, start: stream.CachedInfo().State.LastSeq + 1}
	cc, err := b.open(ctx, s, s.start, 0)
	if err != nil {
		return nil, err
	}
	s.cc = cc
	return s, nil
}

// open makes the gen-th JetStream ordered consumer for s, from the stream sequence from on:
// it refills gaps and follows reconnects itself, and its callback runs on one goroutine, in
// order. Whatever stops it for good (its server gone, the stream without a leader for a
// while) has the bus make it again (renew).
func (b *bus) open(ctx context.Context, s *consumer, from uint64, gen int64) (jetstream.ConsumeContext, error) {
	cons, err := b.c.js.OrderedConsumer(ctx, natsnode.EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects:   s.subjects,
		DeliverPolicy:    jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:      from,
		MaxResetAttempts: 1, // then renew takes over, trying more often than nats.go would
	})
	if err != nil {
		return nil, err
	}
	return cons.Consume(func(m jetstream.Msg) { b.received(s, m) },
		// A consumer lost with its server is noticed by missed heartbeats: two of these. A
		// short beat keeps the pause users see when a NATS server dies to a few seconds.
		jetstream.PullExpiry(consumerExpiry), jetstream.PullHeartbeat(consumerHeartbeat),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			b.c.log.Debug("cluster: a consumer", "err", err)
			if errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, jetstream.ErrServerShutdown) ||
				errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) ||
				errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) {
				if s.gen.Load() == gen && !s.stopped.Load() {
					select {
					case b.renewals <- s:
					default: // a renewal is on its way
					}
				}
			}
		}))
}

// renew makes consumers again, from the event after the last one they delivered, and
// sweeps unclaimed ones, until the cluster closes.
func (b *bus) renew() {
	tick := time.NewTicker(preparedFor / 2)
	defer tick.Stop()
	for {
		select {
		case <-b.c.ctx.Done():
			return
		case s := <-b.renewals:
			b.reopen(s)
		case now := <-tick.C:
			b.sweep(now)
		}
	}
}

func (b *bus) reopen(s *consumer) {
	b.mu.Lock()
	if s.stopped.Load() {
		b.mu.Unlock()
		return
	}
	gen := s.gen.Add(1)
	s.cc.Stop()
	b.mu.Unlock()
	s.mu.Lock()
	from := max(s.last+1, s.start)
	s.mu.Unlock()
	b.c.renewals.Add(1)
	for {
		if s.stopped.Load() {
			return
		}
		ctx, cancel := context.WithTimeout(b.c.ctx, requestTimeout)
		cc, err := b.open(ctx, s, from, gen)
		cancel()
		if err == nil {
			b.mu.Lock()
			if s.stopped.Load() || s.gen.Load() != gen {
				cc.Stop()
			} else {
				s.cc = cc
			}
			b.mu.Unlock()
			return
		}
		select {
		case <-b.c.ctx.Done():
			return
		case <-time.After(renewEvery):
		}
	}
}

// renewEvery is how long renew waits between tries to make a consumer again.
const renewEvery = 250 * time.Millisecond

// received hands one event from the stream to the hub, once and in order.
func (b *bus) received(s *consumer, m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
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

// Prepare makes the consumer of room's events ahead of Subscribe, with no lock of the hub's
// held: making one is two JetStream requests, which must not stall every member of this node
// while the hub's lock waits on them (chat calls it before a join that makes a room).
func (b *bus) Prepare(room string) error {
	b.mu.Lock()
	if _, ok := b.subs[room]; ok {
		b.mu.Unlock()
		return nil
	}
	if m := b.making[room]; m != nil {
		b.mu.Unlock()
		<-m.done // bounded by the maker's request timeout
		return m.err
	}
	m := &making{done: make(chan struct{})}
	b.making[room] = m
	b.mu.Unlock()
	m.err = b.prepare(room)
	b.mu.Lock()
	delete(b.making, room)
	b.mu.Unlock()
	close(m.done)
	return m.err
}

func (b *bus) prepare(room string) error {
	ctx, cancel := context.WithTimeout(b.c.ctx, requestTimeout)
	defer cancel()
	s, err := b.consume(ctx, []string{roomSubject(room)})
	if err != nil {
		return fmt.Errorf("cluster: reading a room: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[room]; ok || b.c.ctx.Err() != nil {
		b.stopLocked(s) // another join made it meanwhile, or the bus stopped
		return nil
	}
	s.prepared = time.Now()
	b.subs[room] = s
	return nil
}

// Subscribe starts reading room's events; it returns once the node will receive every event
// published from then on. After Prepare it only takes the prepared consumer; without one
// (a join that raced with the room's end) it makes it, waiting on JetStream.
func (b *bus) Subscribe(room string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.subs[room]; ok {
		s.claimed = true
		return nil
	}
	ctx, cancel := context.WithTimeout(b.c.ctx, requestTimeout)
	defer cancel()
	s, err := b.consume(ctx, []string{roomSubject(room)})
	if err != nil {
		return fmt.Errorf("cluster: reading a room: %w", err)
	}
	s.claimed = true
	b.subs[room] = s
	return nil
}

// preparedFor is how long a prepared consumer waits for its Subscribe before sweep stops it.
const preparedFor = 30 * time.Second

// sweep stops the consumers Prepare made that no Subscribe took in time.
func (b *bus) sweep(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for room, s := range b.subs {
		if !s.claimed && now.Sub(s.prepared) > preparedFor {
			b.stopLocked(s)
			delete(b.subs, room)
		}
	}
}

// Unsubscribe stops reading room's events.
func (b *bus) Unsubscribe(room string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.subs[room]; ok {
		b.stopLocked(s)
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
