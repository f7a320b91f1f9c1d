package chat

import (
	"errors"
	"testing"
)

func TestLocalNames(t *testing.T) {
	parse := func(s string) Name {
		t.Helper()
		n, err := ParseName(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	var l localNames
	steps := []struct {
		op     string // claim, rename (from name to to) or release
		name   string
		to     string
		holder uint64
		want   error
	}{
		{"claim", "alice", "", 1, nil},
		{"claim", "alice", "", 1, nil},         // again, by its holder
		{"claim", "ALICE", "", 2, ErrNameHeld}, // a look-alike, by another
		{"claim", "ᴀlice", "", 2, ErrNameHeld}, // another look-alike
		{"release", "alice", "", 2, nil},       // not its holder: nothing
		{"claim", "Alice", "", 2, ErrNameHeld}, // still held
		{"release", "alice", "", 1, nil},       // its holder
		{"claim", "Alice", "", 2, nil},         // free now
		{"claim", "bob", "", 1, nil},           // one holder, another name
		{"claim", "b0b", "", 3, ErrNameHeld},
		// A rename to a look-alike keeps the skeletons both share: nobody can slip in.
		{"rename", "bob", "Bob", 1, nil},
		{"claim", "bob", "", 3, ErrNameHeld},
		{"claim", "BOB", "", 3, ErrNameHeld},
		{"rename", "Bob", "Alice", 1, ErrNameHeld}, // held by 2: 1 keeps Bob
		{"claim", "bob", "", 3, ErrNameHeld},
		{"rename", "Bob", "carol", 1, nil}, // and Bob is free
		{"claim", "bob", "", 3, nil},
		{"claim", "carol", "", 3, ErrNameHeld},
	}
	for i, st := range steps {
		switch st.op {
		case "claim":
			if err := l.Claim(parse(st.name), st.holder); !errors.Is(err, st.want) {
				t.Errorf("step %d: Claim(%s, %d) = %v, want %v", i, st.name, st.holder, err, st.want)
			}
		case "rename":
			if err := l.Rename(parse(st.name), parse(st.to), st.holder); !errors.Is(err, st.want) {
				t.Errorf("step %d: Rename(%s, %s, %d) = %v, want %v", i, st.name, st.to, st.holder, err, st.want)
			}
		case "release":
			l.Release(parse(st.name), st.holder)
		}
	}
}
