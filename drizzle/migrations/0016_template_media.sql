ALTER TABLE "templates" ADD COLUMN "type" text DEFAULT 'text' NOT NULL;--> statement-breakpoint
ALTER TABLE "templates" ADD COLUMN "media" jsonb;