-- The consumer inbox. One row per event a consumer group has handled (or dead-lettered):
-- its primary key is what makes a redelivered event a duplicate. Rows older than the
-- dedupe window are purged by handled_at.
CREATE TABLE IF NOT EXISTS {{table}} (
	consumer_group text        NOT NULL,
	event_id       text        NOT NULL,
	topic          text        NOT NULL,
	kpartition     int         NOT NULL,
	koffset        bigint      NOT NULL,
	handled_at     timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (consumer_group, event_id)
);
CREATE INDEX IF NOT EXISTS {{name_handled_idx}} ON {{table}} (handled_at);

-- Events whose handler failed for good, with the record to hand them again when an
-- operator asks (retry = true): the running consumers pick those up.
CREATE TABLE IF NOT EXISTS {{dead}} (
	id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	consumer_group text        NOT NULL,
	event_id       text        NOT NULL,
	topic          text        NOT NULL,
	kpartition     int         NOT NULL,
	koffset        bigint      NOT NULL,
	record_key     bytea,
	record_value   bytea,
	headers        text        NOT NULL DEFAULT '[]',
	record_time    bigint      NOT NULL, -- the record's Kafka timestamp, Unix microseconds
	error          text        NOT NULL,
	attempts       int         NOT NULL,
	dead_at        timestamptz NOT NULL DEFAULT now(),
	retry          boolean     NOT NULL DEFAULT false,
	UNIQUE (consumer_group, event_id)
);
CREATE INDEX IF NOT EXISTS {{name_retry_idx}} ON {{dead}} (consumer_group, id) WHERE retry;
