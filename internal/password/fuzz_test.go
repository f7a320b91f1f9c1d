package password

import "testing"

// FuzzParse: whatever a stored row holds, the parser neither panics nor accepts costs out of
// bounds, and what it accepts is exactly what encode writes of it (one spelling per hash).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$qaaSOCRBvWwa4ECPL9ScnJ/3uqpc7ShMl8dFw2xNV3E",
		"$argon2id$v=19$m=8,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$qaaSOCRBvWwa4ECPL9ScnA",
		"$argon2id$v=19$m=4194304,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$qaaSOCRBvWwa4ECPL9ScnA",
		"$argon2id$v=19$m=8,t=1,p=0$MDEyMzQ1Njc4OWFiY2RlZg$qaaSOCRBvWwa4ECPL9ScnA",
		"$argon2i$v=19$m=8,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$qaaSOCRBvWwa4ECPL9ScnA",
		"$argon2id$v=19$m=08,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg==$qaaSOCRBvWwa4ECPL9ScnA",
		"$$$$$",
		"",
	} {
		f.Add(s)
	}
	if _, err := parse("$argon2id$v=19$m=8,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$qaaSOCRBvWwa4ECPL9ScnA"); err != nil {
		f.Fatalf("a seed that should parse does not: %v", err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parse(s)
		if err != nil {
			return
		}
		if p.memory > maxMemory || p.time > maxTime || p.threads > maxThreads ||
			p.memory < 8*uint32(p.threads) || p.time < 1 || p.threads < 1 {
			t.Fatalf("%q: accepted costs m=%d t=%d p=%d", s, p.memory, p.time, p.threads)
		}
		if got := p.encode(); got != s {
			t.Fatalf("%q parses to %+v, which encodes as %q", s, p, got)
		}
		if len(p.salt) < minSaltLen || len(p.key) < minKeyLen {
			t.Fatalf("%q: accepted salt %d bytes, hash %d bytes", s, len(p.salt), len(p.key))
		}
	})
}
