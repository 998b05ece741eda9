package mysql

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/firstunicorn/outbox/internal/sqldb"
)

// Check refuses a server without what the outbox uses: SKIP LOCKED (MariaDB 10.6,
// MySQL 8.0.1) and expressions as column defaults (MySQL 8.0.13).
func (d *Dialect) Check(ctx context.Context, db sqldb.DB) error {
	_, err := d.isMariaDB(ctx, db)
	return err
}

// isMariaDB tells MariaDB from MySQL, checking the version the first time.
func (d *Dialect) isMariaDB(ctx context.Context, db sqldb.Querier) (bool, error) {
	d.server.Lock()
	defer d.server.Unlock()
	if d.server.checked {
		return d.server.mariadb, nil
	}
	var version string
	if err := sqldb.ScanRow(ctx, db, `SELECT VERSION()`, nil, &version); err != nil {
		return false, err
	}
	mariadb, err := checkVersion(version)
	if err != nil {
		return false, err
	}
	d.server.checked, d.server.mariadb = true, mariadb
	return mariadb, nil
}

var versionRe = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)`)

// checkVersion parses VERSION() ("10.11.19-MariaDB-0+deb12u1", "8.0.36") and refuses
// what is too old, naming what is needed.
func checkVersion(v string) (mariadb bool, err error) {
	m := versionRe.FindStringSubmatch(v)
	if m == nil {
		return false, fmt.Errorf("%w: cannot read the server version %q", sqldb.ErrUnsupported, v)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	patch, _ := strconv.Atoi(m[3])
	at := major*10000 + minor*100 + patch
	if strings.Contains(v, "MariaDB") {
		if at < 100600 {
			return true, fmt.Errorf("%w: MariaDB %s has no SELECT ... SKIP LOCKED: go-outbox needs MariaDB 10.6 or later",
				sqldb.ErrUnsupported, m[0])
		}
		return true, nil
	}
	if at < 80013 {
		return false, fmt.Errorf("%w: MySQL %s lacks SKIP LOCKED (8.0.1) or expression defaults (8.0.13): go-outbox needs MySQL 8.0.13 or later",
			sqldb.ErrUnsupported, m[0])
	}
	return false, nil
}

// idleTimeout is the session variable that ends a transaction left idle: MariaDB has
// one for that; MySQL ends any connection idle that long, which in a batch's
// transaction comes to the same.
func idleTimeout(mariadb bool) string {
	if mariadb {
		return "idle_transaction_timeout"
	}
	return "wait_timeout"
}
