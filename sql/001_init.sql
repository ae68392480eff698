-- 001_init.sql -- berth's first schema.
--
-- Open the database with `sqlite3 var/berth.db` and these tables read as
-- the registry's state: which repositories exist, which blobs each one
-- links, the manifests (stored byte for byte), the tags pointing at them,
-- and the upload sessions in flight.  Blob bytes are not here: they live
-- in the blob handler's storage, named by digest.

-- A repository, e.g. "library/debian".  Created by the first blob link or
-- manifest pushed to it.
CREATE TABLE repositories (
	id          INTEGER PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,      -- validated repository name
	created_at  INTEGER NOT NULL           -- unix seconds
);

-- Every blob whose bytes the blob handler holds, once, whatever the number
-- of repositories linking it.  A row exists only after the bytes were
-- verified against the digest and made visible.
CREATE TABLE blobs (
	digest      TEXT PRIMARY KEY,          -- "sha256:<64 hex>" or "sha512:<128 hex>"
	size        INTEGER NOT NULL,          -- bytes
	created_at  INTEGER NOT NULL           -- unix seconds
) WITHOUT ROWID;

-- Which repository may serve which blob (pushed there, or mounted).
CREATE TABLE blob_links (
	repository_id INTEGER NOT NULL REFERENCES repositories(id),
	digest        TEXT NOT NULL REFERENCES blobs(digest),
	linked_at     INTEGER NOT NULL,        -- unix seconds
	PRIMARY KEY (repository_id, digest)
) WITHOUT ROWID;

-- Manifests and image indexes, exactly as pushed.  The digest is that of
-- `body`.  `subject`, `artifact_type` and `annotations` are what the
-- referrers API answers with, extracted once at push time.
CREATE TABLE manifests (
	id            INTEGER PRIMARY KEY,
	repository_id INTEGER NOT NULL REFERENCES repositories(id),
	digest        TEXT NOT NULL,
	media_type    TEXT NOT NULL,           -- the Content-Type it was pushed with
	size          INTEGER NOT NULL,        -- bytes of body
	body          BLOB NOT NULL,
	subject       TEXT,                    -- digest of subject descriptor, if any
	artifact_type TEXT,                    -- artifactType, else config.mediaType
	annotations   TEXT,                    -- top-level annotations, JSON object
	pushed_at     INTEGER NOT NULL,        -- unix seconds
	UNIQUE (repository_id, digest)
);
CREATE INDEX manifests_by_subject ON manifests (repository_id, subject)
	WHERE subject IS NOT NULL;

-- What each manifest references: config and layer blobs, or the child
-- manifests of an index.  Garbage collection and deletes read this.
CREATE TABLE manifest_references (
	manifest_id INTEGER NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
	digest      TEXT NOT NULL,
	kind        TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
	PRIMARY KEY (manifest_id, digest)
) WITHOUT ROWID;
CREATE INDEX manifest_references_by_digest ON manifest_references (digest);

-- Tags: a name in a repository pointing at one manifest.  Deleting the
-- manifest deletes its tags in the same statement.
CREATE TABLE tags (
	repository_id INTEGER NOT NULL REFERENCES repositories(id),
	name          TEXT NOT NULL,
	manifest_id   INTEGER NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
	updated_at    INTEGER NOT NULL,        -- unix seconds
	PRIMARY KEY (repository_id, name)
) WITHOUT ROWID;
CREATE INDEX tags_by_manifest ON tags (manifest_id);

-- Upload sessions in flight.  The bytes so far are in the staging file
-- uploads/<uuid> under the data directory; `hash_state` is the digest
-- state after exactly `size` bytes, so any worker process can continue.
CREATE TABLE uploads (
	uuid        TEXT PRIMARY KEY,
	repository  TEXT NOT NULL,             -- repository name it was started in
	algorithm   TEXT NOT NULL,             -- "sha256" or "sha512"
	size        INTEGER NOT NULL,          -- bytes received so far
	hash_state  BLOB NOT NULL,
	started_at  INTEGER NOT NULL,          -- unix seconds
	updated_at  INTEGER NOT NULL           -- unix seconds
) WITHOUT ROWID;

-- Views for the common questions.
CREATE VIEW tag_list AS
	SELECT r.name AS repository, t.name AS tag, m.digest, m.media_type,
	       m.size, datetime(t.updated_at, 'unixepoch') AS updated
	FROM tags t
	JOIN repositories r ON r.id = t.repository_id
	JOIN manifests m ON m.id = t.manifest_id;

CREATE VIEW referrer_list AS
	SELECT r.name AS repository, m.subject, m.digest, m.media_type,
	       m.artifact_type, m.size
	FROM manifests m
	JOIN repositories r ON r.id = m.repository_id
	WHERE m.subject IS NOT NULL;
