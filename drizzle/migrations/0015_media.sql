CREATE TABLE "media_chunks" (
	"message_id" text NOT NULL,
	"seq" integer NOT NULL,
	"data" "bytea" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "media_chunks_message_id_seq_pk" PRIMARY KEY("message_id","seq")
);
--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "media_source" jsonb;--> statement-breakpoint
CREATE INDEX "media_chunks_created_idx" ON "media_chunks" USING btree ("created_at");