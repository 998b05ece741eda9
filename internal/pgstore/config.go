package pgstore

import (
	"reflect"

	"github.com/firstunicorn/outbox"
)

// Setup validates the settings both adapters expose and returns the names and limits.
func Setup(schema, table string, lim outbox.Limits) (Names, outbox.Limits, error) {
	n, err := NewNames(schema, table)
	if err != nil {
		return Names{}, lim, err
	}
	if err := lim.Validate(); err != nil {
		return Names{}, lim, err
	}
	return n, lim.WithDefaults(), nil
}

// IsNil reports whether v is nil or a typed nil pointer, as a nil *sql.Tx in an interface.
func IsNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return rv.IsNil()
	}
	return false
}
