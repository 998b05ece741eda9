-- Wake-ups for idle relays. A relay that found nothing to do for a while sets waiting
-- and LISTENs; the insert trigger notifies only while some relay waits, because NOTIFY
-- serialises the commits of notifying transactions: busy relays poll a cheap watermark
-- (the seq sequence) instead, and writers then pay nothing.
ALTER TABLE {{relays}} ADD COLUMN IF NOT EXISTS waiting boolean NOT NULL DEFAULT false;

CREATE OR REPLACE FUNCTION {{notify_fn}}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM {{relays}} WHERE waiting) THEN
		PERFORM pg_notify('{{channel}}', '');
	END IF;
	RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS {{notify_trigger}} ON {{table}};
CREATE TRIGGER {{notify_trigger}} AFTER INSERT ON {{table}} FOR EACH STATEMENT EXECUTE FUNCTION {{notify_fn}}();
