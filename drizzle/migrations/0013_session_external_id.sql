ALTER TABLE "sessions" ADD COLUMN "external_id" text;--> statement-breakpoint
CREATE UNIQUE INDEX "sessions_external_id_idx" ON "sessions" USING btree ("tenant_id","external_id");