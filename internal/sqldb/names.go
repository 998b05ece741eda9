package sqldb

import (
	"fmt"
	"regexp"

	"github.com/firstunicorn/outbox"
)

// Names are one outbox's validated identifiers.
type Names struct {
	// Schema and Table as configured, defaults applied.
	Schema, Table string
	// Qualified is the outbox table's quoted, qualified name, for messages and for SQL
	// written by hand.
	Qualified string
	// Vars fill the dialect's SQL: {{table}}, {{leases}}, {{relays}}, {{migrations}},
	// {{locks}} and whatever else the dialect names.
	Vars Vars
}

var identRe = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// CheckIdent accepts only lower-case letters, digits and '_', not starting with a
// digit, up to max characters, which rules out SQL injection through configuration and
// case-folding surprises alike. field names the setting in the error, fix what to do.
func CheckIdent(field, value string, max int, fix string) error {
	if !identRe.MatchString(value) || len(value) > max {
		return fmt.Errorf("%w: %s %q: use 1-%d lower-case letters, digits or '_', not starting with a digit%s",
			outbox.ErrInvalidConfig, field, value, max, fix)
	}
	return nil
}
