ALTER TABLE "tenants" ADD COLUMN "default_country" text;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "time_zone" text;