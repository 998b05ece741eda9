// Package outboxconsole is the outbox's operator console: web pages and a JSON API
// under /api/v1/ to see the backlog, the WAL slot and the dead letters, find any event
// by id, and retry or purge dead letters, one, a selection, or all a filter matches.
//
// New returns an http.Handler: the outbox command's console verb serves it, and a
// service can mount it in its own server. It signs in viewers and operators by bearer
// token (the API) or a login form that sets a session cookie (the pages); only
// operators change anything, by POST with a CSRF token, and each change is written to
// the audit log. The pages run no script: the Content-Security-Policy allows none, and
// what events carry (payloads, headers, keys, errors) is escaped as text.
package outboxconsole
