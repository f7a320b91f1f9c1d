package tlsconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// writePair writes a certificate valid from notBefore for life, and its key, into dir under
// name, and returns their paths.
func writePair(t *testing.T, dir, name string, notBefore time.Time, life time.Duration) (certFile, keyFile string) {
	t.Helper()
	certPEM, keyPEM, err := generateFor("test-host", notBefore, notBefore.Add(life))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestLoadSaysWhatIsWrong: each broken pair of files is an error naming the file and what to
// do, and a good pair loads.
func TestLoadSaysWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	goodCert, goodKey := writePair(t, dir, "good", now.Add(-time.Hour), selfSignedLife)
	_, otherKey := writePair(t, dir, "other", now.Add(-time.Hour), selfSignedLife)
	// Valid for a day, three days ago.
	expiredCert, expiredKey := writePair(t, dir, "expired", now.Add(-72*time.Hour), 24*time.Hour)
	futureCert, futureKey := writePair(t, dir, "future", now.Add(48*time.Hour), selfSignedLife)
	missing := filepath.Join(dir, "nothing.pem")
	for _, tc := range []struct {
		name, cert, key string
		want            []string // "" for no error
	}{
		{"good", goodCert, goodKey, nil},
		{"missing certificate", missing, goodKey, []string{"--tls-cert", missing, "no such file"}},
		{"missing key", goodCert, missing, []string{"--tls-key", missing, "no such file"}},
		{"mismatched key", goodCert, otherKey, []string{"--tls-key", otherKey, "not the key of the certificate", goodCert}},
		{"expired", expiredCert, expiredKey, []string{expiredCert, "expired on", "renew it"}},
		{"not yet valid", futureCert, futureKey, []string{futureCert, "not valid before", "clock"}},
		{"not PEM", goodKey, goodKey, []string{goodKey, "want PEM files"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.cert, tc.key)
			if tc.want == nil {
				if err != nil || c.Leaf() == nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestReloadKeepsTheOldCertificateOnFailure: a reload of files that do not load changes
// nothing; one of good files serves the new certificate.
func TestReloadKeepsTheOldCertificateOnFailure(t *testing.T) {
	dir := t.TempDir()
	certA, keyA := writePair(t, dir, "a", time.Now().Add(-time.Hour), selfSignedLife)
	certB, keyB := writePair(t, dir, "b", time.Now().Add(-time.Hour), selfSignedLife)
	c, err := Load(certA, keyA)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Leaf().SerialNumber
	if err := c.Reload(certA, keyB); err == nil {
		t.Fatal("reload with a mismatched key succeeded")
	}
	if got := c.Leaf().SerialNumber; got.Cmp(a) != 0 {
		t.Fatalf("serial %v after a failed reload, want the old %v", got, a)
	}
	if err := c.Reload(certB, keyB); err != nil {
		t.Fatal(err)
	}
	if got := c.Leaf().SerialNumber; got.Cmp(a) == 0 {
		t.Fatal("the certificate did not change")
	}
	if f, _ := c.Files(); f != certB {
		t.Fatalf("files %s, want %s", f, certB)
	}
}

// TestSelfSignedMadeOnceThenReused: the first call makes a key only its owner can read and a
// certificate for the loopback names; the second finds and reuses them; an expired one is
// replaced.
func TestSelfSignedMadeOnceThenReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	now := time.Now()
	certFile, keyFile, created, err := SelfSigned(dir, "myhost", now)
	if err != nil || !created {
		t.Fatalf("first: created %v, %v", created, err)
	}
	st, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v, want 0600", st.Mode().Perm())
	}
	c, err := Load(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf := c.Leaf()
	for _, name := range []string{"localhost", "myhost", "127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("certificate not for %s: %v", name, err)
		}
	}
	first := Fingerprint(leaf)

	_, _, created, err = SelfSigned(dir, "myhost", now.Add(time.Hour))
	if err != nil || created {
		t.Fatalf("second: created %v, %v", created, err)
	}
	c2, err := Load(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if Fingerprint(c2.Leaf()) != first {
		t.Fatal("the second start did not reuse the certificate")
	}

	_, _, created, err = SelfSigned(dir, "myhost", now.Add(selfSignedLife+time.Hour))
	if err != nil || !created {
		t.Fatalf("after expiry: created %v, %v", created, err)
	}
}
