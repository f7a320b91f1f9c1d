package lineproto_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
)

// throttled reads from a connection no faster than rate bytes a second, as a slow link does.
type throttled struct {
	conn  net.Conn
	rate  int
	start time.Time
	total int
}

func (r *throttled) Read(p []byte) (int, error) {
	if r.start.IsZero() {
		r.start = time.Now()
	}
	r.conn.SetReadDeadline(time.Now().Add(chattest.Timeout))
	n, err := r.conn.Read(p[:min(len(p), 16<<10)])
	r.total += n
	// Sleep until the bytes read so far are due at rate.
	// A slow link: wait until the bytes read so far are due at rate.
	<-time.After(time.Until(r.start.Add(time.Duration(r.total) * time.Second / time.Duration(r.rate))))
	return n, err
}

// slowReader joins as name and reads at rate bytes a second.
func slowReader(t *testing.T, addr, name string, rate int) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := chattest.Join(t, addr, name)
	return c.Conn, bufio.NewReaderSize(&throttled{conn: c.Conn, rate: rate}, 16<<10)
}

// TestSlowReaderSkips has a reader at 64 KB/s in a room where ten senders, each within the line
// rate, say more than that: it stays connected, is told once per stretch of falling behind how
// many lines it missed (the exact number, where it missed them), and gets every private message.
func TestSlowReaderSkips(t *testing.T) {
	cfg := lineprotoConfigForSlowReaders()
	// Small kernel buffers, so that the backlog piles up in the server's queue within seconds.
	srv := chattest.Start(t, cfg, func(s *lineproto.Server) { s.SetTestSendBuffer(32 << 10) })
	conn, victim := slowReader(t, srv.Addr, "victim", 64<<10)
	pm := chattest.Join(t, srv.Addr, "pm")

	const senders = 10
	var clients []*chattest.Client
	for i := range senders {
		c := chattest.Join(t, srv.Addr, fmt.Sprintf("s%d", i))
		clients = append(clients, c)
		// Senders read everything, so that only the victim is slow.
		go io.Copy(io.Discard, c.Conn)
	}
	// pm reads everything too, and says when it has seen the last line of a sender.
	const perSender, perSecond, privates = 300, 80, 20
	lastSeen := make(chan struct{}, 100)
	pm.Conn.SetReadDeadline(time.Time{})
	go func() {
		sc := bufio.NewScanner(pm.Conn)
		for sc.Scan() {
			var from, ep, n int
			if _, err := fmt.Sscanf(sc.Text(), "<s%d> %d %d %d", &from, &ep, &from, &n); err == nil && n == perSender-1 {
				lastSeen <- struct{}{}
			}
		}
	}()
	// What the victim was told of the others' joins.
	readUntil(t, victim, fmt.Sprintf("s%d has joined the channel", senders-1))

	filler := strings.Repeat("x", 1000)
	for episode := range 2 {
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Go(func() {
				tick := time.NewTicker(time.Second / perSecond)
				defer tick.Stop()
				for n := range perSender {
					<-tick.C
					c.Conn.SetWriteDeadline(time.Now().Add(chattest.Timeout))
					if _, err := fmt.Fprintf(c.Conn, "%d %d %d %s\r\n", episode, i, n, filler); err != nil {
						t.Errorf("sender %d: %v", i, err)
						return
					}
				}
			})
		}
		wg.Go(func() {
			pace := time.NewTicker(perSender * time.Second / perSecond / privates)
			defer pace.Stop()
			for k := range privates {
				<-pace.C
				pm.Conn.SetWriteDeadline(time.Now().Add(chattest.Timeout))
				fmt.Fprintf(pm.Conn, "/msg victim %d %d\r\n", episode, k)
			}
		})
		wg.Wait()
		// Every line is in the room before the last private message.
		for range senders {
			select {
			case <-lastSeen:
			case <-time.After(chattest.Timeout):
				t.Fatal("the senders' last lines never reached pm")
			}
		}
		pm.Send(fmt.Sprintf("/msg victim end %d", episode))

		last := make([]int, senders) // the last line seen of each sender
		for i := range last {
			last[i] = -1
		}
		notices, told, missed, nextPM := 0, 0, 0, 0
		// Where the notice came: the last line of each sender before it, the first after it.
		var before, after []int
		for {
			line := readLine(t, victim)
			if line == fmt.Sprintf("[PM from pm] end %d", episode) {
				break
			}
			if rest, ok := strings.CutPrefix(line, "[PM from pm] "); ok {
				if want := fmt.Sprintf("%d %d", episode, nextPM); rest != want {
					t.Fatalf("episode %d: got private message %q, want %q", episode, rest, want)
				}
				nextPM++
				continue
			}
			if n, ok := strings.CutSuffix(line, " lines skipped: you read slower than this room talks; /history to catch up"); ok {
				notices++
				if told, _ = strconv.Atoi(strings.TrimPrefix(n, "*** ")); told <= 0 {
					t.Fatalf("bad notice %q", line)
				}
				before, after = slices.Clone(last), slices.Repeat([]int{perSender}, senders)
				continue
			}
			var ep, from, n int
			if _, err := fmt.Sscanf(line, "<s%d> %d %d %d", &from, &ep, &from, &n); err != nil || ep != episode {
				t.Fatalf("episode %d: unexpected line %.60q", episode, line)
			}
			if n <= last[from] {
				t.Fatalf("sender %d: line %d after line %d", from, n, last[from])
			}
			missed += n - last[from] - 1
			last[from] = n
			if after != nil && after[from] == perSender {
				after[from] = n
			}
		}
		for _, n := range last {
			missed += perSender - 1 - n // the last lines of a sender may be skipped too
		}
		t.Logf("episode %d: %d lines missed", episode, missed)
		if notices == 1 {
			// The lines skipped are the oldest queued, so the notice stands where they were: they
			// are among the lines missing between the ones around it.
			around := 0
			for from := range senders {
				around += after[from] - before[from] - 1
			}
			t.Logf("episode %d: the notice says %d lines skipped; %d missing around it", episode, told, around)
			if told > around {
				t.Fatalf("episode %d: the notice says %d lines skipped, but only %d are missing there", episode, told, around)
			}
		}
		switch {
		case episode == 0 && missed == 0:
			t.Fatal("episode 0: nothing was skipped: the room did not outrun the reader")
		case missed > 0 && notices != 1, missed == 0 && notices != 0:
			// (On a badly loaded machine the second episode's senders can be so slow that the
			// reader's queue never fills: then nothing is skipped, and nothing must be told.)
			t.Fatalf("episode %d: %d notices for %d lines missed, want one a stretch", episode, notices, missed)
		}
		if nextPM != privates {
			t.Fatalf("episode %d: got %d private messages, want %d", episode, nextPM, privates)
		}
	}
	conn.SetReadDeadline(time.Time{})
	if logs := srv.Logs.String(); strings.Contains(logs, "name=victim") && strings.Contains(logs, "connection closed") {
		for _, l := range strings.Split(logs, "\n") {
			if strings.Contains(l, "name=victim") && strings.Contains(l, "connection closed") {
				t.Fatalf("the slow reader was disconnected: %s", l)
			}
		}
	}
}

func lineprotoConfigForSlowReaders() lineproto.Config {
	cfg := testConfig()
	cfg.MaxQueue = 64 << 10
	cfg.LineRate = 100 // each sender stays within it
	cfg.LineBurst = 100
	// The victim of TestSlowReaderSkips reads nothing while the room talks (a few seconds,
	// more on a loaded machine), then reads at its pace: the write timeout must outlast the
	// talk. (TestWriteTimeout holds the timeout to no progress.)
	cfg.WriteTimeout = 20 * time.Second
	return cfg
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v after %q", err, line)
	}
	return strings.TrimSuffix(line, "\r\n")
}

func readUntil(t *testing.T, r *bufio.Reader, want string) {
	t.Helper()
	for readLine(t, r) != want {
	}
}

// TestCaughtUpStaysConnected has a reader fall behind for a moment and catch up: after that,
// output goes on reaching it, however long after, and nothing times out.
func TestCaughtUpStaysConnected(t *testing.T) {
	cfg := testConfig()
	cfg.WriteTimeout = time.Second
	srv := chattest.Start(t, cfg, func(s *lineproto.Server) { s.SetTestSendBuffer(16 << 10) })
	_, reader := slowReader(t, srv.Addr, "reader", 256<<10)
	talker := chattest.Join(t, srv.Addr, "talker")
	readUntil(t, reader, "talker has joined the channel")

	// 200 KB at once: more than the kernel takes, so that the reader's socket fills and it is
	// written to while it reads.
	filler := strings.Repeat("x", 1000)
	var burst strings.Builder
	for i := range 200 {
		fmt.Fprintf(&burst, "%d %s\n", i, filler)
	}
	talker.Write(burst.String())
	readUntil(t, reader, "<talker> 199 "+filler)

	// Longer than the write timeout: the deadline of the writes that caught up runs out. (Real
	// time must pass here: the deadline is the kernel's.)
	<-time.After(cfg.WriteTimeout + 500*time.Millisecond)
	talker.Send("still here?")
	readUntil(t, reader, "<talker> still here?")
}
