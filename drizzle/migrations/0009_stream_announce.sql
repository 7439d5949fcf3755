-- Live streams: every committed outbox row is announced to the control-planes' LISTEN on `wa_events`
-- with the payload `<tenantId>:<tx>`. Postgres delivers a NOTIFY only when its transaction commits and
-- folds identical payloads of one transaction into one (see docs/ARCHITECTURE.md, "Live streams").
CREATE OR REPLACE FUNCTION events_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('wa_events', NEW.tenant_id || ':' || NEW.tx::text);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER events_announce AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_announce();
