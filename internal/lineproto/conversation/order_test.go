package conversation_test

import (
	"bufio"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
)

// Every member of a room sees its lines in one order, whoever says them and however many at
// once: the room's events go through the bus, one after the other.
func TestOneOrderPerRoom(t *testing.T) {
	line := lineproto.DefaultConfig()
	line.LineRate = 0
	srv := chattest.StartChat(t, line, chat.DefaultConfig(), nil)
	const senders, each, readers = 8, 200, 40
	var rs []*chattest.Client
	for i := range readers {
		rs = append(rs, chattest.Join(t, srv.Addr, fmt.Sprintf("reader%d", i)))
	}
	var ss []*chattest.Client
	for i := range senders {
		ss = append(ss, chattest.Join(t, srv.Addr, fmt.Sprintf("sender%d", i)))
	}
	for _, r := range rs {
		for joined := 0; joined < senders; {
			if strings.HasPrefix(r.ReadLine(), "sender") {
				joined++
			}
		}
	}
	var wg sync.WaitGroup
	for i, s := range ss {
		go discard(s)
		wg.Go(func() {
			w := bufio.NewWriter(s.Conn)
			for n := range each {
				fmt.Fprintf(w, "s%d line %d\r\n", i, n)
			}
			w.Flush()
		})
	}
	wg.Wait()
	orders := make([][]string, readers)
	for i, r := range rs {
		for len(orders[i]) < senders*each {
			l := r.ReadLine()
			if strings.HasPrefix(l, "<sender") {
				orders[i] = append(orders[i], l)
			}
		}
	}
	for i := 1; i < readers; i++ {
		for n := range orders[0] {
			if orders[i][n] != orders[0][n] {
				t.Fatalf("reader%d's line %d is %q, reader0's is %q: not one order", i, n, orders[i][n], orders[0][n])
			}
		}
	}
}

// discard reads what c is sent until it is closed, so that a sender is never a slow reader.
func discard(c *chattest.Client) {
	c.Conn.SetReadDeadline(time.Now().Add(time.Minute))
	buf := make([]byte, 64<<10)
	for {
		if _, err := c.Conn.Read(buf); err != nil {
			return
		}
	}
}
