-- When each dead event died, for the operator's listing and for purging what has been
-- dead for a while. NULL for rows that died before this column existed, and for rows
-- that are not dead. MySQL 8 has no ADD COLUMN IF NOT EXISTS, and a migrator that died
-- after the ALTER runs this again: the column is added only when it is missing.
SET @outbox_add_dead_at = (SELECT IF(COUNT(*) = 0,
	'ALTER TABLE {{table}} ADD COLUMN dead_at DATETIME(6) NULL', 'DO 0')
	FROM information_schema.COLUMNS
	WHERE TABLE_SCHEMA = COALESCE(NULLIF('{{schema_name}}', ''), DATABASE())
	AND TABLE_NAME = '{{table_name}}' AND COLUMN_NAME = 'dead_at');
PREPARE outbox_add_dead_at FROM @outbox_add_dead_at;
EXECUTE outbox_add_dead_at;
DEALLOCATE PREPARE outbox_add_dead_at;
