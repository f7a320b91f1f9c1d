// Package password hashes account passwords with argon2id and checks them against the rule
// users are told.
//
// A hash is kept as a PHC string, $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, which carries
// its own parameters: when the costs below are raised, hashes made with the old ones still
// verify, and a caller can rehash at the next login. Nothing in this package puts a password,
// or any part of an encoded hash, in an error.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// The costs of a new hash: OWASP's minimum for argon2id (19 MiB, two passes, one lane). Raise
// them here; old hashes keep their own.
const (
	Memory  = 19 * 1024 // KiB
	Time    = 2         // passes over the memory
	Threads = 1         // lanes
	SaltLen = 16        // bytes, from crypto/rand
	KeyLen  = 32        // bytes of hash
)

// The most a stored hash may ask for. A corrupt or hostile row must not make the server
// allocate gigabytes or spin for minutes on one login, so Verify refuses costs far above the
// defaults (here about 13 times the memory and 16 times the passes) instead of computing them.
const (
	maxMemory     = 256 * 1024 // KiB
	maxTime       = 32
	maxThreads    = 16
	minSaltLen    = 8 // argon2's own minimum
	maxSaltLen    = 64
	minKeyLen     = 16
	maxKeyLen     = 64
	maxEncodedLen = 256 // longer than any string the bounds above allow
)

// ErrMalformed is what Verify reports for a string that is not an argon2id hash it will check:
// a wrong form, an unknown version, or costs outside its bounds.
var ErrMalformed = errors.New("malformed password hash")

// b64 is the PHC strings' base64: standard alphabet, no padding, and strict so that each
// hash has exactly one spelling.
var b64 = base64.RawStdEncoding.Strict()

// params are an argon2id hash's costs, salt and result.
type params struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// Hash returns pw's argon2id hash with a fresh random salt, in PHC form. It does not apply
// Check: callers check a new password first, and what was accepted once still hashes.
func Hash(pw string) (string, error) {
	salt := make([]byte, SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	p := params{memory: Memory, time: Time, threads: Threads, salt: salt}
	return p.withKey(pw, KeyLen).encode(), nil
}

// Verify reports whether pw is the password encoded was made from. The costs are those
// encoded holds, within bounds; the comparison takes the same time wherever the hashes differ.
// An error (wrapping ErrMalformed) means encoded could not be checked, not that pw is wrong.
func Verify(encoded, pw string) (bool, error) {
	p, err := parse(encoded)
	if err != nil {
		return false, err
	}
	got := p.withKey(pw, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(got.key, p.key) == 1, nil
}

// withKey returns p with key set to pw's hash under p's costs and salt.
func (p params) withKey(pw string, keyLen uint32) params {
	p.key = argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, keyLen)
	return p
}

func (p params) encode() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads,
		b64.EncodeToString(p.salt), b64.EncodeToString(p.key))
}

// parse reads a PHC argon2id string strictly: fields in their order, decimals without signs or
// leading zeros, canonical base64; so any string it accepts is the one encode makes of it.
func parse(encoded string) (params, error) {
	bad := func(what string) (params, error) { return params{}, fmt.Errorf("%w: %s", ErrMalformed, what) }
	if len(encoded) > maxEncodedLen {
		return bad("too long")
	}
	f := strings.Split(encoded, "$")
	if len(f) != 6 || f[0] != "" {
		return bad("not a PHC string")
	}
	if f[1] != "argon2id" {
		return bad("not argon2id")
	}
	v, ok := strings.CutPrefix(f[2], "v=")
	if !ok {
		return bad("no version")
	}
	if n, ok := number(v, argon2.Version); !ok || n != argon2.Version {
		return bad("unknown version")
	}
	costs := strings.Split(f[3], ",")
	if len(costs) != 3 {
		return bad("costs are not m,t,p")
	}
	var p params
	for i, c := range costs {
		name, value, _ := strings.Cut(c, "=")
		want, limit := [3]string{"m", "t", "p"}[i], [3]uint32{maxMemory, maxTime, maxThreads}[i]
		if name != want {
			return bad("costs are not m,t,p")
		}
		n, ok := number(value, limit)
		if !ok || n < 1 {
			return bad("cost " + want + " out of bounds")
		}
		switch i {
		case 0:
			p.memory = n
		case 1:
			p.time = n
		case 2:
			p.threads = uint8(n)
		}
	}
	if p.memory < 8*uint32(p.threads) { // argon2's minimum: 8 KiB a lane
		return bad("cost m below 8 KiB a lane")
	}
	if p.salt, ok = decode(f[4]); !ok || len(p.salt) < minSaltLen || len(p.salt) > maxSaltLen {
		return bad("salt")
	}
	if p.key, ok = decode(f[5]); !ok || len(p.key) < minKeyLen || len(p.key) > maxKeyLen {
		return bad("hash")
	}
	return p, nil
}

// decode reads unpadded standard base64, refusing the line breaks encoding/base64 skips.
func decode(s string) ([]byte, bool) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, false
	}
	b, err := b64.DecodeString(s)
	return b, err == nil
}

// number reads a decimal no greater than limit, refusing signs and leading zeros.
func number(s string, limit uint32) (uint32, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > uint64(limit) {
		return 0, false
	}
	return uint32(n), true
}
