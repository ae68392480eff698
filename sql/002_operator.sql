-- 002_operator.sql -- what an operator needs on top of 001_init.sql: an
-- audit trail, views for the common questions, and the schema's own
-- documentation as a table.
--
-- Open the database read-only beside a running registry with
--     sqlite3 -readonly var/berth.db
-- and try:
--     SELECT * FROM schema_doc WHERE object = 'manifests';
--     SELECT * FROM tag_list WHERE repository = 'library/debian';
--     SELECT * FROM repository_size ORDER BY blob_bytes DESC;
--     SELECT * FROM audit_log ORDER BY id DESC LIMIT 20;
-- `berth repos|tags|show|du|gc|uploads|fsck|audit` answer the same
-- questions from the same tables (README.md, "Operating berth").

-- The audit trail: one row per change to what the registry serves --
-- manifest pushed or deleted, tag created, moved or deleted, blob linked
-- into or unlinked from a repository, blob removed (gc, fsck --repair).
-- Rows are written by the triggers below, inside the transaction that
-- makes the change, so the trail can neither miss a committed change nor
-- record one that was rolled back, and it covers every writer: the
-- workers, `berth gc`, and a person with the sqlite3 shell.  Nothing
-- deletes from it; prune it with
--     DELETE FROM audit WHERE at < strftime('%s', 'now', '-90 days');
CREATE TABLE audit (
	id          INTEGER PRIMARY KEY,       -- increasing: the order of events
	at          INTEGER NOT NULL,          -- unix seconds
	action      TEXT NOT NULL,             -- see the triggers: 'manifest.push', 'tag.move', ...
	repository  TEXT,                      -- repository name; NULL for 'blob.delete'
	tag         TEXT,                      -- the tag of 'tag.*' actions, else NULL
	digest      TEXT,                      -- the manifest or blob concerned
	old_digest  TEXT,                      -- 'tag.move': the manifest the tag left
	user        TEXT                       -- who did it; NULL until berth authenticates
);
CREATE INDEX audit_by_time ON audit (at);
CREATE INDEX audit_by_repository ON audit (repository, id);

-- `now` for the triggers, in whole unix seconds like every *_at column.
-- (strftime('%s') rather than unixepoch(): SQLite before 3.38 has none.)
CREATE TRIGGER audit_manifest_push AFTER INSERT ON manifests
BEGIN
	INSERT INTO audit (at, action, repository, digest)
	VALUES (CAST(strftime('%s', 'now') AS INTEGER), 'manifest.push',
	    (SELECT name FROM repositories WHERE id = NEW.repository_id),
	    NEW.digest);
END;

CREATE TRIGGER audit_manifest_delete AFTER DELETE ON manifests
BEGIN
	INSERT INTO audit (at, action, repository, digest)
	VALUES (CAST(strftime('%s', 'now') AS INTEGER), 'manifest.delete',
	    (SELECT name FROM repositories WHERE id = OLD.repository_id),
	    OLD.digest);
END;

CREATE TRIGGER audit_tag_push AFTER INSERT ON tags
BEGIN
	INSERT INTO audit (at, action, repository, tag, digest)
	VALUES (CAST(strftime('%s', 'now') AS INTEGER), 'tag.push',
	    (SELECT name FROM repositories WHERE id = NEW.repository_id),
	    NEW.name, (SELECT digest FROM manifests WHERE id = NEW.manifest_id));
END;

-- Pushing the same manifest under the same tag again changes nothing
-- worth a row; only a move to another manifest is recorded.
CREATE TRIGGER audit_tag_move AFTER UPDATE OF manifest_id ON tags
WHEN OLD.manifest_id IS NOT NEW.manifest_id
BEGIN
	INSERT INTO audit (at, action, repository, tag, digest, old_digest)
	VALUES (CAST(strftime('%s', 'now') AS INTEGER), 'tag.move',
	    (SELECT name FROM repositories WHERE id = NEW.repository_id),
	    NEW.name, (SELECT digest FROM manifests WHERE id = NEW.manifest_id),
	    (SELECT digest FROM manifests WHERE id = OLD.manifest_id));
END;

-- Also fires for the tags a manifest DELETE takes with it: the trigger
-- after this one deletes them just before the manifest (what ON DELETE
-- CASCADE would do just after), so that `digest` can still be read.
CREATE TRIGGER audit_tag_delete AFTER DELETE ON tags
BEGIN
	INSERT INTO audit (at, action, repository, tag, digest)
	VALUES (CAST(strftime('%s', 'now') AS INTEGER), 'tag.delete',
	    (SELECT name FROM repositories WHERE id = OLD.repository_id),
	    OLD.name, (SELECT digest FROM manifests WHERE id = OLD.manifest_id));
END;

CREATE TRIGGER audit_manifest_delete_tags BEFORE DELETE ON manifests
BEGIN
	DELETE FROM tags WHERE manifest_id = OLD.id;
END;

-- A blob pushed to a repository, or mounted into it.
CREATE TRIGGER audit_blob_link AFTER INSERT ON blob_links
BEGIN
	INSERT INTO audit (at, action, repository, digest)
	VALUES (CAST(strftime('%s', 'now') AS INTEGER), 'blob.link',
	    (SELECT name FROM repositories WHERE id = NEW.repository_id),
	    NEW.digest);
END;

-- A blob DELETE through the API, or gc removing the blob.
CREATE TRIGGER audit_blob_unlink AFTER DELETE ON blob_links
BEGIN
	INSERT INTO audit (at, action, repository, digest)
	VALUES (CAST(strftime('%s', 'now') AS INTEGER), 'blob.unlink',
	    (SELECT name FROM repositories WHERE id = OLD.repository_id),
	    OLD.digest);
END;

-- The bytes are forgotten: `berth gc`, or `berth fsck --repair`.
CREATE TRIGGER audit_blob_delete AFTER DELETE ON blobs
BEGIN
	INSERT INTO audit (at, action, digest)
	VALUES (CAST(strftime('%s', 'now') AS INTEGER), 'blob.delete',
	    OLD.digest);
END;

-- --- Views for the common questions -------------------------------------
-- Times in views are UTC text ('YYYY-MM-DD HH:MM:SS'); the tables keep
-- unix seconds.

-- Every tag with what it points at.  001 had this view without `pushed`
-- (when the manifest itself was pushed; `updated` is when the tag last
-- moved); it is recreated with the column added at the end.
DROP VIEW tag_list;
CREATE VIEW tag_list AS
	SELECT r.name AS repository, t.name AS tag, m.digest, m.media_type,
	       m.size, datetime(t.updated_at, 'unixepoch') AS updated,
	       datetime(m.pushed_at, 'unixepoch') AS pushed
	FROM tags t
	JOIN repositories r ON r.id = t.repository_id
	JOIN manifests m ON m.id = t.manifest_id;

-- Per repository: its tags and manifests, and the blobs it links.
-- blob_bytes counts each linked blob once; shared_bytes is the part of
-- it that at least one other repository links too (stored once on disk);
-- unique_bytes the part only this repository links.  Manifests are
-- stored in this database, not as blobs: manifest_bytes.
CREATE VIEW repository_size AS
	SELECT r.name AS repository,
	       (SELECT count(*) FROM tags t WHERE t.repository_id = r.id) AS tags,
	       (SELECT count(*) FROM manifests m
	        WHERE m.repository_id = r.id) AS manifests,
	       (SELECT coalesce(sum(m.size), 0) FROM manifests m
	        WHERE m.repository_id = r.id) AS manifest_bytes,
	       (SELECT count(*) FROM blob_links l
	        WHERE l.repository_id = r.id) AS blobs,
	       (SELECT coalesce(sum(b.size), 0) FROM blob_links l
	        JOIN blobs b ON b.digest = l.digest
	        WHERE l.repository_id = r.id) AS blob_bytes,
	       (SELECT coalesce(sum(b.size), 0) FROM blob_links l
	        JOIN blobs b ON b.digest = l.digest
	        WHERE l.repository_id = r.id AND EXISTS (
	            SELECT 1 FROM blob_links o
	            WHERE o.digest = l.digest
	              AND o.repository_id != l.repository_id)) AS shared_bytes,
	       (SELECT coalesce(sum(b.size), 0) FROM blob_links l
	        JOIN blobs b ON b.digest = l.digest
	        WHERE l.repository_id = r.id AND NOT EXISTS (
	            SELECT 1 FROM blob_links o
	            WHERE o.digest = l.digest
	              AND o.repository_id != l.repository_id)) AS unique_bytes
	FROM repositories r;

-- Every stored blob: how many repositories link it, how many manifests
-- (in any repository) reference it, and when it was stored and last
-- linked.  `references_` = 0 means garbage once older than gc's grace.
CREATE VIEW blob_usage AS
	SELECT b.digest, b.size,
	       (SELECT count(*) FROM blob_links l
	        WHERE l.digest = b.digest) AS repositories,
	       (SELECT count(*) FROM manifest_references x
	        WHERE x.digest = b.digest) AS references_,
	       datetime(b.created_at, 'unixepoch') AS created,
	       (SELECT datetime(max(l.linked_at), 'unixepoch') FROM blob_links l
	        WHERE l.digest = b.digest) AS last_linked
	FROM blobs b;

-- What `berth gc` would remove, grace window aside.
CREATE VIEW unreferenced_blobs AS
	SELECT digest, size, repositories, created, last_linked
	FROM blob_usage WHERE references_ = 0;

-- Manifests no tag points at, that are not the child of an index in
-- their repository nor a referrer of a manifest there: what
-- `berth gc --untagged` would remove, grace window aside.
CREATE VIEW untagged_manifests AS
	SELECT r.name AS repository, m.digest, m.media_type, m.size,
	       datetime(m.pushed_at, 'unixepoch') AS pushed
	FROM manifests m
	JOIN repositories r ON r.id = m.repository_id
	WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)
	  AND NOT EXISTS (SELECT 1 FROM manifest_references x
	      JOIN manifests p ON p.id = x.manifest_id
	      WHERE p.repository_id = m.repository_id AND x.digest = m.digest)
	  AND NOT EXISTS (SELECT 1 FROM manifests s
	      WHERE m.subject IS NOT NULL AND s.repository_id = m.repository_id
	        AND s.digest = m.subject);

-- Upload sessions in flight, with how long each has been idle.
CREATE VIEW upload_list AS
	SELECT uuid, repository, algorithm, size,
	       datetime(started_at, 'unixepoch') AS started,
	       datetime(updated_at, 'unixepoch') AS updated,
	       CAST(strftime('%s', 'now') AS INTEGER) - updated_at AS idle_seconds
	FROM uploads;

-- The audit trail with readable times.
CREATE VIEW audit_log AS
	SELECT id, datetime(at, 'unixepoch') AS time, action, repository, tag,
	       digest, old_digest, user
	FROM audit;

-- --- The schema, documented in the schema ------------------------------
-- One row per table (column = '') and per column: what it holds.  The
-- tests check that every column of every table has its row here.
CREATE TABLE schema_doc (
	object  TEXT NOT NULL,                 -- table or view name
	column  TEXT NOT NULL,                 -- column name; '' for the object itself
	doc     TEXT NOT NULL,                 -- what it holds, units included
	PRIMARY KEY (object, column)
) WITHOUT ROWID;

INSERT INTO schema_doc (object, column, doc) VALUES
	('repositories', '', 'A repository, e.g. library/debian; created by its first blob link or manifest.'),
	('repositories', 'id', 'Row id, referenced by blob_links, manifests and tags.'),
	('repositories', 'name', 'The repository name, validated against the OCI grammar; unique.'),
	('repositories', 'created_at', 'When it was created, unix seconds.'),

	('blobs', '', 'Every blob whose bytes the blob handler holds, once; a row exists only after the bytes were verified and made visible.'),
	('blobs', 'digest', 'sha256:<64 hex> or sha512:<128 hex>; names the bytes (blobs/<alg>/<xx>/<hex> for the fs handler).'),
	('blobs', 'size', 'Bytes.'),
	('blobs', 'created_at', 'When the bytes were first stored, unix seconds.'),

	('blob_links', '', 'Which repository may serve which blob (pushed there or mounted); gc removes a blob with all its links.'),
	('blob_links', 'repository_id', 'repositories.id.'),
	('blob_links', 'digest', 'blobs.digest.'),
	('blob_links', 'linked_at', 'When the blob was last pushed to or mounted into the repository, unix seconds; gc spares blobs linked within its grace window.'),

	('manifests', '', 'Manifests and image indexes exactly as pushed.'),
	('manifests', 'id', 'Row id, referenced by manifest_references and tags.'),
	('manifests', 'repository_id', 'repositories.id.'),
	('manifests', 'digest', 'Digest of body; unique within the repository.'),
	('manifests', 'media_type', 'The Content-Type it was pushed with, and is served with.'),
	('manifests', 'size', 'Bytes of body.'),
	('manifests', 'body', 'The manifest bytes, exactly as pushed.'),
	('manifests', 'subject', 'Digest of the subject descriptor (referrers API), or NULL.'),
	('manifests', 'artifact_type', 'artifactType, else config.mediaType, or NULL.'),
	('manifests', 'annotations', 'Top-level annotations as JSON object text, or NULL.'),
	('manifests', 'pushed_at', 'When it was first pushed to the repository, unix seconds.'),

	('manifest_references', '', 'What each manifest references: its config and layer blobs, or the child manifests of an index.  A blob no row here names is garbage for gc.'),
	('manifest_references', 'manifest_id', 'manifests.id of the referencing manifest; deleted with it.'),
	('manifest_references', 'digest', 'The referenced blob or manifest.'),
	('manifest_references', 'kind', '''blob'' (config, layer) or ''manifest'' (child of an index).'),

	('tags', '', 'A name in a repository pointing at one manifest.'),
	('tags', 'repository_id', 'repositories.id.'),
	('tags', 'name', 'The tag, validated against the OCI grammar.'),
	('tags', 'manifest_id', 'manifests.id it points at; the tag goes when the manifest is deleted.'),
	('tags', 'updated_at', 'When the tag was last pushed, unix seconds.'),

	('uploads', '', 'Upload sessions in flight; the bytes so far are in uploads/<uuid> under the data directory.'),
	('uploads', 'uuid', 'The session id, as in /v2/<name>/blobs/uploads/<uuid>.'),
	('uploads', 'repository', 'Repository name the session was started in.'),
	('uploads', 'algorithm', 'sha256 or sha512: how the bytes are hashed as they arrive.'),
	('uploads', 'size', 'Bytes received so far.'),
	('uploads', 'hash_state', 'The digest state after exactly size bytes (opaque, build-specific).'),
	('uploads', 'started_at', 'When the session started, unix seconds.'),
	('uploads', 'updated_at', 'When bytes last arrived, unix seconds; sessions idle past upload_expiry are ended.'),

	('audit', '', 'The audit trail, written by triggers in the same transaction as each change.'),
	('audit', 'id', 'Increasing: the order of events.'),
	('audit', 'at', 'When, unix seconds.'),
	('audit', 'action', 'manifest.push, manifest.delete, tag.push, tag.move, tag.delete, blob.link, blob.unlink, blob.delete.'),
	('audit', 'repository', 'Repository name; NULL for blob.delete (registry-wide).'),
	('audit', 'tag', 'The tag of tag.* actions, else NULL.'),
	('audit', 'digest', 'The manifest or blob concerned.'),
	('audit', 'old_digest', 'tag.move: the manifest the tag pointed at before.'),
	('audit', 'user', 'Who made the change; NULL until berth authenticates clients.'),

	('schema_doc', '', 'This documentation: one row per table, view and column.'),
	('schema_doc', 'object', 'Table or view name.'),
	('schema_doc', 'column', 'Column name, or empty for the object itself.'),
	('schema_doc', 'doc', 'What it holds.'),

	('tag_list', '', 'View: every tag with its manifest digest, media type, size (bytes), tag time (updated) and push time (pushed).'),
	('referrer_list', '', 'View: manifests that have a subject, with the subject digest and artifact type.'),
	('repository_size', '', 'View: per repository, tags, manifests, manifest_bytes, blobs linked, blob_bytes, and the shared_bytes / unique_bytes split.'),
	('blob_usage', '', 'View: every blob with how many repositories link it and how many manifests reference it (references_).'),
	('unreferenced_blobs', '', 'View: blobs no manifest references: what gc removes once older than its grace window.'),
	('untagged_manifests', '', 'View: manifests with no tag, no parent index and no subject in their repository: what gc --untagged removes.'),
	('upload_list', '', 'View: upload sessions with readable times and idle_seconds.'),
	('audit_log', '', 'View: the audit trail with readable times.');
