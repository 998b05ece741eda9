package outboxconsole_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxconsole"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// Every answer of the API, errors included, in table and WAL mode and for an inbox
// group, matches the OpenAPI description it serves; and so does every request.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	o, ib := outboxWithInbox(t)
	table := newSite(t, o, outboxconsole.Config{Inboxes: []outboxconsole.InboxGroup{{Group: "g", Admin: ib.Admin()}}})
	ids := table.seed(t)
	wal := newSite(t, testenv.NewWALOutbox(t, outbox.Limits{}), outboxconsole.Config{})

	c := client(t)
	code, spec, _ := get(t, c, table.URL+"/api/v1/openapi.yaml", viewerSecret)
	if code != http.StatusOK || !bytes.Equal([]byte(spec), outboxconsole.OpenAPI) {
		t.Fatalf("GET openapi.yaml: %d", code)
	}
	doc, err := openapi3.NewLoader().LoadFromData(outboxconsole.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI file: %v", err)
	}
	calls := []struct {
		site                       *site
		method, path, bearer, body string
		want                       int
	}{
		{table, "GET", "/overview", viewerSecret, "", 200},
		{wal, "GET", "/overview", viewerSecret, "", 200},
		{table, "GET", "/relays", viewerSecret, "", 200},
		{table, "GET", "/topics", viewerSecret, "", 200},
		{wal, "GET", "/topics", viewerSecret, "", 200},
		{wal, "GET", "/relays", viewerSecret, "", 200},
		{table, "GET", "/dead?topic=" + table.topic + "&error=topic&limit=2", viewerSecret, "", 200},
		{table, "GET", "/dead?since=2020-01-01T00:00:00Z&until=2100-01-01T00:00:00Z", viewerSecret, "", 200},
		{table, "GET", "/dead?limit=5000", viewerSecret, "", 400},
		{table, "GET", "/dead", "", "", 401},
		{wal, "GET", "/dead", viewerSecret, "", 200},
		{table, "GET", "/events/" + ids[4], viewerSecret, "", 200},
		{table, "GET", "/events/0b6d6f7e-3c1a-4d2b-9a8e-2f4c5d6e7f80", viewerSecret, "", 200},
		{table, "GET", "/events/nope", viewerSecret, "", 400},
		{table, "POST", "/dead/retry", viewerSecret, `{"ids":["` + ids[0] + `"]}`, 403},
		{table, "POST", "/dead/retry", operatorSecret, `{"ids":["` + ids[0] + `"]}`, 200},
		{table, "POST", "/dead/retry", operatorSecret, `{"filter":{"key":"k","error":"unknown"}}`, 200},
		{table, "POST", "/dead/purge", operatorSecret, `{"filter":{}}`, 200},
		{table, "POST", "/dead/purge", operatorSecret, `{}`, 400},
		{table, "GET", "/inbox/g/dead?limit=10", viewerSecret, "", 200},
		{table, "GET", "/inbox/nosuch/dead", viewerSecret, "", 404},
		{table, "POST", "/inbox/g/dead/retry", operatorSecret, `{"ids":["x"]}`, 200},
		{table, "POST", "/inbox/g/dead/purge", operatorSecret, `{"filter":{"topic":"t"}}`, 200},
	}
	for _, call := range calls {
		srv := *doc
		srv.Servers = openapi3.Servers{{URL: call.site.URL + "/api/v1"}}
		router, err := gorillamux.NewRouter(&srv)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(call.method, call.site.URL+"/api/v1"+call.path, strings.NewReader(call.body))
		if call.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if call.bearer != "" {
			req.Header.Set("Authorization", "Bearer "+call.bearer)
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatalf("%s %s: no route in the OpenAPI file: %v", call.method, call.path, err)
		}
		opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
		if call.want < 400 {
			if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
				t.Errorf("%s %s: the request does not match the OpenAPI file: %v", call.method, call.path, err)
			}
			req.Body = io.NopCloser(strings.NewReader(call.body))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != call.want {
			t.Errorf("%s %s: %d %s, want %d", call.method, call.path, resp.StatusCode, body, call.want)
			continue
		}
		rin := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
			Body: io.NopCloser(bytes.NewReader(body)), Options: opts}
		if err := openapi3filter.ValidateResponse(context.Background(), rin); err != nil {
			t.Errorf("%s %s: the answer does not match the OpenAPI file: %v\n%s", call.method, call.path, err, body)
		}
	}
}
