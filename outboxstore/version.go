package outboxstore

import (
	"runtime/debug"
	"sync"
)

// modulePath is this module's, as build info names it.
const modulePath = "github.com/firstunicorn/outbox"

// version is the go-outbox version built into the running binary, which each relay's
// heartbeat records: a module version (v0.1.0), "(devel)" when built inside this
// module's checkout, "" without build info.
var version = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	if bi.Main.Path == modulePath {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == modulePath {
			if d.Replace != nil {
				return d.Replace.Version + " (replaced)"
			}
			return d.Version
		}
	}
	return ""
})
