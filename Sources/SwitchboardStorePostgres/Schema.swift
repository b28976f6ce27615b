// The PostgreSQL schema, as numbered migrations. Each is a list of single statements (the
// extended query protocol takes one statement per query) applied in one transaction under an
// advisory lock, so processes starting together apply each migration exactly once.
//
// Times are seconds since 1970 in `double precision`, as in the SQLite store: a `Date` goes in
// and comes back bit for bit (a `timestamptz` would round it to microseconds), and both stores
// share one notion of "due".

struct Migration: Sendable {
    let version: Int
    let name: String
    let statements: [String]
}

enum Schema {
    /// Any constant the gateway alone uses: `pg_advisory_xact_lock` takes a bigint key.
    static let migrationLockKey: Int64 = 0x5357_4254_4348_4D47  // "SWBTCHMG"

    static let migrations: [Migration] = [
        Migration(version: 1, name: "schema of SQLite v1–v7", statements: [
            """
            CREATE TABLE chats (
              id text PRIMARY KEY,
              channel_id text NOT NULL,
              conversation_key text NOT NULL,
              employee_id text NOT NULL,
              title text NOT NULL,
              client_name text,
              search_text text NOT NULL,
              created_at double precision NOT NULL,
              last_client_message_at double precision,
              unreachable boolean NOT NULL DEFAULT false,
              ai_paused_until double precision,
              reply_due_at double precision,
              reply_lease_owner text,
              reply_lease_until double precision,
              reply_attempts integer NOT NULL DEFAULT 0,
              UNIQUE (channel_id, conversation_key))
            """,
            "CREATE INDEX chats_reply_due ON chats(reply_due_at) WHERE reply_due_at IS NOT NULL",
            """
            CREATE TABLE messages (
              id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
              chat_id text NOT NULL REFERENCES chats(id),
              channel_id text NOT NULL,
              provider_message_id text,
              author text NOT NULL,
              kind text NOT NULL,
              text text NOT NULL,
              at double precision NOT NULL,
              is_edit boolean NOT NULL DEFAULT false,
              followup_step integer,
              outbox_id bigint,
              delivered_at double precision,
              delivery_state text,
              delivery_error text)
            """,
            // Deduplicates what providers deliver to us: the insert that loses the race does
            // nothing (`ON CONFLICT DO NOTHING`), however many processes take the same webhook.
            // Ids of what we sent live in another number space and are not constrained.
            """
            CREATE UNIQUE INDEX messages_inbound_id ON messages(channel_id, provider_message_id)
              WHERE provider_message_id IS NOT NULL AND author IN ('client', 'system')
            """,
            "CREATE INDEX messages_chat ON messages(chat_id, id)",
            """
            CREATE TABLE followups (
              chat_id text PRIMARY KEY REFERENCES chats(id),
              employee_id text NOT NULL,
              status text NOT NULL,
              sends_at double precision,
              state text NOT NULL,
              lease_owner text,
              lease_until double precision,
              search_text text NOT NULL DEFAULT '')
            """,
            "CREATE INDEX followups_due ON followups(sends_at) WHERE status = 'scheduled'",
            "CREATE INDEX followups_leased ON followups(lease_until) WHERE lease_until IS NOT NULL",
            "CREATE INDEX followups_pending ON followups(sends_at, chat_id) WHERE status IN ('scheduled', 'sending')",
            "CREATE INDEX followups_pending_employee ON followups(employee_id, sends_at, chat_id) WHERE status IN ('scheduled', 'sending')",
            """
            CREATE TABLE decisions (
              id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
              chat_id text NOT NULL REFERENCES chats(id),
              at double precision NOT NULL,
              kind text NOT NULL,
              reason text NOT NULL,
              run integer NOT NULL,
              step integer,
              due double precision,
              sends_at double precision,
              detail text)
            """,
            "CREATE INDEX decisions_chat ON decisions(chat_id, id)",
            """
            CREATE TABLE outbox (
              id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
              chat_id text NOT NULL REFERENCES chats(id),
              purpose text NOT NULL,
              idempotency_key text NOT NULL,
              text text NOT NULL,
              delivery text NOT NULL,
              author text NOT NULL,
              status text NOT NULL,
              attempts integer NOT NULL DEFAULT 0,
              next_attempt_at double precision NOT NULL,
              lease_owner text,
              lease_until double precision,
              last_error text,
              sent_at double precision,
              followup_run integer,
              followup_step integer,
              UNIQUE (chat_id, idempotency_key))
            """,
            "CREATE INDEX outbox_due ON outbox(status, next_attempt_at)",
            """
            CREATE TABLE token_usage (
              id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
              employee_id text NOT NULL,
              chat_id text NOT NULL,
              purpose text NOT NULL,
              prompt_tokens integer NOT NULL,
              completion_tokens integer NOT NULL,
              model text NOT NULL,
              at double precision NOT NULL,
              outbox_id bigint)
            """,
            "CREATE INDEX token_usage_employee ON token_usage(employee_id, at)",
            "CREATE INDEX token_usage_chat ON token_usage(chat_id)",
            "CREATE TABLE cursors (name text PRIMARY KEY, value text NOT NULL)",
            // Providers report delivered/read/failed per message id, and a long text split into
            // parts has one id per part: every id of a sent message points back at it.
            """
            CREATE TABLE outbound_ids (
              channel_id text NOT NULL,
              provider_message_id text NOT NULL,
              message_id bigint NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
              PRIMARY KEY (channel_id, provider_message_id))
            """,
        ]),
        Migration(version: 2, name: "trigram index for the follow-ups search", statements: [
            // The Follow-ups search is a substring match (`LIKE '%…%'`) on the normalized text;
            // pg_trgm makes it an index lookup. The extension is trusted (PostgreSQL 13+), so a
            // database owner may create it; where it is missing or refused, the search still
            // works, by scanning the pending rows.
            """
            DO $$ BEGIN
              CREATE EXTENSION IF NOT EXISTS pg_trgm;
            EXCEPTION WHEN OTHERS THEN
              RAISE NOTICE 'pg_trgm unavailable (%): the follow-ups search scans pending reminders', SQLERRM;
            END $$
            """,
            """
            DO $$ BEGIN
              IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
                CREATE INDEX followups_pending_search ON followups USING gin (search_text gin_trgm_ops)
                  WHERE status IN ('scheduled', 'sending');
              END IF;
            END $$
            """,
        ]),
        Migration(version: 3, name: "the Chats inbox: activity order, state columns, message search", statements: [
            // What the inbox sorts and filters by, on the chat itself, kept in step by triggers
            // (as in SQLite's v8-chat-inbox), so no write path has to remember them.
            "ALTER TABLE chats ADD COLUMN last_activity_at double precision NOT NULL DEFAULT 0",
            "ALTER TABLE chats ADD COLUMN last_author text",
            "ALTER TABLE chats ADD COLUMN followup_status text NOT NULL DEFAULT 'idle'",
            "ALTER TABLE chats ADD COLUMN opted_out boolean NOT NULL DEFAULT false",
            "ALTER TABLE chats ADD COLUMN dead_letters integer NOT NULL DEFAULT 0",
            // Normalized text (SearchText.normalize) written with each message; older messages
            // get their lower-cased text, which finds them by case-insensitive search.
            "ALTER TABLE messages ADD COLUMN search_text text",
            "UPDATE messages SET search_text = lower(text)",
            """
            UPDATE chats SET
              last_activity_at = greatest(created_at, coalesce((SELECT max(m.at) FROM messages m WHERE m.chat_id = chats.id), 0)),
              last_author = (SELECT m.author FROM messages m
                             WHERE m.chat_id = chats.id AND m.author <> 'system' AND NOT m.is_edit AND m.kind <> 'reaction'
                             ORDER BY m.id DESC LIMIT 1),
              followup_status = coalesce((SELECT f.status FROM followups f WHERE f.chat_id = chats.id), 'idle'),
              opted_out = coalesce((SELECT (f.state::jsonb ->> 'optOut') = 'client' FROM followups f WHERE f.chat_id = chats.id), false),
              dead_letters = (SELECT count(*) FROM outbox o WHERE o.chat_id = chats.id AND o.status = 'dead')
            """,
            "CREATE INDEX chats_activity ON chats(last_activity_at DESC, id DESC)",
            "CREATE INDEX chats_employee_activity ON chats(employee_id, last_activity_at DESC, id DESC)",
            "CREATE INDEX chats_channel_activity ON chats(channel_id, last_activity_at DESC, id DESC)",
            "CREATE INDEX chats_waiting ON chats(last_activity_at DESC, id DESC) WHERE last_author = 'client'",
            "CREATE INDEX chats_scheduled ON chats(last_activity_at DESC, id DESC) WHERE followup_status IN ('scheduled', 'sending')",
            "CREATE INDEX chats_finished ON chats(last_activity_at DESC, id DESC) WHERE followup_status = 'finished'",
            "CREATE INDEX chats_opted_out ON chats(last_activity_at DESC, id DESC) WHERE opted_out",
            "CREATE INDEX chats_unreachable ON chats(last_activity_at DESC, id DESC) WHERE unreachable",
            "CREATE INDEX chats_dead_letters ON chats(last_activity_at DESC, id DESC) WHERE dead_letters > 0",
            """
            CREATE FUNCTION switchboard_inbox_created() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              NEW.last_activity_at := greatest(NEW.last_activity_at, NEW.created_at);
              RETURN NEW;
            END $$
            """,
            "CREATE TRIGGER chats_inbox_created BEFORE INSERT ON chats FOR EACH ROW EXECUTE FUNCTION switchboard_inbox_created()",
            """
            CREATE FUNCTION switchboard_inbox_message() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              UPDATE chats SET last_activity_at = greatest(last_activity_at, NEW.at),
                last_author = CASE WHEN NEW.author <> 'system' AND NOT NEW.is_edit AND NEW.kind <> 'reaction' THEN NEW.author ELSE last_author END
              WHERE id = NEW.chat_id;
              RETURN NULL;
            END $$
            """,
            "CREATE TRIGGER chats_inbox_message AFTER INSERT ON messages FOR EACH ROW EXECUTE FUNCTION switchboard_inbox_message()",
            """
            CREATE FUNCTION switchboard_inbox_followup() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              UPDATE chats SET followup_status = NEW.status, opted_out = coalesce((NEW.state::jsonb ->> 'optOut') = 'client', false)
              WHERE id = NEW.chat_id AND (followup_status, opted_out) IS DISTINCT FROM
                (NEW.status, coalesce((NEW.state::jsonb ->> 'optOut') = 'client', false));
              RETURN NULL;
            END $$
            """,
            "CREATE TRIGGER chats_inbox_followup AFTER INSERT OR UPDATE OF status, state ON followups FOR EACH ROW EXECUTE FUNCTION switchboard_inbox_followup()",
            """
            CREATE FUNCTION switchboard_inbox_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
              was_dead boolean := TG_OP = 'UPDATE' AND OLD.status = 'dead';
              is_dead boolean := NEW.status = 'dead';
            BEGIN
              IF was_dead <> is_dead THEN
                UPDATE chats SET dead_letters = dead_letters + CASE WHEN is_dead THEN 1 ELSE -1 END WHERE id = NEW.chat_id;
              END IF;
              RETURN NULL;
            END $$
            """,
            "CREATE TRIGGER chats_inbox_outbox AFTER INSERT OR UPDATE OF status ON outbox FOR EACH ROW EXECUTE FUNCTION switchboard_inbox_outbox()",
            """
            DO $$ BEGIN
              IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
                CREATE INDEX chats_search ON chats USING gin (search_text gin_trgm_ops);
                CREATE INDEX messages_search ON messages USING gin (search_text gin_trgm_ops);
              END IF;
            END $$
            """,
        ]),
        Migration(version: 4, name: "lease tokens and shared state", statements: [
            // Every claim of a row counts up its token: a write fenced by a lease names the token
            // it was handed, so a holder whose lease was taken over cannot overwrite the new
            // holder's work.
            "ALTER TABLE outbox ADD COLUMN lease_token bigint NOT NULL DEFAULT 0",
            "ALTER TABLE followups ADD COLUMN lease_token bigint NOT NULL DEFAULT 0",
            "ALTER TABLE chats ADD COLUMN reply_lease_token bigint NOT NULL DEFAULT 0",
            // Small values every process must agree on: admin sessions, rate limits, the polling
            // lease, a scaled clock's origin.
            "CREATE TABLE shared_state (name text PRIMARY KEY, value text NOT NULL, expires_at double precision)",
            "CREATE INDEX shared_state_expiry ON shared_state(expires_at) WHERE expires_at IS NOT NULL",
        ]),
        Migration(version: 5, name: "answers being composed, by lease", statements: [
            // The next wake for replies reads the few leased chats through this index instead
            // of every chat that is owed an answer (`nextWakeTimes`).
            "CREATE INDEX chats_reply_leased ON chats(reply_lease_until) WHERE reply_lease_until IS NOT NULL",
        ]),
    ]
}
