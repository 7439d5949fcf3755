CREATE TABLE "chats" (
	"session_id" text NOT NULL,
	"tenant_id" text NOT NULL,
	"chat_id" text NOT NULL,
	"name" text,
	"unread_count" integer DEFAULT 0 NOT NULL,
	"last_message_id" text,
	"last_activity_at" timestamp with time zone DEFAULT 'epoch' NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "chats_session_id_chat_id_pk" PRIMARY KEY("session_id","chat_id")
);
--> statement-breakpoint
CREATE TABLE "contacts" (
	"session_id" text NOT NULL,
	"tenant_id" text NOT NULL,
	"jid" text NOT NULL,
	"lid" text,
	"push_name" text,
	"saved_name" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "contacts_session_id_jid_pk" PRIMARY KEY("session_id","jid")
);
--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "sender" text;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "sender_name" text;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "wa_timestamp" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "retention_days" integer DEFAULT 90 NOT NULL;--> statement-breakpoint
ALTER TABLE "chats" ADD CONSTRAINT "chats_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "contacts" ADD CONSTRAINT "contacts_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "chats_activity_idx" ON "chats" USING btree ("session_id","last_activity_at","chat_id");--> statement-breakpoint
CREATE INDEX "contacts_lid_idx" ON "contacts" USING btree ("session_id","lid");--> statement-breakpoint
CREATE INDEX "contacts_tenant_jid_idx" ON "contacts" USING btree ("tenant_id","jid");--> statement-breakpoint
CREATE INDEX "contacts_tenant_lid_idx" ON "contacts" USING btree ("tenant_id","lid");--> statement-breakpoint
CREATE UNIQUE INDEX "messages_inbound_idx" ON "messages" USING btree ("session_id","chat_id","wa_message_id") WHERE direction = 'in';--> statement-breakpoint
CREATE INDEX "messages_tenant_history_idx" ON "messages" USING btree ("tenant_id","id");--> statement-breakpoint
CREATE INDEX "messages_session_history_idx" ON "messages" USING btree ("session_id","id");--> statement-breakpoint
CREATE INDEX "messages_chat_history_idx" ON "messages" USING btree ("tenant_id","chat_id","id");--> statement-breakpoint
CREATE INDEX "messages_metadata_idx" ON "messages" USING gin ("metadata" jsonb_path_ops);