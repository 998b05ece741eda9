package outboxconsole

import (
	"net/http"

	"github.com/firstunicorn/outbox/outboxstore"
)

// relaysView is the relays page: table mode's relays and leases, or WAL mode's slot,
// whose reader is the one relay that publishes.
type relaysView struct {
	Leases outboxstore.Leases `json:"leases"`
	Slot   *outboxstore.Slot  `json:"slot,omitempty"`
}

func (c *console) relays(r *http.Request) (relaysView, error) {
	var v relaysView
	a := c.cfg.Outbox
	if a.Mode() == outboxstore.WALMode {
		sl, err := a.Slot(r.Context())
		v.Slot = &sl
		v.Leases = outboxstore.Leases{Relays: []outboxstore.Relay{}, Unowned: []int{}}
		return v, err
	}
	var err error
	v.Leases, err = a.Leases(r.Context())
	if v.Leases.Relays == nil {
		v.Leases.Relays = []outboxstore.Relay{}
	}
	return v, err
}

func (c *console) relaysPage(w http.ResponseWriter, r *http.Request, u user) {
	v, err := c.relays(r)
	if err != nil {
		c.fail(w, r, u, false, status(err), err)
		return
	}
	c.render(w, r, u, "relays", v)
}

func (c *console) apiRelays(w http.ResponseWriter, r *http.Request, _ user) {
	v, err := c.relays(r)
	if err != nil {
		c.apiError(w, status(err), err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
