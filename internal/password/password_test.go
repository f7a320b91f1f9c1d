package password

import (
	"errors"
	"strings"
	"testing"
)

// cheap makes a hash with small costs, so that tests of the parser and of old parameters run
// fast; Verify must read the costs from the string to check it.
func cheap(t *testing.T, pw string, memory, time uint32, threads uint8) string {
	t.Helper()
	p := params{memory: memory, time: time, threads: threads, salt: []byte("0123456789abcdef")}
	return p.withKey(pw, KeyLen).encode()
}

func TestHashAndVerify(t *testing.T) {
	const pw = "correct horse battery staple"
	h, err := Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	if want := "$argon2id$v=19$m=19456,t=2,p=1$"; !strings.HasPrefix(h, want) {
		t.Fatalf("hash %q does not start with %q", h, want)
	}
	if strings.Contains(h, pw) {
		t.Fatal("the hash holds the password")
	}
	p, err := parse(h)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.salt) != SaltLen || len(p.key) != KeyLen {
		t.Fatalf("salt %d bytes, hash %d bytes; want %d and %d", len(p.salt), len(p.key), SaltLen, KeyLen)
	}
	again, err := Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	if again == h {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{
		{pw, true},
		{pw + " ", false},
		{"Correct horse battery staple", false},
		{"", false},
	} {
		for _, enc := range []string{h, again} {
			if ok, err := Verify(enc, tc.pw); err != nil || ok != tc.want {
				t.Errorf("Verify(%q) = %v, %v; want %v", tc.pw, ok, err, tc.want)
			}
		}
	}
}

// TestVerifyReadsCosts: a hash made with other costs (an older, cheaper setting, or a raised
// one) verifies with its own, not the current defaults.
func TestVerifyReadsCosts(t *testing.T) {
	for _, tc := range []struct {
		memory, time uint32
		threads      uint8
	}{
		{8, 1, 1},
		{64, 3, 2},
		{1024, 1, 4},
		{maxMemory, 1, 1},
	} {
		enc := cheap(t, "s3cret pass", tc.memory, tc.time, tc.threads)
		if ok, err := Verify(enc, "s3cret pass"); err != nil || !ok {
			t.Errorf("%s: Verify = %v, %v; want true", enc, ok, err)
		}
		if ok, err := Verify(enc, "s3cret pasS"); err != nil || ok {
			t.Errorf("%s: Verify of a wrong password = %v, %v; want false", enc, ok, err)
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	good := cheap(t, "pw", 8, 1, 1)
	f := strings.Split(good, "$")
	salt, key := f[4], f[5]
	for _, tc := range []struct {
		name, enc string
	}{
		{"empty", ""},
		{"plain text", "hunter2hunter2"},
		{"argon2i", "$argon2i$v=19$m=8,t=1,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=8,t=1,p=1$" + salt + "$" + key},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"old version", "$argon2id$v=16$m=8,t=1,p=1$" + salt + "$" + key},
		{"no version", "$argon2id$m=8,t=1,p=1$" + salt + "$" + key},
		{"costs out of order", "$argon2id$v=19$t=1,m=8,p=1$" + salt + "$" + key},
		{"a cost missing", "$argon2id$v=19$m=8,t=1$" + salt + "$" + key},
		{"an extra cost", "$argon2id$v=19$m=8,t=1,p=1,k=1$" + salt + "$" + key},
		{"leading zero", "$argon2id$v=19$m=08,t=1,p=1$" + salt + "$" + key},
		{"sign", "$argon2id$v=19$m=+8,t=1,p=1$" + salt + "$" + key},
		{"no time", "$argon2id$v=19$m=8,t=0,p=1$" + salt + "$" + key},
		{"no lanes", "$argon2id$v=19$m=8,t=1,p=0$" + salt + "$" + key},
		{"too little memory a lane", "$argon2id$v=19$m=8,t=1,p=2$" + salt + "$" + key},
		{"gigabytes of memory", "$argon2id$v=19$m=4194304,t=1,p=1$" + salt + "$" + key},
		{"memory past uint32", "$argon2id$v=19$m=99999999999,t=1,p=1$" + salt + "$" + key},
		{"a thousand passes", "$argon2id$v=19$m=8,t=1000,p=1$" + salt + "$" + key},
		{"many lanes", "$argon2id$v=19$m=19456,t=1,p=255$" + salt + "$" + key},
		{"short salt", "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$" + key},
		{"short hash", "$argon2id$v=19$m=8,t=1,p=1$" + salt + "$c2hvcnQ"},
		{"padded salt", "$argon2id$v=19$m=8,t=1,p=1$" + salt + "==$" + key},
		{"not base64", "$argon2id$v=19$m=8,t=1,p=1$" + salt + "$" + key[:len(key)-1] + "!"},
		{"line break in the hash", "$argon2id$v=19$m=8,t=1,p=1$" + salt + "$" + key[:4] + "\n" + key[4:]},
		{"trailing field", good + "$"},
		{"long", good + strings.Repeat("A", 300)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := Verify(tc.enc, "pw")
			if ok || !errors.Is(err, ErrMalformed) {
				t.Fatalf("Verify(%q) = %v, %v; want ErrMalformed", tc.enc, ok, err)
			}
			if strings.Contains(err.Error(), "pw") || (strings.Contains(err.Error(), salt)) {
				t.Fatalf("the error %q repeats what it was given", err)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		pw   string
		want error
	}{
		{"hunter22", nil},
		{"correct horse battery staple", nil},
		{"пароль12", nil},       // eight characters, sixteen bytes
		{"密码密码密码密码", nil},       // eight characters in CJK
		{"short", ErrTooShort},  // five
		{"密码密码密码", ErrTooShort}, // six characters, eighteen bytes
		{"", ErrTooShort},       //
		{strings.Repeat("a", 256), nil},
		{strings.Repeat("a", 257), ErrTooLong},
		{strings.Repeat("é", 129), ErrTooLong}, // 129 characters, 258 bytes
		{"hunter2\xff", ErrNotUTF8},
		{"hunter2\thunter2", ErrControl},
		{"hunter2\x1b[2Jhunter2", ErrControl},
		{"hunter2\u0085hunter2", ErrControl},
		{"hunter2\x7fhunter2", ErrControl},
		{"hunter2\nhunter2", ErrControl},
	} {
		err := Check(tc.pw)
		if !errors.Is(err, tc.want) {
			t.Errorf("Check(%q) = %v; want %v", tc.pw, err, tc.want)
		}
		if err != nil && len(tc.pw) > 0 && strings.Contains(err.Error(), tc.pw) {
			t.Errorf("Check(%q): the refusal repeats the password", tc.pw)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
