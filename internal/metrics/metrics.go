// Package metrics is hubbub's Prometheus instrumentation: one registry, passed to whoever
// serves it, and the observers that the transports, the accept loop and the history store
// declare, implemented by counting.
//
// Nothing here is on a per-delivery path: the line transport reports once per write to a
// socket (with how many messages and bytes it carried), so that counting costs nothing
// measurable beside the write itself.
package metrics

import (
	"time"

	"hubbub/internal/chat"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds every metric hubbub exports.
type Metrics struct {
	Registry *prometheus.Registry

	connsOpen     *prometheus.GaugeVec
	connsAccepted *prometheus.CounterVec
	connsRefused  *prometheus.CounterVec
	chatClosed    *prometheus.CounterVec
	slowConsumers prometheus.Counter
	linesReceived prometheus.Counter
	rateLimited   prometheus.Counter
	deliveries    prometheus.Counter
	bytesSent     prometheus.Counter
	queueBytes    prometheus.Histogram
	historyWrite  prometheus.Histogram
	historyBatch  prometheus.Histogram
	historyErrors prometheus.Counter
	operFailures  *prometheus.CounterVec
}

// New returns the metrics, registered in a registry of their own with the Go runtime and
// process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{
		Registry: reg,
		connsOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hubbub_connections_open",
			Help: "Connections open now, by service."}, []string{"service"}),
		connsAccepted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hubbub_connections_accepted_total",
			Help: "Connections accepted, by service."}, []string{"service"}),
		connsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hubbub_connections_refused_total",
			Help: "Connections refused, by service and reason (full, per_ip, shutting_down, out_of_files)."}, []string{"service", "reason"}),
		chatClosed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hubbub_chat_connections_closed_total",
			Help: "Chat connections closed, by reason."}, []string{"reason"}),
		slowConsumers: prometheus.NewCounter(prometheus.CounterOpts{Name: "hubbub_slow_consumers_total",
			Help: "Chat clients disconnected because their output queue passed --max-queue."}),
		linesReceived: prometheus.NewCounter(prometheus.CounterOpts{Name: "hubbub_lines_received_total",
			Help: "Lines chat clients sent (chat, commands and names)."}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{Name: "hubbub_rate_limited_lines_total",
			Help: "Chat lines held back by --line-rate."}),
		deliveries: prometheus.NewCounter(prometheus.CounterOpts{Name: "hubbub_deliveries_total",
			Help: "Messages written to chat clients' sockets."}),
		bytesSent: prometheus.NewCounter(prometheus.CounterOpts{Name: "hubbub_sent_bytes_total",
			Help: "Bytes written to chat clients' sockets."}),
		queueBytes: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hubbub_queue_bytes",
			Help:    "A chat connection's queued output when it is written, in bytes.",
			Buckets: prometheus.ExponentialBuckets(64, 4, 8)}),
		historyWrite: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hubbub_history_write_seconds",
			Help:    "Time of one history write transaction.",
			Buckets: []float64{.0001, .0003, .001, .003, .01, .03, .1, .3, 1, 3}}),
		historyBatch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hubbub_history_batch_lines",
			Help:    "Lines written in one history transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 7)}),
		historyErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "hubbub_history_errors_total",
			Help: "History write transactions that failed (their lines were shown to nobody)."}),
		operFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hubbub_oper_failures_total",
			Help: "Failed /oper tries, by reason (wrong_password, address_waiting, server_busy)."}, []string{"reason"}),
	}
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range []prometheus.Collector{m.connsOpen, m.connsAccepted, m.connsRefused, m.chatClosed,
		m.slowConsumers, m.linesReceived, m.rateLimited, m.deliveries, m.bytesSent, m.queueBytes,
		m.historyWrite, m.historyBatch, m.historyErrors, m.operFailures} {
		f(c)
	}
	return m
}

// Gauge registers a gauge whose value is read from value at each scrape.
func (m *Metrics) Gauge(name, help string, value func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, value))
}

// Accepted implements accept.Observer.
func (m *Metrics) Accepted(service string) {
	m.connsAccepted.WithLabelValues(service).Inc()
	m.connsOpen.WithLabelValues(service).Inc()
}

// Refused implements accept.Observer.
func (m *Metrics) Refused(service, reason string) {
	m.connsRefused.WithLabelValues(service, reason).Inc()
}

// Closed implements accept.Observer.
func (m *Metrics) Closed(service string) { m.connsOpen.WithLabelValues(service).Dec() }

// Line returns the observer the line transport takes.
func (m *Metrics) Line() LineObserver { return LineObserver{m} }

// LineObserver implements lineproto.Observer.
type LineObserver struct{ m *Metrics }

// LineReceived counts a line.
func (o LineObserver) LineReceived() { o.m.linesReceived.Inc() }

// RateLimited counts a line held back.
func (o LineObserver) RateLimited() { o.m.rateLimited.Inc() }

// Wrote counts one write to a client's socket.
func (o LineObserver) Wrote(messages, bytes, queued int) {
	o.m.deliveries.Add(float64(messages))
	o.m.bytesSent.Add(float64(bytes))
	o.m.queueBytes.Observe(float64(queued))
}

// Closed counts a chat connection's end.
func (o LineObserver) Closed(reason string) {
	o.m.chatClosed.WithLabelValues(reason).Inc()
	if reason == "slow consumer" {
		o.m.slowConsumers.Inc()
	}
}

// HistoryWritten implements sqlite.Observer.
func (m *Metrics) HistoryWritten(lines int, took time.Duration, err error) {
	m.historyWrite.Observe(took.Seconds())
	m.historyBatch.Observe(float64(lines))
	if err != nil {
		m.historyErrors.Inc()
	}
}

// OperFailed implements chat.Observer.
func (m *Metrics) OperFailed(why chat.OperFailure) {
	m.operFailures.WithLabelValues(string(why)).Inc()
}
