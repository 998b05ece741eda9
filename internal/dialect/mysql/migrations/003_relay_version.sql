-- Each relay's go-outbox version, which its heartbeat writes: the operator console shows
-- it. Added only when missing, as 002 does dead_at.
SET @outbox_add_version = (SELECT IF(COUNT(*) = 0,
	'ALTER TABLE {{relays}} ADD COLUMN version VARCHAR(64) NOT NULL DEFAULT ''''', 'DO 0')
	FROM information_schema.COLUMNS
	WHERE TABLE_SCHEMA = COALESCE(NULLIF('{{schema_name}}', ''), DATABASE())
	AND TABLE_NAME = '{{table_name}}_relays' AND COLUMN_NAME = 'version');
PREPARE outbox_add_version FROM @outbox_add_version;
EXECUTE outbox_add_version;
DEALLOCATE PREPARE outbox_add_version;
