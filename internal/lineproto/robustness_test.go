package lineproto_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
)

// TestSlowConsumer has one client that never reads while others chat at full speed: everyone
// else gets every line in order, and the one who does not read is disconnected once its socket
// has taken nothing for WriteTimeout.
func TestSlowConsumer(t *testing.T) {
	cfg := testConfig()
	cfg.WriteTimeout = 2 * time.Second
	srv := chattest.Start(t, cfg)

	slow := chattest.Join(t, srv.Addr, "slow")

	const senders, readers = 3, 3
	var clients []*chattest.Client
	for i := range senders + readers {
		clients = append(clients, chattest.Join(t, srv.Addr, fmt.Sprintf("user%d", i)))
	}
	// Let every join announcement arrive before the flood, so each reader's stream is chat only.
	for i, c := range clients {
		for j := i + 1; j < len(clients); j++ {
			c.Expect(fmt.Sprintf("user%d has joined the channel", j))
		}
	}

	// Everyone but "slow" reads. In rounds, so that the readers (slowed by the race detector) never lag by more than a
	// round, well under MaxQueue, while "slow" falls further behind with every round: 8 MB in
	// all, more than its kernel buffers (4 MB here) and MaxQueue together.
	const rounds, perRound = 60, 50
	filler := strings.Repeat(".", 900)
	next := make([]map[string]int, len(clients))
	for r := range next {
		next[r] = make(map[string]int)
	}
	for round := range rounds {
		for s := range senders {
			var batch strings.Builder
			for i := range perRound {
				fmt.Fprintf(&batch, "%d %s\n", round*perRound+i, filler)
			}
			clients[s].Write(batch.String())
		}
		for r, c := range clients {
			want := senders * perRound
			if r < senders {
				want -= perRound // a sender gets no copy of its own lines
			}
			for got := 0; got < want; {
				line := c.ReadLine()
				if line == "slow has left the channel." {
					continue
				}
				var from string
				var n int
				if _, err := fmt.Sscanf(line, "<%s %d", &from, &n); err != nil {
					t.Fatalf("reader %d: unexpected line %.60q", r, line)
				}
				if n != next[r][from] {
					t.Fatalf("reader %d: from %s got line %d, want %d", r, from, n, next[r][from])
				}
				next[r][from]++
				got++
			}
		}
	}

	srv.Logs.WaitFor(t, "connection closed", "name=slow", `reason="write timeout"`)
	// The slow client finds its connection closed once it reads what the kernel held.
	slow.ExpectClosed()
}

// TestPanicClosesOnlyThatConnection makes the server panic while handling one user's line.
func TestPanicClosesOnlyThatConnection(t *testing.T) {
	srv := chattest.Start(t, testConfig(), func(s *lineproto.Server) {
		s.SetTestHookLine(func(line []byte) {
			if string(line) == "boom" {
				panic("test panic")
			}
		})
	})
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")

	bob.Send("boom")
	bob.ExpectClosed()
	alice.Expect("bob has left the channel.")
	line := srv.Logs.WaitFor(t, "panic serving connection", "test panic")
	if !strings.Contains(line, "goroutine") || !strings.Contains(line, "conn.go") {
		t.Errorf("panic log has no stack: %s", line)
	}
	srv.Logs.WaitFor(t, "connection closed", "name=bob", "reason=panic")

	carol := chattest.Join(t, srv.Addr, "carol")
	alice.Expect("carol has joined the channel")
	carol.Send("still here")
	alice.Expect("<carol> still here")
}

func TestShutdownTellsUsers(t *testing.T) {
	srv := chattest.Start(t, testConfig())
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")
	unregistered := chattest.Dial(t, srv.Addr)
	unregistered.Expect("What's your name?")

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		done <- srv.Line.Shutdown(ctx)
	}()
	for _, c := range []*chattest.Client{alice, bob, unregistered} {
		c.Expect("*** server shutting down")
		if rest := c.ExpectClosed(); rest != "" {
			t.Errorf("after the shutdown notice got %q", rest)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := net.DialTimeout("tcp", srv.Addr, time.Second); err == nil {
		t.Error("server still accepts after Shutdown")
	}
	// goleak, in TestMain, checks that no goroutine outlived Shutdown.
}

// TestShutdownDeadline has a client that never reads nor closes: Shutdown gives up waiting for
// it when its context ends, closes it, and still returns with every goroutine stopped.
func TestShutdownDeadline(t *testing.T) {
	srv := chattest.Start(t, testConfig())
	stuck := chattest.Join(t, srv.Addr, "stuck")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	// The client's side stays open, so the graceful wait (up to the linger time) cannot finish
	// within 50ms.
	if err := srv.Line.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want the context's deadline", err)
	}
	stuck.Expect("*** server shutting down")
	stuck.ExpectClosed()
}

// TestWriteTimeout has a client that stops reading while its queue limit is far away: once the
// kernel's buffers are full, a write that makes no progress for WriteTimeout drops it.
func TestWriteTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.MaxQueue = 256 << 20
	cfg.WriteTimeout = 200 * time.Millisecond
	srv := chattest.Start(t, cfg)
	stuck := chattest.Join(t, srv.Addr, "stuck")
	talker := chattest.Join(t, srv.Addr, "talker")
	stuck.Expect("talker has joined the channel")

	filler := strings.Repeat("w", 1000)
	// Far more than the kernel holds for one connection here (a few MB), far less than MaxQueue.
	// Each line differs: repeated lines would be collapsed into a count.
	for i := range 200 {
		var batch strings.Builder
		for j := range 100 {
			fmt.Fprintf(&batch, "%d %s\n", i*100+j, filler)
		}
		talker.Write(batch.String())
	}
	srv.Logs.WaitFor(t, "connection closed", "name=stuck", `reason="write timeout"`)
	stuck.ExpectClosed()
}

// TestShutdownDuringTraffic shuts down while lines pour out to a user: what was queued before
// the notice arrives whole and in order, then the notice, then the end.
func TestShutdownDuringTraffic(t *testing.T) {
	for range 5 {
		srv := chattest.Start(t, testConfig())
		alice := chattest.Join(t, srv.Addr, "alice")
		bob := chattest.Join(t, srv.Addr, "bob")
		alice.Expect("bob has joined the channel")
		var flood strings.Builder
		for i := range 2000 {
			fmt.Fprintf(&flood, "line %d\n", i)
		}
		bob.Write(flood.String())
		alice.Expect("<bob> line 0")
		done := make(chan error, 1)
		go func() { done <- srv.Line.Shutdown(context.Background()) }()
		next := 1
		for {
			line := alice.ReadLine()
			if line == "*** server shutting down" {
				break
			}
			if want := fmt.Sprintf("<bob> line %d", next); line != want {
				t.Fatalf("got %q, want %q", line, want)
			}
			next++
		}
		if rest := alice.ExpectClosed(); rest != "" {
			t.Fatalf("after the notice: %q", rest)
		}
		bob.Conn.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestHeldOutput holds every connection back after each flush, as a storm does: a user's own
// input still gets its answer at once, with what was held, and shutdown sends what is held.
func TestHeldOutput(t *testing.T) {
	srv := chattest.Start(t, testConfig(), func(s *lineproto.Server) { s.SetTestHold(time.Hour) })
	// Registering is a conversation with the server, never held.
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")

	// alice was flushed a moment ago (her welcome), so bob's join waits for her next turn.
	alice.ExpectSilence(100 * time.Millisecond)
	alice.Send("hello")
	alice.Expect("bob has joined the channel")

	// bob's own line: what was held for him comes as its answer, and by then his line waits,
	// held, in alice's queue.
	bob.Send("hi alice")
	bob.Expect("<alice> hello")

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		done <- srv.Line.Shutdown(ctx)
	}()
	alice.Expect("<bob> hi alice")
	for _, c := range []*chattest.Client{alice, bob} {
		// The other may be closed first, and leave, before this one is told.
		line := c.ReadLine()
		if strings.HasSuffix(line, "has left the channel.") {
			line = c.ReadLine()
		}
		if line != "*** server shutting down" {
			t.Fatalf("got %q, want the shutdown notice", line)
		}
		c.ExpectClosed()
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestLargeBacklog holds a connection's output until more than a writev can take (1024
// blocks) is queued, then lets it go: it all arrives, in order.
func TestLargeBacklog(t *testing.T) {
	cfg := testConfig()
	cfg.MaxQueue = 8 << 20
	srv := chattest.Start(t, cfg, func(s *lineproto.Server) { s.SetTestHold(time.Hour) })
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	// alice was flushed a moment ago (her welcome): what comes for her now is held.
	filler := strings.Repeat("b", 1000)
	var flood strings.Builder
	for i := range 2000 { // 2 MB
		fmt.Fprintf(&flood, "%d %s\n", i, filler)
	}
	bob.Write(flood.String())
	bob.Send("/who") // a round trip: bob's lines are all in alice's queue after it
	bob.Expect("*** #lobby (2): alice, bob")
	alice.Send("let it go") // her own input: what is held for her goes out as its answer
	alice.Expect("bob has joined the channel")
	for i := range 2000 {
		alice.Expect(fmt.Sprintf("<bob> %d %s", i, filler))
	}
}
