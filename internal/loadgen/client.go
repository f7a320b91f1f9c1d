package loadgen

import (
	"bufio"

	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// lineConn is one chat connection of the load generator.
type lineConn struct {
	c *net.TCPConn // the TCP connection (under the WebSocket, when ws is set)
	r *bufio.Reader

	ws        *wsClient // set for a connection to /ws
	wsLine    []byte    // the line readLine made of the last event
	wsPending []wsEvent // events of the last message not read yet

	irc     bool   // the lines are IRC messages (ircconn.go)
	nick    string // an IRC connection's nick
	channel string // the channel an IRC connection's chat lines go to

	closing atomic.Bool // set by close, so that readers take the error that follows for ours
}

// write sends p, one or more lines.
func (lc *lineConn) write(p []byte) error {
	if lc.ws != nil {
		return lc.writeWS(p)
	}
	_, err := lc.c.Write(p)
	return err
}

// close closes the connection.
func (lc *lineConn) close() {
	lc.closing.Store(true)
	if lc.ws != nil {
		lc.ws.CloseNow()
	}
	lc.c.Close()
}

// buffered reports whether a line can be read without waiting for the network.
func (lc *lineConn) buffered() bool {
	if lc.ws != nil {
		return len(lc.wsPending) > 0 || lc.ws.br.Buffered() > 0
	}
	return lc.r != nil && lc.r.Buffered() > 0
}

// readLine returns the next line without its line end. It is valid until the next read.
func (lc *lineConn) readLine() ([]byte, error) {
	if lc.ws != nil {
		return lc.readWSLine()
	}
	if lc.irc {
		return lc.readIRCLine()
	}
	return lc.readRawLine()
}

// readRawLine returns the next line of the TCP stream without its line end.
func (lc *lineConn) readRawLine() ([]byte, error) {
	line, err := lc.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		// A line longer than the buffer: skip the rest of it.
		for err == bufio.ErrBufferFull {
			_, err = lc.r.ReadSlice('\n')
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

// register connects user i (whose number picks the address) and answers the name prompt with name, as the original chat expects.
// Lines before the welcome other than the prompt (another user's join) are skipped; a refusal
// or "name taken" is returned as a *serverSaid error.
func register(ctx context.Context, d *dialer, i int, name string) (*lineConn, error) {
	if d.irc {
		return registerIRC(ctx, d, i, name)
	}
	lc, err := d.connect(ctx, i)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	c := lc.c
	if dl, ok := ctx.Deadline(); ok {
		c.SetReadDeadline(dl)
	}
	prompted := false
	for {
		line, err := lc.readLine()
		if err != nil {
			lc.close()
			return nil, fmt.Errorf("register: %w", err)
		}
		switch {
		case !prompted && bytes.HasPrefix(line, []byte("What's your name?")):
			prompted = true
			c.SetWriteDeadline(time.Now().Add(d.timeout))
			if err := lc.write([]byte(name + "\r\n")); err != nil {
				lc.close()
				return nil, fmt.Errorf("register: %w", err)
			}
		case prompted && bytes.HasPrefix(line, []byte("Welcome")):
			return lc, nil
		case bytes.HasPrefix(line, []byte("*")), bytes.HasPrefix(line, []byte("name taken")):
			lc.close()
			return nil, &serverSaid{line: string(line)}
		}
	}
}

// tracker reports the progress of a phase every so often until stopped.
func (o *Options) track(phase string, total int64, done *atomic.Int64) (stop func()) {
	if o.Progress == nil {
		return func() {}
	}
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			o.Progress(phase, done.Load(), total)
			select {
			case <-t.C:
			case <-quit:
				o.Progress(phase, done.Load(), total)
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
	}
}

// registerAll connects and registers the users lo..hi-1 (at most inFlight at once), calling
// started with each one that registered. With o.Room, each joins that room first when the
// server has rooms (with o.RoomSize, its room of that many, then leaves the lobby);
// registration then ends when it has joined. Registration latencies go into r. The error is
// that of finding out whether the server has rooms.
func registerAll(ctx context.Context, o *Options, d *dialer, r *Result, errs *errorCounts,
	runID string, lo, hi, inFlight int, started func(i int, lc *lineConn)) error {
	room := ""
	if o.Room != "" && hi > lo && o.IRC {
		room, r.Room = o.Room, o.Room // IRC has channels
	} else if o.Room != "" && hi > lo {
		rooms, err := hasRooms(ctx, d, o.Room, runID, o.Part)
		if err != nil {
			return err
		}
		switch {
		case rooms:
			room = o.Room
			r.Room = o.Room
		case o.RoomSize > 0:
			return fmt.Errorf("rooms of %d: the server has no rooms", o.RoomSize)
		default:
			r.Room = "-" // asked for, and the server has none
		}
	}
	var done atomic.Int64
	stop := o.track("register", int64(hi-lo), &done)
	defer stop()
	hist := r.hist("register")
	var first, last atomic.Int64
	forEach(ctx, lo, hi, inFlight, errs, func(i int) {
		t0 := time.Now()
		first.CompareAndSwap(0, t0.UnixNano())
		lc, err := register(ctx, d, i, fmt.Sprintf("b%s-%d", runID, i))
		if err != nil {
			errs.add(err)
			return
		}
		if room != "" {
			dl, _ := ctx.Deadline()
			var err error
			if lc.irc {
				err = joinIRC(lc, o.roomOf(room, i), dl)
				if err == nil && o.RoomSize > 0 {
					err = partIRC(lc, "#lobby", dl)
				}
			} else {
				err = join(lc, o.roomOf(room, i), dl, "")
				if err == nil && o.RoomSize > 0 {
					err = leaveLobby(lc, dl)
				}
			}
			if err != nil {
				lc.close()
				errs.add(err)
				return
			}
		}
		now := time.Now()
		hist.Record(now.Sub(t0))
		storeMax(&last, now.UnixNano())
		done.Add(1)
		started(i, lc)
	})
	r.Counts["conns_attempted"] += int64(hi - lo)
	r.Counts["registered"] += done.Load()
	r.widen("register", first.Load(), last.Load())
	return nil
}

// roomOf returns the room user i joins: room itself, or with o.RoomSize its room of that many.
func (o *Options) roomOf(room string, i int) string {
	if o.RoomSize <= 0 {
		return room
	}
	return fmt.Sprintf("%s-%d", room, i/o.RoomSize)
}

// leaveLobby says /part #lobby on lc and reads until the server says the user left it, so
// that the joins of everyone after it do not reach it: in rooms, a user hears only its room.
func leaveLobby(lc *lineConn, deadline time.Time) error {
	lc.c.SetDeadline(deadline)
	if err := lc.write([]byte("/part #lobby\r\n")); err != nil {
		return fmt.Errorf("/part #lobby: %w", err)
	}
	for {
		line, err := lc.readLine()
		if err != nil {
			return fmt.Errorf("/part #lobby: %w", err)
		}
		switch {
		case bytes.HasPrefix(line, []byte("*** you left #lobby")):
			return nil
		case bytes.HasPrefix(line, []byte("*** #lobby is your only room")), bytes.HasPrefix(line, []byte("*** you are not in #lobby")):
			return &serverSaid{line: string(line)}
		}
	}
}

// forEach runs fn(i) for i in lo..hi-1, at most limit at once, and returns when all are done.
// Those not started before ctx ends are counted as errors.
func forEach(ctx context.Context, lo, hi, limit int, errs *errorCounts, fn func(i int)) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := lo; i < hi; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs.add(ctx.Err())
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
	}
	wg.Wait()
}

// storeMax makes a hold at least v.
func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}
