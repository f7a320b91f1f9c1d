package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// FanoutConfig is the fan-out scenario: Users register; the first Senders of them each say
// Msgs lines, at Rate lines per second each (0: as fast as the socket takes them); everyone
// counts what they receive from each sender, in order, and how long it took. With
// Options.RoomSize the users are in rooms of that many, and the first Senders of each room
// say lines there: each user hears the senders of its room only.
type FanoutConfig struct {
	Users, Senders, Msgs int
	Rate                 float64
	RunID                string // makes the names of this run unique
}

// A fan-out message says which run, who sent it, its number, and when:
// "m RUNID SENDER SEQ UNIXNANO". The
// Twisted original shows it as "<b'NAME'> b'm ...'" (Python 3 formats bytes that way), so the
// mark is looked for with and without the b'.
var (
	msgMark      = []byte("> m ")
	msgMarkBytes = []byte("> b'm ")
)

// Fanout returns the fan-out scenario.
func Fanout(cfg FanoutConfig) Scenario {
	return func(ctx context.Context, o Options) (*Result, error) {
		if cfg.Users < 2 || cfg.Senders < 1 || cfg.Senders > cfg.Users || cfg.Msgs < 1 {
			return nil, fmt.Errorf("fanout needs --users >= 2, 1 <= --senders <= --users, --msgs >= 1")
		}
		if o.RoomSize > 0 && (o.Room == "" || cfg.Senders > o.RoomSize) {
			return nil, fmt.Errorf("fanout in rooms needs a room name and --senders <= --room-size")
		}
		d, err := newDialer(o)
		if err != nil {
			return nil, err
		}
		r := newResult("fanout", o.Addr)
		rs := newRoomSenders(cfg.Users, cfg.Senders, o.RoomSize)
		r.SendersPerRoom = cfg.Senders
		r.RoomMembers = make([]int64, rs.rooms)
		var errs errorCounts
		lo, hi := o.share(cfg.Users)

		var (
			mu       sync.Mutex
			conns    = map[int]*lineConn{}     // guarded by mu until registerAll returns
			recvs    []*receiver               // guarded by mu until registerAll returns
			gotFrom  = make([]int64, rs.slots) // guarded by mu
			lastRecv int64                     // guarded by mu
			received atomic.Int64
			reorder  atomic.Int64
			readers  sync.WaitGroup // every receiving goroutine
			pending  sync.WaitGroup // receivers that have not had all they should yet
			latency  = r.hist("delivery")
		)
		err = registerAll(ctx, &o, d, r, &errs, cfg.RunID, lo, hi, 64, func(i int, lc *lineConn) {
			rc := &receiver{id: i, lc: lc, done: pending.Done, base: rs.first(i), senders: cfg.Senders}
			rc.self, _ = rs.senderOf(i)
			rc.want.Store(math.MaxInt64) // until every part has said which senders it has
			pending.Add(1)
			mu.Lock()
			conns[i] = lc
			recvs = append(recvs, rc)
			r.RoomMembers[i/rs.size]++
			mu.Unlock()
			// Receivers read from the start, so that the joins of those after them do not
			// pile up at the server.
			readers.Go(func() {
				lc.c.SetReadDeadline(time.Time{})
				if dl, ok := ctx.Deadline(); ok {
					lc.c.SetReadDeadline(dl)
				}
				from, last, h := rc.receive([]byte(cfg.RunID+" "), &received, &reorder, &errs)
				mu.Lock()
				defer mu.Unlock()
				latency.Merge(h)
				addInto(gotFrom[rc.base:], from)
				lastRecv = max(lastRecv, last)
			})
		})
		if err != nil {
			return nil, err // found before anyone registered
		}
		closeAll := func() {
			for _, lc := range conns {
				lc.close()
			}
			readers.Wait()
		}
		var mine []int // the senders of this part that registered
		attempted := 0
		for i := lo; i < hi; i++ {
			if s, ok := rs.senderOf(i); ok {
				attempted++
				if conns[i] != nil {
					mine = append(mine, s)
				}
			}
		}
		live, err := o.ready(ctx, mine)
		if err != nil {
			closeAll()
			return nil, err
		}
		// Each receiver should have every line of every sender that registered, but its own.
		isLive := make([]bool, rs.slots)
		for _, s := range live {
			if s >= 0 && s < rs.slots {
				isLive[s] = true
			}
		}
		var expected int64
		for _, rc := range recvs {
			n := int64(0)
			for s := rc.base; s < rc.base+rc.senders; s++ {
				if isLive[s] && s != rc.self {
					n += int64(cfg.Msgs)
				}
			}
			expected += n
			rc.setWant(n)
		}

		stop := o.track("fanout", expected, &received)
		var firstSend atomic.Int64
		var senders sync.WaitGroup
		sentBy := make([]int64, rs.slots) // each element written by its sender alone
		for _, s := range mine {
			lc := conns[rs.user(s)]
			senders.Go(func() {
				n, err := send(ctx, lc, s, rs.slots, cfg, &firstSend)
				sentBy[s] = n
				if err != nil {
					errs.add(fmt.Errorf("send: %w", err))
				}
			})
		}
		senders.Wait()
		allIn := make(chan struct{})
		go func() {
			pending.Wait() // every receiver is done by the time closeAll returns
			close(allIn)
		}()
		select {
		case <-allIn:
		case <-ctx.Done():
			errs.add(fmt.Errorf("waiting for deliveries: %w", ctx.Err()))
		}
		closeAll()
		<-allIn
		stop()

		errs.into(r)
		var sent int64
		for _, n := range sentBy {
			sent += n
		}
		r.Counts["lines_attempted"] = int64(attempted) * int64(cfg.Msgs)
		r.Counts["lines_sent"] = sent
		r.Counts["deliveries"] = received.Load()
		r.Counts["reordered"] = reorder.Load()
		r.SentBy, r.GotFrom = sentBy, gotFrom
		r.widen("run", firstSend.Load(), lastRecv)
		return r, nil
	}
}

// receiver is one user of the fan-out as it receives.
type receiver struct {
	id      int
	lc      *lineConn
	base    int          // the first sender of its room
	senders int          // how many senders its room may have, from base
	self    int          // its own number as a sender, or -1
	want    atomic.Int64 // deliveries it should have
	got     atomic.Int64 // deliveries it had
	once    sync.Once
	done    func() // called once: when it has had all it should, or its connection ended
}

// setWant says how many deliveries rc should have.
func (rc *receiver) setWant(n int64) {
	rc.want.Store(n)
	if rc.got.Load() >= n {
		rc.once.Do(rc.done)
	}
}

// receive reads rc's connection until it is closed, checking each sender's order. It keeps
// its counts and latencies to itself while it runs (shared counters would cost more than the
// work measured) and returns them: deliveries from each sender, when the last came, latencies.
//
// Messages start with the run's id, so that lines of other runs (which a server that keeps
// history replays to whoever joins) are not taken for this run's.
func (rc *receiver) receive(runID []byte, progress, reorder *atomic.Int64, errs *errorCounts) (from []int64, last int64, h *Hist) {
	defer rc.once.Do(rc.done)
	h = &Hist{}
	// Only the senders of its room, so that 60,000 users in 600 rooms do not each keep 600.
	from = make([]int64, rc.senders)
	next := make([]int64, rc.senders)
	var got, now, unreported int64
	for {
		if !rc.lc.buffered() {
			now = 0 // the next read waits: take the time afresh after it
		}
		line, err := rc.lc.readLine()
		if err != nil {
			if !rc.lc.closing.Load() && got < rc.want.Load() {
				errs.add(fmt.Errorf("receive: %w", err))
			}
			break
		}
		payload, ours := bytes.CutPrefix(afterMark(line), runID)
		if !ours {
			continue // a join, a leave, a notice, or a line of another run
		}
		sender, seq, sent, ok := parseMsg(payload)
		sender -= rc.base
		if !ok || sender < 0 || sender >= rc.senders {
			continue
		}
		if now == 0 {
			// One clock reading per read from the socket: the lines of one read arrived together.
			now = time.Now().UnixNano()
		}
		h.Record(time.Duration(now - sent))
		if seq < next[sender] {
			reorder.Add(1)
		} else {
			next[sender] = seq + 1
		}
		from[sender]++
		got++
		last = now
		rc.got.Store(got)
		if got >= rc.want.Load() {
			rc.once.Do(rc.done)
		}
		if unreported++; unreported == 256 {
			progress.Add(unreported)
			unreported = 0
		}
	}
	progress.Add(unreported)
	return from, last, h
}

// send says cfg.Msgs numbered, timestamped lines as sender i of slots, and returns how many it
// wrote.
func send(ctx context.Context, lc *lineConn, i, slots int, cfg FanoutConfig, firstSend *atomic.Int64) (int64, error) {
	batch := 64
	if cfg.Rate > 0 {
		batch = 1
	}
	buf := make([]byte, 0, batch*(48+len("PRIVMSG  :")+len(lc.channel)))
	start := time.Now()
	if cfg.Rate > 0 {
		// Spread the paced senders over one interval instead of having them all speak at the
		// same instants, as independent people would.
		start = start.Add(time.Duration(float64(i) / float64(slots) / cfg.Rate * float64(time.Second)))
	}
	firstSend.CompareAndSwap(0, start.UnixNano())
	var sent int64
	for seq := 0; seq < cfg.Msgs; {
		if cfg.Rate > 0 {
			due := start.Add(time.Duration(float64(seq) / cfg.Rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return sent, ctx.Err()
				}
			}
		}
		buf = buf[:0]
		for j := 0; j < batch && seq < cfg.Msgs; j++ {
			if lc.irc {
				buf = append(append(append(buf, "PRIVMSG "...), lc.channel...), " :"...)
			}
			buf = append(append(append(buf, "m "...), cfg.RunID...), ' ')
			buf = strconv.AppendInt(buf, int64(i), 10)
			buf = append(buf, ' ')
			buf = strconv.AppendInt(buf, int64(seq), 10)
			buf = append(buf, ' ')
			buf = strconv.AppendInt(buf, time.Now().UnixNano(), 10)
			buf = append(buf, '\r', '\n')
			seq++
		}
		if dl, ok := ctx.Deadline(); ok {
			lc.c.SetWriteDeadline(dl)
		}
		if err := lc.write(buf); err != nil {
			return sent, err
		}
		sent = int64(seq)
	}
	return sent, nil
}

func afterMark(line []byte) []byte {
	if k := bytes.Index(line, msgMark); k >= 0 {
		return line[k+len(msgMark):]
	}
	if k := bytes.Index(line, msgMarkBytes); k >= 0 {
		return line[k+len(msgMarkBytes):]
	}
	if k := bytes.Index(line, ircMark); k >= 0 {
		return line[k+len(ircMark):]
	}
	return nil
}

// parseMsg parses "SENDER SEQ UNIXNANO".
func parseMsg(b []byte) (sender int, seq, sent int64, ok bool) {
	var nums [3]int64
	for f := range nums {
		n, i := int64(0), 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			n = n*10 + int64(b[i]-'0')
			i++
		}
		if i == 0 {
			return 0, 0, 0, false
		}
		nums[f] = n
		b = b[i:]
		if f < 2 {
			if len(b) == 0 || b[0] != ' ' {
				return 0, 0, 0, false
			}
			b = b[1:]
		}
	}
	return int(nums[0]), nums[1], nums[2], true
}

// roomSenders numbers the senders of a fan-out: the users are in rooms of size (all in one
// when no size is given), the first perRoom of each room send, and sender s is the (s%perRoom)th
// user of room s/perRoom. slots counts the numbers; a last room smaller than perRoom leaves some
// unused.
type roomSenders struct {
	size, perRoom, rooms, slots, users int
}

func newRoomSenders(users, perRoom, size int) roomSenders {
	if size <= 0 || size > users {
		size = users
	}
	rooms := (users + size - 1) / size
	return roomSenders{size: size, perRoom: perRoom, rooms: rooms, slots: rooms * perRoom, users: users}
}

// senderOf returns user i's number as a sender, if it sends.
func (rs roomSenders) senderOf(i int) (int, bool) {
	if i%rs.size >= rs.perRoom {
		return -1, false
	}
	return i/rs.size*rs.perRoom + i%rs.size, true
}

// user returns the user who is sender s.
func (rs roomSenders) user(s int) int { return s/rs.perRoom*rs.size + s%rs.perRoom }

// first returns the number of the first sender of user i's room.
func (rs roomSenders) first(i int) int { return i / rs.size * rs.perRoom }
