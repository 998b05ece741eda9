-- The consumer inbox on MySQL / MariaDB. One row per event a consumer group has handled
-- (or dead-lettered): its primary key makes a redelivered event a duplicate. Times are
-- UTC. Each statement may run again, as in the outbox's migrations.
CREATE TABLE IF NOT EXISTS {{table}} (
	consumer_group VARCHAR(255) NOT NULL,
	event_id       VARCHAR(255) NOT NULL,
	topic          VARCHAR(249) CHARACTER SET ascii NOT NULL,
	kpartition     INT          NOT NULL,
	koffset        BIGINT       NOT NULL,
	handled_at     DATETIME(6)  NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
	PRIMARY KEY (consumer_group, event_id),
	KEY handled_idx (handled_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Dead events, with the record to hand them again when an operator asks (retry = 1).
CREATE TABLE IF NOT EXISTS {{dead}} (
	id             BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
	consumer_group VARCHAR(255) NOT NULL,
	event_id       VARCHAR(255) NOT NULL,
	topic          VARCHAR(249) CHARACTER SET ascii NOT NULL,
	kpartition     INT          NOT NULL,
	koffset        BIGINT       NOT NULL,
	record_key     BLOB,
	record_value   LONGBLOB,
	headers        LONGTEXT     NOT NULL,
	record_time    BIGINT       NOT NULL,
	error          TEXT         NOT NULL,
	attempts       INT          NOT NULL,
	dead_at        DATETIME(6)  NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
	retry          BOOLEAN      NOT NULL DEFAULT FALSE,
	UNIQUE KEY event_key (consumer_group, event_id),
	KEY retry_idx (consumer_group, retry, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
