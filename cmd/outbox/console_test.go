package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// `outbox console` refuses to serve without sign-in unless on loopback, and with
// neither tokens nor --insecure-no-auth; served, it never shows the database URL's
// password or a token's secret, in a page, an API answer, an error or its log, and it
// stops on SIGTERM.
func TestConsoleCommand(t *testing.T) {
	o := testenv.NewOutbox(t, "postgres", outbox.Limits{})
	const password, secret = "dsn-pass-7f3a9c", "operator-token-5b81e2d4c6"
	dbURL := strings.Replace(o.URL, "postgres@", "postgres:"+password+"@", 1) // trust auth: accepted, ignored
	db := []string{"--database-url", dbURL, "--schema", o.Schema}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--insecure-no-auth", "--addr", "0.0.0.0:0"}, "loopback"},
		{[]string{"--addr", "127.0.0.1:0"}, "no Tokens"},
		{[]string{"--tokens", "operator:otto:short"}, "at least 16"},
		{[]string{"--tokens", "admin:otto:" + secret}, `role "admin"`},
		{[]string{"--tokens", "operator:otto:" + secret, "--inbox-groups", "g", "--inbox-table", "no_such_inbox"}, "inbox tables missing"},
	} {
		code, out := runCmd(t, append(append([]string{"console"}, tc.args...), db...)...)
		if code == 0 || !strings.Contains(out, tc.want) || strings.Contains(out, password) || strings.Contains(out, secret) {
			t.Errorf("console %v: exit %d, %q; want a failure saying %q, without secrets", tc.args, code, out, tc.want)
		}
	}

	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("# role name secret\noperator otto "+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	p := startProc(t, nil, append([]string{"console", "--addr", addr, "--tokens-file", tokens}, db...)...)
	base := "http://" + addr
	var bodies []string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/login"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the console did not answer:\n%s", p.out)
		}
	}
	for _, path := range []string{"/", "/login", "/dead", "/api/v1/overview", "/api/v1/dead?since=bad", "/api/v1/events/not-an-id",
		"/events/0b6d6f7e-3c1a-4d2b-9a8e-2f4c5d6e7f80", "/api/v1/dead"} {
		for _, bearer := range []string{"", secret} {
			req, _ := http.NewRequest(http.MethodGet, base+path, nil)
			if bearer != "" {
				req.Header.Set("Authorization", "Bearer "+bearer)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			bodies = append(bodies, path+" "+resp.Status+"\n"+string(b))
		}
	}
	p.stop(t, 10*time.Second)
	for _, b := range append(bodies, "the console's output:\n"+p.out.String()) {
		if strings.Contains(b, password) || strings.Contains(b, secret) {
			t.Errorf("a secret shows in %s", b)
		}
	}
	if !strings.Contains(bodies[len(bodies)-1], `"events":[]`) || !strings.Contains(p.out.String(), "serving the console") {
		t.Errorf("the console did not serve: %s\n%s", bodies[len(bodies)-1], p.out)
	}
}
