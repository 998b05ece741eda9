-- The MySQL / MariaDB outbox. seq is the commit order the relay publishes in; bucket
-- hashes the key (or, without a key, the id) into one of 64 buckets that relays lease.
-- Times are UTC. Each statement stands alone and may run again: MySQL commits DDL
-- statement by statement, so a migration that stopped half-way is simply run again.
CREATE TABLE IF NOT EXISTS {{table}} (
	seq            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
	id             VARCHAR(36)  CHARACTER SET ascii NOT NULL,
	topic          VARCHAR(249) CHARACTER SET ascii NOT NULL,
	`key`          BLOB,
	bucket         TINYINT UNSIGNED AS (CASE WHEN `key` IS NULL THEN CRC32(id) ELSE CRC32(`key`) END % 64) STORED,
	event_type     TEXT         NOT NULL DEFAULT (''),
	aggregate_type TEXT         NOT NULL DEFAULT (''),
	aggregate_id   TEXT         NOT NULL DEFAULT (''),
	payload        LONGBLOB,
	headers        LONGTEXT     NOT NULL DEFAULT ('{}'),
	occurred_at    DATETIME(6)  NOT NULL,
	created_at     DATETIME(6)  NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
	status         ENUM('pending', 'published', 'dead') NOT NULL DEFAULT 'pending',
	attempts       INT          NOT NULL DEFAULT 0,
	available_at   DATETIME(6)  NOT NULL DEFAULT '1970-01-01 00:00:00',
	last_error     TEXT,
	published_at   DATETIME(6),
	UNIQUE KEY id_key (id),
	-- Claim: a bucket's pending rows in seq order; also a bucket's dead rows.
	KEY claim_idx (status, bucket, seq),
	-- Blocked keys: pending rows waiting for a retry (few).
	KEY blocked_idx (status, attempts),
	-- Purge of retained published rows.
	KEY published_idx (status, published_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- One row per bucket; a relay owns a bucket while expires_at is in the future.
CREATE TABLE IF NOT EXISTS {{leases}} (
	bucket     TINYINT UNSIGNED NOT NULL PRIMARY KEY,
	owner      VARCHAR(255) NOT NULL DEFAULT '',
	expires_at DATETIME(6)  NOT NULL DEFAULT '1970-01-01 00:00:00'
) ENGINE = InnoDB;
INSERT IGNORE INTO {{leases}} (bucket)
	WITH RECURSIVE b (n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM b WHERE n < 63) SELECT n FROM b;

-- Live relays, so each can take its fair share of buckets.
CREATE TABLE IF NOT EXISTS {{relays}} (
	id      VARCHAR(255) NOT NULL PRIMARY KEY,
	seen_at DATETIME(6)  NOT NULL
) ENGINE = InnoDB;

-- A batch locks the rows of its buckets here, FOR UPDATE SKIP LOCKED, in its own
-- transaction: MySQL has no transaction-scoped advisory locks. The lease table is
-- apart, so renewing leases never waits for a batch.
CREATE TABLE IF NOT EXISTS {{locks}} (
	bucket TINYINT UNSIGNED NOT NULL PRIMARY KEY
) ENGINE = InnoDB;
INSERT IGNORE INTO {{locks}} (bucket)
	WITH RECURSIVE b (n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM b WHERE n < 63) SELECT n FROM b;
