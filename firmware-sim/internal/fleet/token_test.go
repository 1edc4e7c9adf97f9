package fleet

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUseTokenSendsBearer: an agent that requires its local API token
// answers only a target that uses it.
func TestUseTokenSendsBearer(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "tollgate_agent_queue_depth 0\n")
	}))
	defer agent.Close()
	tg, err := FromURL(agent.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.FetchMetrics(context.Background()); !errors.Is(err, ErrStatus) {
		t.Fatalf("without the token: %v", err)
	}
	file := filepath.Join(t.TempDir(), "token")
	os.WriteFile(file, []byte(token+"\n"), 0o600)
	got, err := ReadTokenFile(file)
	if err != nil || got != token {
		t.Fatalf("ReadTokenFile = %q, %v", got, err)
	}
	tg.UseToken(got)
	if m, err := tg.FetchMetrics(context.Background()); err != nil || !strings.Contains(m, "queue_depth") {
		t.Fatalf("with the token: %q, %v", m, err)
	}
}

var tokenCases = []struct {
	name, in string
	ok       bool
}{
	{"ok/line", "abc123\n", true},
	{"ok/crlf", "abc123\r\n", true},
	{"ok/bare", "abc123", true},
	{"error/empty", "", false},
	{"error/newline_only", "\n", false},
	{"error/two_lines", "abc\ndef", false},
	{"error/space", "abc def", false},
}

func TestParseToken(t *testing.T) {
	for _, c := range tokenCases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ParseToken([]byte(c.in)); (err == nil) != c.ok {
				t.Fatalf("err %v, want ok=%v", err, c.ok)
			}
		})
	}
}

func FuzzParseToken(f *testing.F) {
	for _, c := range tokenCases {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := ParseToken(b)
		if err == nil && (tok == "" || strings.ContainsAny(tok, " \t\r\n")) {
			t.Fatalf("accepted %q", tok)
		}
	})
}
