package lineproto_test

import (
	"bufio"
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"hubbub/internal/chattest"
)

// BenchmarkBroadcast measures the fan-out path end to end over real loopback TCP: one sender's
// lines go through the line decoder, the chat hub, every member's output queue and writer, and
// are read by one client goroutine per member. An op is one line said to the room; the
// deliveries/s metric counts lines received by members.
func BenchmarkBroadcast(b *testing.B) {
	for _, members := range []int{100, 1000} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) { benchBroadcast(b, members) })
	}
}

func benchBroadcast(b *testing.B, members int) {
	cfg := testConfig()
	cfg.MaxQueue = 64 << 20 // measure throughput, not the slow-consumer rule
	srv := chattest.Start(b, cfg)
	sender := chattest.Join(b, srv.Addr, "sender")
	readers := make([]*bufio.Reader, members)
	for i := range readers {
		c := chattest.Join(b, srv.Addr, fmt.Sprintf("member%d", i))
		c.Conn.SetReadDeadline(time.Time{})
		readers[i] = bufio.NewReaderSize(c.Conn, 64<<10)
	}
	// Lines of a typical length, each different: the chat collapses a line said again.
	var lines bytes.Buffer
	for i := range b.N {
		fmt.Fprintf(&lines, "%08d a line of chat of a typical length\n", i)
	}
	lineLen := lines.Len() / max(b.N, 1)
	prefix := []byte("<sender> ")

	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, r := range readers {
		wg.Go(func() {
			for got := 0; got < b.N; {
				l, err := r.ReadSlice('\n')
				if err != nil {
					b.Error(err)
					return
				}
				if bytes.HasPrefix(l, prefix) {
					got++
				}
			}
		})
	}
	all := lines.Bytes()
	for sent := 0; sent < b.N; sent += 1000 {
		n := min(1000, b.N-sent)
		sender.Write(string(all[sent*lineLen : (sent+n)*lineLen]))
	}
	wg.Wait()
	b.StopTimer()
	elapsed := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*members)/elapsed, "deliveries/s")
	b.ReportMetric(elapsed*1e9/float64(b.N*members), "ns/delivery")
}
