package dburl

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/firstunicorn/outbox/outboxstore"
)

// openMySQL opens mysql://user:password@host:port/database?param=value (or mariadb://)
// through go-sql-driver/mysql. Query parameters are the driver's DSN parameters; the
// outbox adds interpolateParams=true (one round trip per statement instead of two).
func openMySQL(ctx context.Context, rawURL string, cfg *outboxstore.Config, opt Options) (*Outbox, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("bad database URL: %w", err)
	}
	addr := u.Host
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(u.Host, "3306")
	}
	// The driver's own DSN, so that it checks the parameters it is given.
	dsn := fmt.Sprintf("tcp(%s)/%s", addr, strings.TrimPrefix(u.Path, "/"))
	if u.RawQuery != "" {
		dsn += "?" + u.RawQuery
	}
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("bad database URL %q: %w", redact(rawURL), err)
	}
	mc.User = u.User.Username()
	mc.Passwd, _ = u.User.Password()
	mc.InterpolateParams = true
	if mc.Timeout == 0 {
		mc.Timeout = 10 * time.Second
	}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("bad database URL %q: %w", redact(rawURL), err)
	}
	db := sql.OpenDB(conn)
	if opt.MaxConns > 0 {
		db.SetMaxOpenConns(opt.MaxConns)
	}
	db.SetMaxIdleConns(max(opt.MaxConns, 8))
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, unreachable("MySQL", mc.Addr, err)
	}
	return sqlOutbox(db, outboxstore.MySQL, cfg, mc.Addr)
}
