-- Messages stored before the counters existed are counted once, here.
INSERT INTO "message_stats" ("tenant_id", "session_id", "hour", "total", "queued", "sent", "delivered", "read", "failed", "inbound", "last_success_at", "last_failure_at")
SELECT "tenant_id", "session_id", date_trunc('hour', "created_at" AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
  count(*) FILTER (WHERE "direction" = 'out'),
  count(*) FILTER (WHERE "direction" = 'out' AND "status" IN ('queued', 'sending')),
  count(*) FILTER (WHERE "direction" = 'out' AND "status" IN ('sent', 'delivered', 'read', 'played')),
  count(*) FILTER (WHERE "direction" = 'out' AND "status" IN ('delivered', 'read', 'played')),
  count(*) FILTER (WHERE "direction" = 'out' AND "status" IN ('read', 'played')),
  count(*) FILTER (WHERE "direction" = 'out' AND "status" = 'failed'),
  count(*) FILTER (WHERE "direction" = 'in'),
  max("updated_at") FILTER (WHERE "direction" = 'out' AND "status" IN ('sent', 'delivered', 'read', 'played')),
  max("updated_at") FILTER (WHERE "direction" = 'out' AND "status" = 'failed')
FROM "messages" GROUP BY 1, 2, 3;
--> statement-breakpoint
-- Keeps message_stats for every writer of messages (API inserts, owners' status updates, the stale-send
-- sweep, broadcast cancels, inbound rows). An outbound message moves between queued / sent / failed as
-- its status changes (delivered and read are parts of sent); DELETE is ignored on purpose, so counters
-- survive retention.
CREATE FUNCTION message_stats_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bucket timestamptz := date_trunc('hour', NEW.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  was text := CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END;
  was_sent boolean := coalesce(was IN ('sent', 'delivered', 'read', 'played'), false);
  is_sent boolean := NEW.status IN ('sent', 'delivered', 'read', 'played');
BEGIN
  IF TG_OP = 'UPDATE' AND (OLD.status IS NOT DISTINCT FROM NEW.status OR NEW.direction <> 'out') THEN
    RETURN NULL;
  END IF;
  IF NEW.direction = 'in' THEN
    INSERT INTO message_stats AS s (tenant_id, session_id, hour, inbound)
    VALUES (NEW.tenant_id, NEW.session_id, bucket, 1)
    ON CONFLICT (tenant_id, session_id, hour) DO UPDATE SET inbound = s.inbound + 1;
    RETURN NULL;
  END IF;
  INSERT INTO message_stats AS s (tenant_id, session_id, hour, total, queued, sent, delivered, read, failed,
    last_success_at, last_failure_at)
  VALUES (NEW.tenant_id, NEW.session_id, bucket,
    CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE 0 END,
    (NEW.status IN ('queued', 'sending'))::int - coalesce((was IN ('queued', 'sending'))::int, 0),
    is_sent::int - was_sent::int,
    (NEW.status IN ('delivered', 'read', 'played'))::int - coalesce((was IN ('delivered', 'read', 'played'))::int, 0),
    (NEW.status IN ('read', 'played'))::int - coalesce((was IN ('read', 'played'))::int, 0),
    (NEW.status = 'failed')::int - coalesce((was = 'failed')::int, 0),
    CASE WHEN is_sent AND NOT was_sent THEN now() END,
    CASE WHEN NEW.status = 'failed' THEN now() END)
  ON CONFLICT (tenant_id, session_id, hour) DO UPDATE SET
    total = s.total + EXCLUDED.total, queued = s.queued + EXCLUDED.queued, sent = s.sent + EXCLUDED.sent,
    delivered = s.delivered + EXCLUDED.delivered, read = s.read + EXCLUDED.read,
    failed = s.failed + EXCLUDED.failed,
    last_success_at = GREATEST(s.last_success_at, EXCLUDED.last_success_at),
    last_failure_at = GREATEST(s.last_failure_at, EXCLUDED.last_failure_at);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER messages_count_stats AFTER INSERT OR UPDATE OF status ON messages
  FOR EACH ROW EXECUTE FUNCTION message_stats_count();
