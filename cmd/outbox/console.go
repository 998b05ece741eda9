package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox/cmd/internal/envflag"
	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxconsole"
)

const defaultConsoleAddr = "127.0.0.1:8089"

// cmdConsole serves the operator console (pages and JSON API) until SIGTERM or SIGINT.
func cmdConsole(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := envflag.New("outbox console", stderr)
	db := addDBFlags(f)
	var (
		addr       = f.String("addr", defaultConsoleAddr, "address to serve the console on")
		tokensFile = f.String("tokens-file", "", "file of tokens, one per line: ROLE NAME SECRET (role viewer or operator; # starts a comment)")
		tokens     = f.String("tokens", "", "tokens as ROLE:NAME:SECRET, comma-separated, added to --tokens-file's (prefer the file: a command line is visible to other users)")
		insecure   = f.Bool("insecure-no-auth", false, "serve without sign-in, everyone an operator; only with --addr on loopback")
		traceURL   = f.String("trace-url", "", "link to an event's trace, {trace_id} replaced: http://127.0.0.1:16686/trace/{trace_id} for Jaeger; default none")
		staleAfter = f.Duration("stale-after", outboxconsole.DefaultStaleAfter, "oldest pending age past which the overview turns red")
		groups     = f.String("inbox-groups", "", "comma-separated consumer groups whose inbox dead letters to show too, from the inbox in the same database and schema; default none")
		inboxTable = f.String("inbox-table", inbox.DefaultTable, "inbox table name, for --inbox-groups")
		brokers    = f.String("kafka-brokers", "", "Kafka brokers the relays publish to: the overview turns red when none answers; default none (not checked)")
		promURL    = f.String("prometheus-url", "", "the Prometheus that scrapes the relays: the overview charts their publish rate; default none")
		promSel    = f.String("prometheus-selector", "", `label matchers for this outbox's relays in Prometheus, as job="orders-relay"; default none (every relay)`)
		logJSON    = f.Bool("log-json", false, "log JSON lines")
	)
	if err := f.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(stderr, "info", *logJSON)
	if err != nil {
		return err
	}
	toks, err := readTokens(*tokensFile, *tokens)
	if err != nil {
		return err
	}
	if *insecure && !loopbackAddr(*addr) {
		return fmt.Errorf("--insecure-no-auth serves anyone who can connect: use it with --addr on a loopback address (127.0.0.1, [::1]) only, not %s", *addr)
	}
	o, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	if err := o.Admin.Check(ctx); err != nil {
		return err
	}
	var inboxes []outboxconsole.InboxGroup
	if *groups != "" {
		in, err := o.Inbox(&inbox.Config{Schema: *db.schema, Table: *inboxTable})
		if err != nil {
			return err
		}
		if err := in.Check(ctx); err != nil {
			return err
		}
		for _, g := range strings.Split(*groups, ",") {
			inboxes = append(inboxes, outboxconsole.InboxGroup{Group: strings.TrimSpace(g), Admin: in})
		}
	}
	var kafka *kgo.Client
	if *brokers != "" {
		bl, err := envflag.Brokers(*brokers)
		if err != nil {
			return err
		}
		// No ping at start: the console is for when things are down too.
		if kafka, err = kgo.NewClient(kgo.SeedBrokers(bl...), kgo.DialTimeout(kafkaDialTimeout)); err != nil {
			return fmt.Errorf("kafka client: %w", err)
		}
		defer kafka.Close()
	}
	h, err := outboxconsole.New(outboxconsole.Config{Outbox: o.Admin, Inboxes: inboxes, Kafka: kafka, PrometheusURL: *promURL, PrometheusSelector: *promSel, Tokens: toks, InsecureNoAuth: *insecure,
		TraceURL: *traceURL, StaleAfter: *staleAfter, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", *addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	log.Info("serving the console", "addr", "http://"+ln.Addr().String(), "table", o.Admin.Table(), "tokens", len(toks))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// readTokens reads the tokens of the file (ROLE NAME SECRET lines) and of the list
// (ROLE:NAME:SECRET, comma-separated). Errors name the line, never the secret.
func readTokens(file, list string) ([]outboxconsole.Token, error) {
	var out []outboxconsole.Token
	if file != "" {
		fh, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("--tokens-file: %w", err)
		}
		defer fh.Close()
		sc := bufio.NewScanner(fh)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			fs := strings.Fields(line)
			if len(fs) != 3 {
				return nil, fmt.Errorf("--tokens-file %s line %d: want ROLE NAME SECRET, got %d fields", file, n, len(fs))
			}
			out = append(out, outboxconsole.Token{Role: outboxconsole.Role(fs[0]), Name: fs[1], Secret: fs[2]})
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("--tokens-file: %w", err)
		}
	}
	for i, t := range strings.Split(list, ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		fs := strings.SplitN(t, ":", 3)
		if len(fs) != 3 {
			return nil, fmt.Errorf("--tokens entry %d: want ROLE:NAME:SECRET", i+1)
		}
		out = append(out, outboxconsole.Token{Role: outboxconsole.Role(fs[0]), Name: fs[1], Secret: fs[2]})
	}
	return out, nil
}

// loopbackAddr says whether addr listens on a loopback address only.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
