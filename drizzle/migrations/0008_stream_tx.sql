ALTER TABLE "events" ADD COLUMN "tx" "xid8" DEFAULT pg_current_xact_id() NOT NULL;--> statement-breakpoint
CREATE INDEX "events_tenant_tx_idx" ON "events" USING btree ("tenant_id","tx","id");