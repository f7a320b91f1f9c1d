package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"hubbub/internal/chattest"
	"hubbub/internal/natsnode"
	"hubbub/internal/natstest"
)

func TestClusterConfig(t *testing.T) {
	creds := t.TempDir() + "/user.creds"
	if err := os.WriteFile(creds, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // "" for none
	}{
		{"alone by default", nil, nil, ""},
		{"external", []string{"--nats", "nats://h1:4222,tls://h2:4222", "--node-name", "a-1_B", "--nats-creds", creds}, nil, ""},
		{"embedded", []string{"--nats-embedded", "--nats-routes", "nats://b:6222, nats://c:6222", "--nats-replicas", "3", "--nats-max-age", "720h"}, nil, ""},
		{"from the environment", nil, map[string]string{"HUBBUB_NATS_EMBEDDED": "true", "HUBBUB_NODE_NAME": "env"}, ""},
		{"node name with a dot", []string{"--nats", "nats://h:4222", "--node-name", "a.b"}, nil, `--node-name "a.b": want letters, digits`},
		{"node name too long", []string{"--nats-embedded", "--node-name", strings.Repeat("n", 33)}, nil, "at most 32"},
		{"empty node name", []string{"--nats-embedded", "--node-name", ""}, nil, "--node-name"},
		{"node name with an escape", []string{"--node-name", "a\x1b[2J"}, nil, "--node-name"},
		{"URL without a port", []string{"--nats", "nats://h1"}, nil, `--nats: "nats://h1": want nats://host:port`},
		{"URL of another scheme", []string{"--nats", "http://h1:4222"}, nil, "--nats:"},
		{"password not shown", []string{"--nats", "http://u:hunter2@h1:4222"}, nil, "xxxxx"},
		{"creds without nats", []string{"--nats-creds", creds}, nil, "--nats-creds is for the connection to --nats"},
		{"missing creds file", []string{"--nats", "nats://h:4222", "--nats-creds", "/no/such.creds"}, nil, "--nats-creds: stat /no/such.creds"},
		{"missing CA file", []string{"--nats", "nats://h:4222", "--nats-tls-ca", "/no/ca.pem"}, nil, "--nats-tls-ca"},
		{"routes without embedded", []string{"--nats-routes", "nats://b:6222"}, nil, "give --nats-embedded too"},
		{"routes without cluster listen", []string{"--nats-embedded", "--nats-routes", "nats://b:6222", "--nats-cluster-listen="}, nil, "needs --nats-cluster-listen"},
		{"bad route", []string{"--nats-embedded", "--nats-routes", "b:6222"}, nil, "--nats-routes"},
		{"bad listen", []string{"--nats-listen", "4222"}, nil, `--nats-listen "4222": want host:port`},
		{"bad cluster listen", []string{"--nats-cluster-listen", "h:port"}, nil, "--nats-cluster-listen"},
		{"too many replicas", []string{"--nats-replicas", "6"}, nil, "--nats-replicas must be from 1 to 5"},
		{"negative replicas", []string{"--nats-replicas", "-1"}, nil, "--nats-replicas"},
		{"max age under the duplicate window", []string{"--nats-max-age", "1m"}, nil, "at least 2m0s"},
		{"max age not a duration", []string{"--nats-max-age", "forever"}, nil, "--nats-max-age \"forever\": want a duration"},
		{"embedded not a boolean", nil, map[string]string{"HUBBUB_NATS_EMBEDDED": "maybe"}, "HUBBUB_NATS_EMBEDDED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(tt.args, envMap(tt.env), io.Discard)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("err = %v, want none", err)
			case tt.wantErr == "xxxxx":
				if err == nil || strings.Contains(err.Error(), "hunter2") {
					t.Errorf("err = %v, want one without the password", err)
				}
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("err = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfiguredServers(t *testing.T) {
	tests := []struct {
		cfg  ClusterConfig
		want int
	}{
		{ClusterConfig{}, 0},
		{ClusterConfig{NATS: "nats://a:4222"}, 1},
		{ClusterConfig{NATS: "nats://a:4222,nats://b:4222,nats://c:4222"}, 3},
		{ClusterConfig{Embedded: true, ClusterListen: ":6222"}, 1},
		{ClusterConfig{Embedded: true, ClusterListen: ":6222", Routes: "nats://b:6222,nats://c:6222"}, 3},
		{ClusterConfig{Embedded: true, ClusterListen: "127.0.0.1:6222", Routes: "nats://127.0.0.1:6222,nats://b:6222,nats://c:6222"}, 3},
		{ClusterConfig{Embedded: true, ClusterListen: ":6222", Routes: "nats://b:6222", NATS: "nats://x:4222,nats://y:4222,nats://z:4222"}, 3},
	}
	for _, tt := range tests {
		if got := tt.cfg.configuredServers(); got != tt.want {
			t.Errorf("%+v: %d servers, want %d", tt.cfg, got, tt.want)
		}
	}
}

// TestReadyzFollowsNATS: a node on an external NATS server is ready while the server answers,
// not ready (saying why) while it is down, and ready again once it is back; /healthz and
// /metrics say the same.
func TestReadyzFollowsNATS(t *testing.T) {
	c := natstest.StartOne(t)
	m, addrs := startMain(t, func(cfg *Config) {
		cfg.Cluster.NATS = c.URL(0)
		cfg.Cluster.NodeName = "solo"
	})
	if m.nc == nil || m.js == nil || m.node != "solo" {
		t.Fatalf("Main has nc %v, js %v, node %q", m.nc, m.js, m.node)
	}
	admin := "http://" + addrs["admin"]
	if code, body := get(t, admin+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d %q", code, body)
	}
	_, health := get(t, admin+"/healthz")
	if !strings.HasPrefix(health, "ok\nnats connected node=solo server=n0 cluster_servers=1 jetstream=ok ") {
		t.Errorf("/healthz = %q", health)
	}
	waitMetrics(t, admin, map[string]float64{
		"hubbub_nats_connected": 1, "hubbub_nats_cluster_servers": 1, "hubbub_nats_reconnects_total": 0,
		"hubbub_nats_slow_consumers_total": 0, "hubbub_nats_consumer_lag": 0,
	})
	m.SetConsumerLag(func() uint64 { return 7 })
	waitMetrics(t, admin, map[string]float64{"hubbub_nats_consumer_lag": 7})

	c.Stop(0)
	waitFor(t, "/readyz not ready", func() bool {
		code, body := get(t, admin+"/readyz")
		return code == 503 && strings.Contains(body, "not ready: nats: not connected to NATS")
	})
	if _, health := get(t, admin+"/healthz"); !strings.Contains(health, "nats disconnected") {
		t.Errorf("/healthz while NATS is down = %q", health)
	}
	waitMetrics(t, admin, map[string]float64{"hubbub_nats_connected": 0})

	c.Restart(0)
	waitFor(t, "/readyz ready again", func() bool {
		code, _ := get(t, admin+"/readyz")
		return code == 200
	})
	waitMetrics(t, admin, map[string]float64{"hubbub_nats_connected": 1, "hubbub_nats_reconnects_total": 1})
}

// waitFor waits until cond holds, with a deadline for a loaded machine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	chattest.WaitWithin(t, natstest.Timeout, what, cond)
}

// freeAddrs returns n addresses on 127.0.0.1 whose ports were free a moment ago.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// clusterNode is a hubbub process of TestProcessClusterEmbedded.
type clusterNode struct {
	cmd    *exec.Cmd
	logs   *chattest.Logs
	admin  string // http://127.0.0.1:PORT
	client string // its embedded NATS server's client URL
	exited chan error
}

// TestProcessClusterEmbedded runs three hubbub processes with --nats-embedded routed to each
// other, started at once as an operator would: all become ready, each sees three NATS servers
// and JetStream, the stream and buckets exist with three replicas, and all stop on SIGTERM.
func TestProcessClusterEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("three processes forming a JetStream cluster")
	}
	addrs := freeAddrs(t, 9) // per node: admin, NATS client, NATS routes
	var routes []string
	for i := range 3 {
		routes = append(routes, "nats://"+addrs[3*i+2])
	}
	var nodes []*clusterNode
	for i, name := range []string{"a", "b", "c"} {
		args := []string{"--node-name", name, "--chat-addr", "127.0.0.1:0", "--http-addr=", "--quote-addr=", "--echo-addr=",
			"--admin-addr", addrs[3*i], "--nats-embedded", "--nats-listen", addrs[3*i+1],
			"--nats-cluster-listen", addrs[3*i+2], "--nats-routes", strings.Join(routes, ","), "--log-level", "debug"}
		n := &clusterNode{cmd: exec.Command(binary, args...), logs: &chattest.Logs{}, admin: "http://" + addrs[3*i],
			client: "nats://" + addrs[3*i+1], exited: make(chan error, 1)}
		n.cmd.Env = append(os.Environ(), "HUBBUB_DATA_DIR="+t.TempDir())
		n.cmd.Stderr = n.logs
		if err := n.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { n.exited <- n.cmd.Wait() }()
		t.Cleanup(func() {
			n.cmd.Process.Kill()
			err := <-n.exited
			n.exited <- err
			if t.Failed() {
				t.Logf("node %s logs:\n%s", name, n.logs)
			}
		})
		nodes = append(nodes, n)
	}
	for i, n := range nodes {
		waitFor(t, fmt.Sprintf("/readyz of node %d", i), func() bool {
			resp, err := httpGet(n.admin + "/readyz")
			return err == nil && resp == 200
		})
	}
	for i, n := range nodes {
		_, health := get(t, n.admin+"/healthz")
		if !strings.Contains(health, "nats connected node="+string(rune('a'+i))) ||
			!strings.Contains(health, "cluster_servers=3") || !strings.Contains(health, "jetstream=ok") {
			t.Errorf("node %d /healthz = %q", i, health)
		}
		waitMetrics(t, n.admin, map[string]float64{"hubbub_nats_connected": 1, "hubbub_nats_cluster_servers": 3})
	}

	nc, err := nats.Connect(nodes[1].client, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), natstest.Timeout)
	defer cancel()
	s, err := js.Stream(ctx, natsnode.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	if r := s.CachedInfo().Config.Replicas; r != 3 {
		t.Errorf("%s has %d replicas, want 3", natsnode.EventsStream, r)
	}
	for _, b := range []string{natsnode.NamesBucket, natsnode.RoomsBucket, natsnode.BansBucket, natsnode.MutesBucket,
		natsnode.AccountsBucket, natsnode.TokensBucket, natsnode.NodesBucket} {
		kv, err := js.KeyValue(ctx, b)
		if err != nil {
			t.Errorf("bucket %s: %v", b, err)
			continue
		}
		if st, err := kv.Status(ctx); err != nil || st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas != 3 {
			t.Errorf("bucket %s: status %v, %v", b, st, err)
		}
	}
	nc.Close()

	for _, n := range nodes {
		n.cmd.Process.Signal(syscall.SIGTERM)
	}
	for i, n := range nodes {
		select {
		case err := <-n.exited:
			n.exited <- err
			if err != nil {
				t.Errorf("node %d: %v", i, err)
			}
		case <-time.After(natstest.Timeout):
			t.Fatalf("node %d did not stop", i)
		}
		n.logs.WaitFor(t, "msg=stopped")
	}
}

// httpGet is get without failing the test: the server may not listen yet.
func httpGet(url string) (int, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestSignalWhileWaitingForNATS: a node waits minutes for NATS at start; SIGTERM then ends the
// wait and the process, saying why.
func TestSignalWhileWaitingForNATS(t *testing.T) {
	dead := freeAddrs(t, 1)[0] // nothing listens there
	cmd := exec.Command(binary, "--nats", "nats://"+dead, "--chat-addr", "127.0.0.1:0", "--http-addr=",
		"--admin-addr=", "--quote-addr=", "--echo-addr=")
	cmd.Env = append(os.Environ(), "HUBBUB_DATA_DIR="+t.TempDir())
	logs := &chattest.Logs{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	logs.WaitFor(t, "waiting for a NATS server to answer")
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		exited <- err
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("exit: %v, want code 1", err)
		}
	case <-time.After(natstest.Timeout):
		t.Fatalf("still waiting for NATS after SIGTERM:\n%s", logs)
	}
	logs.WaitFor(t, "cannot start", "start given up on a signal")
}
