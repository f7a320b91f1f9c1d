package chat_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"

	"hubbub/internal/chat"
)

// kindConstants returns the names of the package's constants of type Kind, read from its
// source: a Kind added without a name fails TestEveryKindHasAName instead of being stored or
// sent as "kind(N)".
func kindConstants(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			inKind := false // an iota block that started with "X Kind = iota"
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				if vs.Type != nil || len(vs.Values) > 0 {
					id, ok := vs.Type.(*ast.Ident)
					inKind = ok && id.Name == "Kind"
				}
				if inKind {
					for _, n := range vs.Names {
						names = append(names, n.Name)
					}
				}
			}
		}
	}
	return names
}

func TestEveryKindHasAName(t *testing.T) {
	consts := kindConstants(t)
	if len(consts) < 16 {
		t.Fatalf("found %d Kind constants (%v): the test no longer reads the source right", len(consts), consts)
	}
	seen := map[string]chat.Kind{}
	// The Kinds are numbered by iota from 0: those found are 0 to len-1.
	for k := chat.Kind(0); int(k) < len(consts); k++ {
		name := k.String()
		if strings.HasPrefix(name, "kind(") {
			t.Errorf("Kind %d (one of %v) has no name: give it one in kind.go", k, consts)
			continue
		}
		if name != strings.ToLower(name) || strings.ContainsAny(name, " \t\n") {
			t.Errorf("Kind %d is named %q: want lower case, no spaces", k, name)
		}
		if other, dup := seen[name]; dup {
			t.Errorf("Kinds %d and %d are both named %q", other, k, name)
		}
		seen[name] = k
		if back, ok := chat.ParseKind(name); !ok || back != k {
			t.Errorf("ParseKind(%q) = %d, %v; want %d, true", name, back, ok, k)
		}
	}
}

// TestKindNamesAreStable pins the names that outlive a build (history keeps lines under them,
// the page's script reads some): changing one breaks a database written yesterday.
func TestKindNamesAreStable(t *testing.T) {
	for _, tt := range []struct {
		kind chat.Kind
		name string
	}{
		{chat.KindChat, "chat"}, {chat.KindAction, "action"}, {chat.KindTopic, "topic"},
		{chat.KindJoin, "join"}, {chat.KindLeave, "leave"}, {chat.KindNick, "nick"},
		{chat.KindPrivate, "private"}, {chat.KindNotice, "notice"},
	} {
		if got := tt.kind.String(); got != tt.name {
			t.Errorf("Kind %d is %q, want %q", tt.kind, got, tt.name)
		}
	}
}

func TestParseKindRefusesWhatIsNoKind(t *testing.T) {
	for _, name := range []string{"", "Chat", "CHAT", " chat", "kind(5)", "kind(200)", "message", "chat\x00"} {
		if k, ok := chat.ParseKind(name); ok {
			t.Errorf("ParseKind(%q) = %d, true; want false", name, k)
		}
	}
	if got := chat.Kind(200).String(); got != "kind(200)" {
		t.Errorf("Kind(200).String() = %q, want kind(200)", got)
	}
}
