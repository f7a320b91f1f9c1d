package wsgateway_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/wsgateway"
)

// TestSlowReaderToldOncePerStretch holds a browser that reads, but slower than the room talks,
// to the slow-reader rule of the line transport (lineproto's TestSlowReaderSkips): it stays
// connected, gets the lines it is sent in order, is told once in the stretch of falling behind
// how many lines it missed (no more than it missed), and gets the private message sent in the
// middle of it. (It used to be told again each time its queue passed the bound.)
func TestSlowReaderToldOncePerStretch(t *testing.T) {
	cfg := testConfig()
	cfg.MaxQueue = 64 << 10
	cfg.WriteTimeout = time.Minute // the reader is slow, never stalled
	g := startGateway(t, chat.DefaultConfig(), cfg, func(s *wsgateway.Server) { s.SetTestSendBuffer(16 << 10) })

	slow := dialSmallWindow(t, g.url)
	slow.register("slow")
	talker := chattest.Join(t, g.lineAddr, "talker")
	listener := chattest.Join(t, g.lineAddr, "listener")
	talker.Expect("listener has joined the channel")
	slow.expect(event{Kind: "join", From: "talker"})
	slow.expect(event{Kind: "join", From: "listener"})

	// The reader reads at 32 KB/s from now on, while the room says 2.7 MB over three seconds
	// or more: the reader falls behind at once, and stays behind until the end. (Its queue
	// passes the bound again and again, long after it was told.)
	type got struct {
		e   event
		err error
	}
	events := make(chan got, 1024)
	slow.rate = 32 << 10
	go func() {
		defer close(events)
		for {
			e, err := slow.next()
			events <- got{e, err}
			if err != nil || e.Kind == "message" && e.Text == "last" {
				return
			}
		}
	}()
	const rounds, perRound = 60, 50
	pace := time.NewTicker(50 * time.Millisecond)
	defer pace.Stop()
	floodRoom(t, talker, listener, rounds, perRound, func() { <-pace.C })

	received, told, notices, missed, pm := 0, 0, 0, 0, false
	prev := -1
	for g := range events {
		if g.err != nil {
			t.Fatalf("the slow reader was disconnected: %v", g.err)
		}
		e := g.e
		switch {
		case e.Kind == "message" && e.Text == "last":
			missed += rounds*perRound - 1 - prev
		case e.Kind == "message":
			n, err := strconv.Atoi(strings.TrimSuffix(e.Text, " "+floodFiller))
			if err != nil || n <= prev {
				t.Fatalf("got %.40q after line %d", e.Text, prev)
			}
			missed += n - prev - 1
			prev = n
			received++
		case e.Kind == "private" && e.Text == "psst":
			pm = true
		case e.Kind == "notice" && skippedNotice.MatchString(e.Text):
			n, _ := strconv.Atoi(skippedNotice.FindStringSubmatch(e.Text)[1])
			told += n
			notices++
		default:
			t.Fatalf("unexpected event %+v", e)
		}
	}
	t.Logf("received %d, missed %d, told of %d in %d notices", received, missed, told, notices)
	if !pm {
		t.Error("the private message was skipped")
	}
	if missed == 0 {
		t.Fatal("nothing was skipped: the room did not outrun the reader")
	}
	if notices != 1 || told > missed {
		t.Errorf("%d notices telling of %d lines skipped, %d missed: want one notice a stretch, telling no more than were missed", notices, told, missed)
	}
	slow.send("still here")
	talker.Expect("<slow> still here")
}
