// Package metrics is hubbub's Prometheus instrumentation: one registry, passed to whoever
// serves it, and the observers that the transports, the accept loop and the history store
// declare, implemented by counting.
//
// Label values are closed sets, checked here whoever calls: a value outside its set is counted
// as "other", so that no path can put text a user chose (a kick reason, a name) into a label,
// where it would be shown to every dashboard and make a new series per value.
//
// Nothing here is on a per-delivery path: the line transport reports once per write to a
// socket (with how many messages and bytes it carried), so that counting costs nothing
// measurable beside the write itself.
package metrics

import (
	"slices"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/connpolicy"
	"hubbub/internal/tlsconf"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds every metric hubbub exports.
type Metrics struct {
	Registry *prometheus.Registry

	connsOpen     *prometheus.GaugeVec
	wsOpen        prometheus.Gauge
	wsAccepted    prometheus.Counter
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
	loginFailures *prometheus.CounterVec
	tlsFailures   *prometheus.CounterVec
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
		wsOpen: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hubbub_websockets_open",
			Help: "WebSocket connections open now (each is also one of the http service's connections)."}),
		wsAccepted: prometheus.NewCounter(prometheus.CounterOpts{Name: "hubbub_websockets_accepted_total",
			Help: "WebSocket connections accepted."}),
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
		loginFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hubbub_login_failures_total",
			Help: "Refused account passwords, by reason (wrong_password, waiting)."}, []string{"reason"}),
		tlsFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hubbub_tls_handshake_failures_total",
			Help: "Failed TLS handshakes, by service and reason (timeout, not_tls, rejected, closed, protocol)."}, []string{"service", "reason"}),
	}
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range []prometheus.Collector{m.connsOpen, m.wsOpen, m.wsAccepted, m.connsAccepted, m.connsRefused, m.chatClosed,
		m.slowConsumers, m.linesReceived, m.rateLimited, m.deliveries, m.bytesSent, m.queueBytes,
		m.historyWrite, m.historyBatch, m.historyErrors, m.operFailures, m.loginFailures, m.tlsFailures} {
		f(c)
	}
	return m
}

// Gauge registers a gauge whose value is read from value at each scrape.
func (m *Metrics) Gauge(name, help string, value func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, value))
}

// The closed sets of label values. A new service or reason is added here, where a reviewer
// sees that it is not text from a client.
var (
	services       = []string{"chat", "irc", "quote", "echo", "http", "admin", "chat-tls", "https", "irc-tls", "quote-tls", "echo-tls"}
	refusalReasons = []string{"full", "per_ip", "shutting_down", "out_of_files"}
	// The reasons a chat connection ends with are connpolicy.CloseReason, a closed set of its
	// own (see LineObserver.Closed).
)

// IsService reports whether service is a label value of its own, not counted as Other.
func IsService(service string) bool { return slices.Contains(services, service) }

// Other is the label value that stands for any value outside its closed set.
const Other = "other"

// label returns v if it is one of set, else Other.
func label(v string, set []string) string {
	if slices.Contains(set, v) {
		return v
	}
	return Other
}

// Accepted implements accept.Observer.
func (m *Metrics) Accepted(service string) {
	service = label(service, services)
	m.connsAccepted.WithLabelValues(service).Inc()
	m.connsOpen.WithLabelValues(service).Inc()
}

// Refused implements accept.Observer.
func (m *Metrics) Refused(service, reason string) {
	m.connsRefused.WithLabelValues(label(service, services), label(reason, refusalReasons)).Inc()
}

// Closed implements accept.Observer.
func (m *Metrics) Closed(service string) { m.connsOpen.WithLabelValues(label(service, services)).Dec() }

// WebSocketOpened counts a WebSocket connection that starts.
func (m *Metrics) WebSocketOpened() {
	m.wsAccepted.Inc()
	m.wsOpen.Inc()
}

// WebSocketClosed counts a WebSocket connection that ended.
func (m *Metrics) WebSocketClosed() { m.wsOpen.Dec() }

// Line returns the observer the chat transports take (lineproto and wsgateway).
func (m *Metrics) Line() LineObserver { return LineObserver{m} }

// LineObserver implements connpolicy.Observer, which lineproto and wsgateway take.
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
func (o LineObserver) Closed(reason connpolicy.CloseReason) {
	l := Other
	if reason.Valid() {
		l = reason.String()
	}
	o.m.chatClosed.WithLabelValues(l).Inc()
	if reason == connpolicy.ReasonSlowConsumer {
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

// HandshakeFailed implements tlsconf.Observer.
func (m *Metrics) HandshakeFailed(service string, why tlsconf.Failure) {
	m.tlsFailures.WithLabelValues(label(service, services), why.String()).Inc()
}

// LoginFailed implements chat.Observer.
func (m *Metrics) LoginFailed(why chat.LoginFailure) {
	m.loginFailures.WithLabelValues(string(why)).Inc()
}
