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
        Migration(version: 3, name: "lease tokens and shared state", statements: [
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
    ]
}
