-- 003_auth.sql -- access control (README.md, "Access control") in
-- PostgreSQL's dialect: the same users, CI tokens and grants as
-- sql/003_auth.sql (SQLite), with the same columns, meanings and
-- schema_doc rows, and the audit trail's "user" filled in by a trigger.
-- berth reads these rows at its token endpoint and on Basic requests;
-- a request carrying one of berth's signed tokens reads none of them
-- (store/token.h).  `berth user|token|grant|revoke` write them, on any
-- host: every host sharing the database sees the same identities.
--
--     SET search_path = <schema>;       -- [metadata.postgresql] schema
--     SELECT * FROM grants ORDER BY who, pattern;
--     SELECT name, scope, berth_time(expires_at), revoked FROM ci_tokens;
--
-- Names and patterns are COLLATE "C": compared and ordered byte by byte,
-- as SQLite does.

-- A person or robot that signs in with a password.  The hash is
-- libcrypt's (yescrypt "$y$..." from `berth user add`; bcrypt "$2b$" is
-- accepted too): the password itself is never stored.
CREATE TABLE users (
	name        text COLLATE "C" PRIMARY KEY, -- the user name clients send
	hash        text NOT NULL,             -- crypt(3) hash of the password
	created_at  bigint NOT NULL,           -- unix seconds
	updated_at  bigint NOT NULL            -- unix seconds: the last password change
);

-- A long-lived token for CI: its secret is the password that goes with
-- user name `name`.  Only a SHA-256 of the secret is kept (the secret is
-- 256 random bits, so a slow hash would buy nothing); the secret is
-- printed once by `berth token add`.  That no token shares a user's name
-- is checked by the writer under the writer lock (store/meta_pg_auth.c).
CREATE TABLE ci_tokens (
	id          text COLLATE "C" PRIMARY KEY, -- public part of the secret, 16 hex digits
	name        text COLLATE "C" NOT NULL UNIQUE, -- the user name it signs in as
	secret_hash text NOT NULL,             -- sha256 hex of the whole secret
	scope       text NOT NULL,             -- PATTERN:ACTIONS[ ...], e.g. team/**:pull,push: its only rights
	created_at  bigint NOT NULL,           -- unix seconds
	expires_at  bigint,                    -- unix seconds; NULL: never
	revoked     integer NOT NULL DEFAULT 0 -- 1 after `berth token revoke`
	            CHECK (revoked IN (0, 1))
);

-- Who may do what where.  `who` is a user name, 'anonymous' (callers
-- without credentials) or '*' (every signed-in user); `pattern` a
-- repository glob ('*' within one path component, '**' across them);
-- `actions` a comma-separated subset of pull,push,delete (may be empty:
-- an explicit "nothing" that overrides a wider grant).  The most specific
-- matching pattern decides (base/grant.h); no match means no access.
CREATE TABLE grants (
	who         text COLLATE "C" NOT NULL,
	pattern     text COLLATE "C" NOT NULL,
	actions     text NOT NULL,
	created_at  bigint NOT NULL,           -- unix seconds
	PRIMARY KEY (who, pattern)
);

-- Who made a change: berth names the signed-in caller of a writing
-- request on its connection (meta_set_actor(): SELECT
-- set_config('berth.actor', NAME, false), a session setting, nothing
-- written), and this trigger copies it into each audit row the triggers
-- of 002 insert, in the same transaction as the change.  A connection
-- that never set it (psql, `berth gc`) leaves "user" NULL; so does ''.
CREATE FUNCTION audit_actor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW."user" := nullif(current_setting('berth.actor', true), '');
	RETURN NEW;
END $$;
CREATE TRIGGER audit_actor BEFORE INSERT ON audit
	FOR EACH ROW WHEN (NEW."user" IS NULL) EXECUTE FUNCTION audit_actor();

UPDATE schema_doc SET doc = 'Who made the change: the signed-in user or CI token name of the request, ''anonymous'', or NULL when access control is off or the change came from outside berth (psql, gc).'
WHERE object = 'audit' AND "column" = 'user';

INSERT INTO schema_doc (object, "column", doc) VALUES
	('users', '', 'Users who sign in with a password (berth user add|passwd|del|list).'),
	('users', 'name', 'The user name clients send.'),
	('users', 'hash', 'crypt(3) hash of the password: yescrypt ($y$) or bcrypt ($2b$, $2y$).'),
	('users', 'created_at', 'When the user was added, unix seconds.'),
	('users', 'updated_at', 'When the password last changed, unix seconds.'),

	('ci_tokens', '', 'Long-lived tokens for CI and robots (berth token add|list|revoke); the secret is the password of user name `name`.'),
	('ci_tokens', 'id', 'The public part of the secret (berth_<id>_<key>), 16 hex digits.'),
	('ci_tokens', 'name', 'The name the token signs in as; unique, never a user''s name.'),
	('ci_tokens', 'secret_hash', 'SHA-256 hex of the whole secret; the secret itself is not stored.'),
	('ci_tokens', 'scope', 'What it may do: PATTERN:ACTIONS, e.g. team/**:pull,push; several separated by spaces; its only permissions (grants do not apply to it).'),
	('ci_tokens', 'created_at', 'When it was made, unix seconds.'),
	('ci_tokens', 'expires_at', 'When it stops working, unix seconds; NULL for never.'),
	('ci_tokens', 'revoked', '1 once revoked; the signed tokens it got stay valid to their expiry (token_lifetime).'),

	('grants', '', 'Permissions: who may do which actions on the repositories a pattern matches (berth grant|revoke).'),
	('grants', 'who', 'A user or CI token name, anonymous, or * for every signed-in caller.'),
	('grants', 'pattern', 'Repository glob: * within a path component, ** across components.'),
	('grants', 'actions', 'Comma-separated subset of pull,push,delete; empty means none.'),
	('grants', 'created_at', 'When the grant was written, unix seconds.');
