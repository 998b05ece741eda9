-- The consumer inbox on SQLite. One row per event a consumer group has handled (or
-- dead-lettered): its primary key makes a redelivered event a duplicate. Times are Unix
-- microseconds.
CREATE TABLE IF NOT EXISTS {{table}} (
	consumer_group TEXT    NOT NULL,
	event_id       TEXT    NOT NULL,
	topic          TEXT    NOT NULL,
	kpartition     INTEGER NOT NULL,
	koffset        INTEGER NOT NULL,
	handled_at     INTEGER NOT NULL DEFAULT ({{now}}),
	PRIMARY KEY (consumer_group, event_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS {{name_handled_idx}} ON {{table}} (handled_at);

-- Dead events, with the record to hand them again when an operator asks (retry = 1).
CREATE TABLE IF NOT EXISTS {{dead}} (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	consumer_group TEXT    NOT NULL,
	event_id       TEXT    NOT NULL,
	topic          TEXT    NOT NULL,
	kpartition     INTEGER NOT NULL,
	koffset        INTEGER NOT NULL,
	record_key     BLOB,
	record_value   BLOB,
	headers        TEXT    NOT NULL DEFAULT '[]',
	record_time    INTEGER NOT NULL,
	error          TEXT    NOT NULL,
	attempts       INTEGER NOT NULL,
	dead_at        INTEGER NOT NULL DEFAULT ({{now}}),
	retry          INTEGER NOT NULL DEFAULT 0,
	UNIQUE (consumer_group, event_id)
);
CREATE INDEX IF NOT EXISTS {{name_retry_idx}} ON {{dead}} (consumer_group, id) WHERE retry;
