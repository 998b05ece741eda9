package sqldb

import (
	"bufio"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Style is how a database numbers its placeholders.
type Style int

const (
	// Dollar is PostgreSQL's $1, $2: statements run as written, list arguments are arrays.
	Dollar Style = iota
	// Question is MySQL's and SQLite's ?: each $n of the file becomes a ? with its
	// argument in place (repeated where $n repeats), and a list argument (Int64s, Keys)
	// becomes one ? per element.
	Question
)

// Vars fill in the {{name}} placeholders of a dialect's SQL: table names and the like,
// validated before they get here.
type Vars map[string]string

var varRe = regexp.MustCompile(`\{\{([a-z_]+)\}\}`)

// Render replaces every {{name}} in sql with its value and fails on a name it lacks.
func (v Vars) Render(sql string) (string, error) {
	var missing string
	out := varRe.ReplaceAllStringFunc(sql, func(m string) string {
		name := m[2 : len(m)-2]
		val, ok := v[name]
		if !ok && missing == "" {
			missing = name
		}
		return val
	})
	if missing != "" {
		return "", fmt.Errorf("unknown placeholder {{%s}}", missing)
	}
	return out, nil
}

// Stmt is one named statement of a dialect, ready to bind.
type Stmt struct {
	Name  string
	sql   string   // Dollar: the statement as written
	parts []string // Question: the text around each placeholder
	args  []int    // Question: which argument each placeholder takes
}

var dollarRe = regexp.MustCompile(`\$([0-9]+)`)

func newStmt(name, sql string, style Style) (*Stmt, error) {
	s := &Stmt{Name: name, sql: sql}
	if style == Dollar {
		return s, nil
	}
	last := 0
	for _, m := range dollarRe.FindAllStringSubmatchIndex(sql, -1) {
		n, _ := strconv.Atoi(sql[m[2]:m[3]])
		if n < 1 {
			return nil, fmt.Errorf("query %s: placeholder $0", name)
		}
		s.parts = append(s.parts, sql[last:m[0]])
		s.args = append(s.args, n-1)
		last = m[1]
	}
	s.parts = append(s.parts, sql[last:])
	return s, nil
}

// Bind returns the statement's text and arguments for the database's placeholders.
func (s *Stmt) Bind(args ...any) (string, []any) {
	if s.parts == nil {
		return s.sql, args
	}
	var b strings.Builder
	out := make([]any, 0, len(s.args))
	for i, a := range s.args {
		b.WriteString(s.parts[i])
		arg := args[a]
		l, ok := arg.(list)
		if !ok {
			b.WriteByte('?')
			out = append(out, arg)
			continue
		}
		elems := l.elems()
		if len(elems) == 0 {
			b.WriteString("NULL") // IN (NULL) matches nothing
		}
		for j, v := range elems {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('?')
			out = append(out, v)
		}
	}
	b.WriteString(s.parts[len(s.parts)-1])
	return b.String(), out
}

// Queries are a dialect's named statements.
type Queries map[string]*Stmt

// LoadQueries parses a file of named statements, each starting with a line
// "-- name: NAME"; other comment lines are dropped, {{placeholders}} are filled from
// vars, and a trailing semicolon is removed. It fails when one of required is missing.
func LoadQueries(file string, vars Vars, style Style, required ...string) (Queries, error) {
	q := Queries{}
	var name string
	var body strings.Builder
	flush := func() error {
		if name == "" {
			return nil
		}
		text, err := vars.Render(strings.TrimSuffix(strings.TrimSpace(body.String()), ";"))
		if err != nil {
			return fmt.Errorf("query %s: %w", name, err)
		}
		if q[name], err = newStmt(name, text, style); err != nil {
			return err
		}
		body.Reset()
		return nil
	}
	sc := bufio.NewScanner(strings.NewReader(file))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if n, ok := strings.CutPrefix(trimmed, "-- name:"); ok {
			if err := flush(); err != nil {
				return nil, err
			}
			name = strings.TrimSpace(n)
			if q[name] != nil {
				return nil, fmt.Errorf("query %s defined twice", name)
			}
			continue
		}
		if strings.HasPrefix(trimmed, "--") || name == "" {
			continue
		}
		body.WriteString(line)
		body.WriteByte('\n')
	}
	if err := flush(); err != nil {
		return nil, err
	}
	for _, r := range required {
		if q[r] == nil {
			return nil, fmt.Errorf("query %s is missing", r)
		}
	}
	return q, nil
}
