-- 004_notify.sql -- the outbox of event notifications (README.md, "Event
-- notifications"), in PostgreSQL's dialect: as sql/004_notify.sql.  It
-- needs only 001 and 002 (003_auth may be applied before or after it:
-- meta_pg.c applies every migration not yet recorded, in order).  With [notify] url set, each push (one event per tag
-- applied), manifest delete, tag delete and blob mount writes a row here
-- in the transaction of the change itself; the deliverer (`berth notify
-- run`, or the one the pool starts) posts the rows to every receiver,
-- moves that receiver's cursor when it answers 2xx, and deletes the rows
-- every receiver has.  Without [notify] url nothing writes here.
--
--     SELECT seq, id, to_timestamp(at), action, repository, tag
--     FROM outbox ORDER BY seq;
--     SELECT * FROM outbox_cursors;

-- An identity: a number is never used twice, so a receiver's cursor
-- never skips a new event; and since every writer holds the writer lock
-- to its COMMIT (meta_pg.c), numbers are taken in commit order.
CREATE TABLE outbox (
	seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- commit order
	id              text NOT NULL,          -- the event's id (a random UUID): receivers dedupe on it
	at              bigint NOT NULL,       -- unix seconds
	action          text NOT NULL,          -- push, delete, mount
	repository      text NOT NULL,
	digest          text,                   -- the manifest or blob
	media_type      text,                   -- the manifest's; NULL for blobs and deletes
	size            bigint,                -- bytes; NULL for deletes
	tag             text,                   -- push and delete of a tag
	from_repository text,                   -- mount: where the blob came from
	actor           text,                   -- who (access control on), else NULL
	request         text,                   -- JSON: {id, addr, host, method, useragent}
	base_url        text                    -- the registry as the client reached it
);

-- One row per receiver URL: how far it got.
CREATE TABLE outbox_cursors (
	url             text PRIMARY KEY,
	delivered       bigint NOT NULL DEFAULT 0, -- seq of the last event it acknowledged
	delivered_at    bigint,                -- unix seconds of that
	failures        bigint NOT NULL DEFAULT 0, -- failed attempts since then
	last_error      text,
	last_error_at   bigint
);

INSERT INTO schema_doc (object, "column", doc) VALUES
	('outbox', '', 'Event notifications waiting for a receiver, written in the transaction of each change while [notify] url is set.'),
	('outbox', 'seq', 'Commit order; never reused.'),
	('outbox', 'id', 'The event id receivers deduplicate on (delivery is at least once).'),
	('outbox', 'at', 'When, unix seconds.'),
	('outbox', 'action', 'push (a manifest, one row per tag applied), delete (a manifest or a tag), mount (a blob).'),
	('outbox', 'repository', 'Repository name.'),
	('outbox', 'digest', 'The manifest or blob concerned.'),
	('outbox', 'media_type', 'The manifest''s media type; NULL for blobs and deletes.'),
	('outbox', 'size', 'Bytes; NULL for deletes.'),
	('outbox', 'tag', 'The tag pushed, moved or deleted; NULL otherwise.'),
	('outbox', 'from_repository', 'mount: the repository the blob was mounted from.'),
	('outbox', 'actor', 'Who made the change; NULL when access control is off.'),
	('outbox', 'request', 'The request as JSON: id, addr, host, method, useragent.'),
	('outbox', 'base_url', 'The registry as the client reached it, for the event''s target.url.'),
	('outbox_cursors', '', 'Per receiver URL: the last event it acknowledged, and its failures since.'),
	('outbox_cursors', 'url', 'A [notify] url.'),
	('outbox_cursors', 'delivered', 'seq of the last event it answered 2xx for.'),
	('outbox_cursors', 'delivered_at', 'When, unix seconds.'),
	('outbox_cursors', 'failures', 'Failed attempts in a row since.'),
	('outbox_cursors', 'last_error', 'The last failure: HTTP status or transport error.'),
	('outbox_cursors', 'last_error_at', 'When, unix seconds.');
