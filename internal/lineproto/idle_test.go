package lineproto_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"hubbub/internal/chattest"
)

// goroutinesBelow waits until the process runs fewer than n goroutines (the test's clients
// hold none of their own, so what is left is the server's), or until stop says to give up.
func goroutinesBelow(t *testing.T, n int, what string, stop ...func() bool) {
	t.Helper()
	chattest.WaitFor(t, fmt.Sprintf("%s: fewer than %d goroutines", what, n), func() bool {
		for _, f := range stop {
			if f() {
				return true
			}
		}
		return runtime.NumGoroutine() < n
	})
}

// An idle registered connection holds no goroutine: 1,000 of them, registered and quiet,
// leave the server with about as many goroutines as it had without them. Then every one of
// them talks at once, and every line reaches the room.
func TestIdleConnectionsHoldNoGoroutine(t *testing.T) {
	const users = 1000
	srv := chattest.Start(t, testConfig())
	listener := chattest.Join(t, srv.Addr, "listener")
	base := runtime.NumGoroutine()

	clients := make([]*chattest.Client, users)
	for i := range clients {
		clients[i] = chattest.Dial(t, srv.Addr)
		clients[i].Send(fmt.Sprintf("u%d", i))
	}
	for i, c := range clients {
		// Each is welcomed, and told of the joins after its own, which it leaves unread.
		c.Expect("What's your name?", fmt.Sprintf("Welcome, u%d!", i))
	}
	// Margin: flushers and a writer or two still at work on the join announcements.
	goroutinesBelow(t, base+users/10, "1,000 idle registered connections")

	// All at once: each wakes its own worker.
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Conn.SetWriteDeadline(time.Now().Add(chattest.Timeout))
			fmt.Fprintf(c.Conn, "line from u%d\r\n", i)
		}()
	}
	wg.Wait()
	said := make(map[string]bool, users)
	for len(said) < users {
		line := listener.ReadLine()
		if strings.HasSuffix(line, "has joined the channel") {
			continue
		}
		var from, again string
		if _, err := fmt.Sscanf(line, "<%s line from %s", &from, &again); err != nil || from != again+">" {
			t.Fatalf("listener got %q", line)
		}
		if said[again] {
			t.Fatalf("listener got %q twice", line)
		}
		said[again] = true
	}
	goroutinesBelow(t, base+users/10, "1,000 connections idle again")
}

// Connections closed and opened again at once reuse the same descriptor numbers on the
// server: each line still reaches the session of the connection it came on, and each
// connection's end is its own.
func TestDescriptorReuse(t *testing.T) {
	const workers, rounds = 4, 40
	srv := chattest.Start(t, testConfig())
	listener := chattest.Join(t, srv.Addr, "listener")

	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				name := fmt.Sprintf("w%dr%d", w, r)
				c, err := net.DialTimeout("tcp", srv.Addr, chattest.Timeout)
				if err != nil {
					t.Error(err)
					return
				}
				c.SetWriteDeadline(time.Now().Add(chattest.Timeout))
				if _, err := io.WriteString(c, name+"\r\nfrom "+name+"\r\n"); err != nil {
					t.Error(err)
				}
				// At once: the server reads the name, the line and the end together. Half
				// closed, not closed: what the server sent unread would make the end a reset,
				// which may drop what the server has not read yet.
				c.(*net.TCPConn).CloseWrite()
				c.SetReadDeadline(time.Now().Add(chattest.Timeout))
				if _, err := io.Copy(io.Discard, c); err != nil {
					t.Error(err)
				}
				c.Close()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	said := make(map[string]bool)
	left := make(map[string]bool)
	for len(said) < workers*rounds || len(left) < workers*rounds {
		line := listener.ReadLine()
		var name, from string
		switch {
		case strings.HasSuffix(line, " has joined the channel"):
		case strings.HasSuffix(line, " has left the channel."):
			name = strings.TrimSuffix(line, " has left the channel.")
			if left[name] {
				t.Fatalf("%s left twice", name)
			}
			left[name] = true
		default:
			if _, err := fmt.Sscanf(line, "<%s from %s", &name, &from); err != nil || name != from+">" {
				t.Fatalf("listener got %q: a line reached another session", line)
			}
			said[from] = true
		}
	}
}

// A connection that closes while its worker is busy with what it sent ends once, whatever the
// worker was doing: its lines up to the end are said, it leaves, and no goroutine is left
// for it.
func TestCloseWhileWorkerRuns(t *testing.T) {
	srv := chattest.Start(t, testConfig())
	listener := chattest.Join(t, srv.Addr, "listener")
	base := runtime.NumGoroutine()
	for i := range 5 {
		name := fmt.Sprintf("burst%d", i)
		c := chattest.Join(t, srv.Addr, name)
		var burst strings.Builder
		for j := range 2000 {
			fmt.Fprintf(&burst, "%d\n", j)
		}
		c.Write(burst.String())
		c.Conn.Close()
		for next := 0; ; {
			line := listener.ReadLine()
			if line == name+" has joined the channel" {
				continue
			}
			if line == name+" has left the channel." {
				break
			}
			if want := fmt.Sprintf("<%s> %d", name, next); line != want {
				t.Fatalf("got %q, want %q", line, want)
			}
			next++
		}
		srv.Logs.WaitFor(t, "connection closed", "name="+name)
	}
	goroutinesBelow(t, base+10, "every burst connection gone")
}

// The registration deadline fires without a goroutine per connection: 300 clients that never
// give a name wait with none, and each is told and closed when its time is up.
func TestRegisterTimeoutWhileParked(t *testing.T) {
	const clients = 300
	cfg := testConfig()
	cfg.RegisterTimeout = 4 * time.Second
	srv := chattest.Start(t, cfg)
	base := runtime.NumGoroutine()
	var cs []*chattest.Client
	for range clients {
		c := chattest.Dial(t, srv.Addr)
		c.Expect("What's your name?")
		cs = append(cs, c)
	}
	timedOut := false
	goroutinesBelow(t, base+clients/10, "300 connections waiting for a name", func() bool {
		timedOut = timedOut || strings.Contains(srv.Logs.String(), "register timeout")
		return timedOut
	})
	if timedOut {
		t.Fatalf("never fewer than %d goroutines before the first connection timed out: a goroutine per waiting connection (or a machine too slow for this timeout)", base+clients/10)
	}
	for _, c := range cs {
		c.Expect("*** timed out waiting for your name, goodbye")
		c.ExpectClosed()
	}
	srv.Logs.WaitFor(t, "connection closed", `reason="register timeout"`)
}

// Shutdown with thousands of idle connections ends promptly: each is told, and closed once
// its client closes or its linger is over; no goroutine outlives it (goleak, in TestMain).
func TestShutdownManyIdle(t *testing.T) {
	const idle = 3000
	srv := chattest.Start(t, testConfig())
	alice := chattest.Join(t, srv.Addr, "alice")
	var cs []*chattest.Client
	for range idle {
		c := chattest.Dial(t, srv.Addr)
		cs = append(cs, c)
	}
	for _, c := range cs {
		c.Expect("What's your name?")
	}
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Line.Shutdown(ctx) }()
	alice.Expect("*** server shutting down")
	alice.ExpectClosed()
	// The others never close their side: their linger ends them.
	if err := <-done; err != nil {
		t.Fatalf("Shutdown with %d idle connections: %v", idle, err)
	}
	for _, c := range cs[:10] {
		c.Expect("*** server shutting down")
		c.ExpectClosed()
	}
}
