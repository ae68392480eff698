/* blob_s3.c -- the s3 blob handler: blob bytes in a bucket of an
 * S3-compatible object store (AWS S3, Ceph radosgw, OpenStack Swift's
 * s3api, MinIO), served to clients from the store itself, so that a
 * registry host keeps no blob bytes and any number of hosts can share
 * one bucket.
 *
 * Layout: one object per blob, key <prefix><algorithm>/<hex>, written
 * only once its bytes are verified (the core hashes them as they arrive
 * and checks the digest before put()).  Requests go through libcurl, one
 * easy handle per process (its connection cache keeps the store's
 * connection open), signed with AWS Signature V4 by s3_sign.c.
 *
 *   get    redirect = presigned: 307 to a presigned GET URL (presign_ttl);
 *          the client fetches from the store, Range included.
 *          redirect = proxy: X-Accel-Redirect to nginx's internal location
 *          <accel_prefix><scheme>/<host>/<path>?<presigned query>, which
 *          proxies the store (nginx streams, for stores the clients cannot
 *          reach; nginx/berth-locations.conf.in).
 *          redirect = stream: GET into a temporary file that the worker
 *          sends (plain CGI).
 *          No store round trip for presigned and proxy: which blobs exist
 *          is the metadata's business (as with blob_redirect.c), and a
 *          blob HEAD is answered from the metadata by the core.
 *   stat   HEAD.   del  HEAD, then DELETE (S3 answers 204 either way).
 *   put    HEAD (an existing blob is never uploaded again); then one PUT
 *          with If-None-Match: * (412: someone else stored it first; a
 *          store answering 501 to it -- Swift 2.30's s3api does -- is
 *          sent plain PUTs from then on) when the blob is at most
 *          part_size bytes, else a multipart upload of part_size parts,
 *          aborted on any failure.  S3 makes an object visible only when
 *          its PUT or CompleteMultipartUpload succeeds, so nothing partial
 *          ever appears under the key.  The parts go one after another,
 *          each retried alone: against the store measured here (Swift
 *          with one proxy process, bench/s3.sh) a 256 MiB push in two
 *          parts reaches about 0.87x the store's own single PUT, within
 *          the 0.7x aimed at, and two 128 MiB parts PUT in parallel with
 *          curl were no faster than one after the other (160 vs 159 MB/s,
 *          best of two).  Parallel parts (a curl multi handle) would serve
 *          stores that scale out; they are not done yet.
 *   walk   ListObjectsV2 below the prefix, page by page; a key that is
 *          not <algorithm>/<hex> is reported as a stray entry.
 *   read   GET into a temporary file (fsck re-hashing, quarantine).
 *
 * Staging (version 3 of the seam, store/upload.h): a persisted upload
 * session's appends are also stored as segments, one object per append,
 * key <prefix>uploads/<uuid>/<offset, 20 digits>, written before the
 * session's row moves on; so any host sharing the bucket and the metadata
 * continues any session, and the one that finishes it fetches the
 * segments it did not receive itself (GET), hashes the whole blob again
 * and puts it as above; the segments are deleted after the commit (and
 * when a session is cancelled or expires).  walk() leaves <prefix>uploads/
 * out.  A bucket lifecycle rule expiring <prefix>uploads/ after a few
 * days removes what a crash left.  The cost: a chunked push moves the
 * bytes to the store twice (segments, then the blob) and back once; a
 * monolithic push (POST with the digest) stages nothing.  Server-side
 * assembly (UploadPartCopy of segments of at least 5 MiB) would save the
 * round trip; it is not done yet.
 *
 * What stays local: the staging file of the request at hand under
 * <data_dir>/uploads (as for fs); a push needs the blob's size there
 * until put() returns, when the file is removed whatever the result, so
 * the host needs room for the uploads in flight (at most the sum of
 * their sizes).  The stream and read modes spool a GET into an unlinked
 * temporary file in the same directory for as long as the fd is open.
 * Nothing else: after a push the host holds no blob bytes.
 *
 * Failures: a store that cannot be reached, times out, answers 5xx (503
 * SlowDown: throttling), refuses the credentials (403) or lacks the
 * bucket gives BLOB_UNAVAILABLE (503 to the client) with one log line
 * naming the request and the store's error code; nothing else changes.
 * Timeouts: connect 5 s; any request that moves no byte for 15 s is
 * aborted; a request without a body must finish within `timeout`.
 * Idempotent requests (GET, HEAD, PUT, DELETE, the listing) are tried up
 * to three times, 250 ms and 1 s apart; POSTs (starting and completing a
 * multipart upload) are not retried.  open() checks the bucket and the
 * credentials with a HEAD of the bucket, so `berth -t` fails with a
 * readable message.
 *
 * Configuration (credentials never in this file, never logged):
 *   [storage]
 *   blob_handler = s3
 *   [blob.s3]
 *   endpoint = http://127.0.0.1:9000   (http:// or https://, no path)
 *   region = us-east-1
 *   bucket = berth
 *   prefix = registry/                 (optional; A-Z a-z 0-9 - _ . / only)
 *   path_style = true                  (false: <bucket>.<host>)
 *   credentials_file = /etc/berth/s3   ([default] aws_access_key_id,
 *                                       aws_secret_access_key; otherwise
 *                                       AWS_ACCESS_KEY_ID and
 *                                       AWS_SECRET_ACCESS_KEY)
 *   redirect = presigned               (presigned | proxy | stream)
 *   presign_ttl = 15m
 *   part_size = 128M                   (bytes; K, M, G suffixes; >= 5M)
 *   accel_prefix = /_berth/s3/         (proxy: nginx's internal location)
 *   timeout = 30s */
#include "blob.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <ini.h>
#include <openssl/crypto.h>

#include "s3_sign.h"
#include "validate.h"

#define EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define BODY_MAX  (8u << 20) /* bytes of a response kept in memory */
#define TRIES	  3
#define PARTS_MAX 10000	     /* S3's limit */
#define STAGE_DIR "uploads/" /* below the prefix: upload sessions' segments */

enum redirect { R_PRESIGNED, R_PROXY, R_STREAM };

struct s3 {
	char scheme[8]; /* "http" or "https" */
	char host[256]; /* Host: of requests */
	char bucket[64];
	char prefix[256]; /* "" or ending in '/' */
	char region[64];
	bool path_style;
	enum redirect redirect;
	long presign_ttl;   /* seconds */
	long timeout;	    /* seconds */
	uint64_t part_size; /* bytes */
	char accel_prefix[128];
	char access_key[256];
	char secret_key[256];
	char tmpdir[PATH_MAX - 64]; /* <data_dir>/uploads */
	bool no_if_none_match;	    /* the store answered 501 */
	CURL *curl;
};

/* A response body kept in memory, at most BODY_MAX bytes. */
struct buf {
	char *p;
	size_t len, cap;
};

/* One request and its answer. */
struct xfer {
	const char *method;
	const char *key; /* object key; NULL: the bucket */
	const struct s3_param *params;
	size_t nparams;
	const char *payload_hash; /* NULL: the empty body's */
	int in_fd;		  /* body from a file, or -1 */
	uint64_t in_off, in_len, in_done;
	const char *in_mem; /* or from memory */
	bool if_none_match;
	int out_fd; /* body to a file, or -1: memory */
	bool idempotent;
	/* The answer. */
	long status; /* 0: no HTTP answer */
	CURLcode cc;
	char errbuf[CURL_ERROR_SIZE];
	struct buf body;
	char etag[130];
	bool too_big;
};

static void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static size_t
write_mem(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	struct buf *b = &x->body;
	size_t len = size * n;
	char *np;

	if (b->len + len + 1 > BODY_MAX) {
		x->too_big = true;
		return 0;
	}
	if (b->len + len + 1 > b->cap) {
		size_t cap = (b->len + len + 1) * 2;

		if ((np = realloc(b->p, cap)) == NULL)
			return 0;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = '\0';
	return len;
}

static size_t
write_fd(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n, done = 0;

	/* Only a 2xx body comes here (CURLOPT_FAILONERROR). */
	while (done < len) {
		ssize_t w = write(x->out_fd, p + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return 0;
		done += (size_t)w;
	}
	return len;
}

static size_t
read_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t want = size * n;
	ssize_t r;

	if (x->in_done >= x->in_len)
		return 0;
	if (want > x->in_len - x->in_done)
		want = (size_t)(x->in_len - x->in_done);
	if (x->in_mem != NULL) {
		memcpy(p, x->in_mem + x->in_done, want);
		r = (ssize_t)want;
	} else {
		do
			r = pread(x->in_fd, p, want,
			    (off_t)(x->in_off + x->in_done));
		while (r < 0 && errno == EINTR);
		if (r <= 0)
			return CURL_READFUNC_ABORT;
	}
	x->in_done += (uint64_t)r;
	return (size_t)r;
}

static size_t
header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n, v;

	if (len > 5 && strncasecmp(p, "ETag:", 5) == 0) {
		for (v = 5; v < len && (p[v] == ' ' || p[v] == '\t'); v++)
			;
		snprintf(x->etag, sizeof(x->etag), "%.*s", (int)(len - v),
		    p + v);
		x->etag[strcspn(x->etag, "\r\n")] = '\0';
	}
	return len;
}

/* The signed path of key (NULL: the bucket): "/bucket/key" path-style,
 * "/key" virtual-host style. */
static int
sign_path(const struct s3 *s, const char *key, char *out, size_t cap)
{
	int n;

	if (s->path_style)
		n = snprintf(out, cap, "/%s%s%s", s->bucket,
		    key != NULL ? "/" : "", key != NULL ? key : "");
	else
		n = snprintf(out, cap, "/%s", key != NULL ? key : "");
	return n >= 0 && (size_t)n < cap ? 0 : -1;
}

/* "<scheme>://<host><encoded path>?<query>" into out. */
static int
make_url(const struct s3 *s, const char *path, const char *query, char *out,
    size_t cap)
{
	char enc[1024];
	int n;

	if (s3_encode(path, 1, enc, sizeof(enc)) != 0)
		return -1;
	n = snprintf(out, cap, "%s://%s%s%s%s", s->scheme, s->host, enc,
	    query[0] != '\0' ? "?" : "", query);
	return n >= 0 && (size_t)n < cap ? 0 : -1;
}

/* One attempt of x; fills x->status, x->cc. */
static void
attempt(struct s3 *s, struct xfer *x)
{
	char path[600], query[4096], url[6000], auth[600], date[17];
	char h_auth[700], h_date[40], h_sha[100];
	struct curl_slist *hdrs = NULL;
	struct s3_request rq = {
		.method = x->method,
		.host = s->host,
		.path = path,
		.params = x->params,
		.nparams = x->nparams,
		.payload_hash = x->payload_hash != NULL ? x->payload_hash :
							  EMPTY_SHA256,
		.region = s->region,
		.access_key = s->access_key,
		.secret_key = s->secret_key,
		.now = time(NULL),
	};
	CURL *c = s->curl;
	bool body = x->in_fd >= 0 || x->in_mem != NULL;

	x->status = 0;
	x->etag[0] = '\0';
	x->in_done = 0;
	x->errbuf[0] = '\0';
	x->too_big = false;
	buf_free(&x->body);
	if (x->out_fd >= 0 &&
	    (ftruncate(x->out_fd, 0) != 0 ||
		lseek(x->out_fd, 0, SEEK_SET) != 0)) {
		x->cc = CURLE_WRITE_ERROR;
		return;
	}
	if (sign_path(s, x->key, path, sizeof(path)) != 0 ||
	    s3_sign(&rq, query, sizeof(query), auth, sizeof(auth), date) != 0 ||
	    make_url(s, path, query, url, sizeof(url)) != 0) {
		x->cc = CURLE_URL_MALFORMAT;
		return;
	}
	snprintf(h_auth, sizeof(h_auth), "Authorization: %s", auth);
	snprintf(h_date, sizeof(h_date), "x-amz-date: %s", date);
	snprintf(h_sha, sizeof(h_sha), "x-amz-content-sha256: %s",
	    rq.payload_hash);
	hdrs = curl_slist_append(hdrs, h_auth);
	hdrs = curl_slist_append(hdrs, h_date);
	hdrs = curl_slist_append(hdrs, h_sha);
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (x->if_none_match)
		hdrs = curl_slist_append(hdrs, "If-None-Match: *");
	if (body && strcmp(x->method, "PUT") == 0)
		hdrs = curl_slist_append(hdrs,
		    "Content-Type: application/octet-stream");
	OPENSSL_cleanse(auth, sizeof(auth));

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 15L);
	if (!body && x->out_fd < 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT, s->timeout);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_mem);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	if (strcmp(x->method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(x->method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, x->method);
	if (body) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, read_body);
		curl_easy_setopt(c, CURLOPT_READDATA, x);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)x->in_len);
	} else if (strcmp(x->method, "PUT") == 0 ||
	    strcmp(x->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	}
	if (x->out_fd >= 0) {
		/* The body goes to the file only for a 2xx answer; the
		 * status line is known when the first byte arrives. */
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_fd);
		curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	}
	x->cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
	if (x->cc == CURLE_HTTP_RETURNED_ERROR)
		x->cc = CURLE_OK; /* the status says it */
	curl_slist_free_all(hdrs);
}

static bool
retryable(const struct xfer *x)
{
	if (x->cc != CURLE_OK)
		return x->cc != CURLE_URL_MALFORMAT &&
		    x->cc != CURLE_WRITE_ERROR && x->cc != CURLE_READ_ERROR &&
		    x->cc != CURLE_ABORTED_BY_CALLBACK;
	/* 500 InternalError, 502, 503 SlowDown/ServiceUnavailable, 504;
	 * not 501 NotImplemented, which an answer again would repeat. */
	return x->status == 500 || x->status == 502 || x->status == 503 ||
	    x->status == 504;
}

/* Run x, retrying an idempotent request while the store is unreachable or
 * answers 5xx.  The answer is in x. */
static void
run(struct s3 *s, struct xfer *x)
{
	static const long backoff_ms[TRIES - 1] = { 250, 1000 };

	for (int i = 0;; i++) {
		attempt(s, x);
		if (!x->idempotent || i == TRIES - 1 || !retryable(x))
			return;
		nanosleep(&(struct timespec){ backoff_ms[i] / 1000,
			      backoff_ms[i] % 1000 * 1000000L },
		    NULL);
	}
}

/* The text of the first <tag>...</tag> at or after *from in body, XML
 * entities decoded, into out (cap bytes); *from moves past it.  The S3
 * answers read here (ListObjectsV2, InitiateMultipartUpload, Error) are
 * flat documents of elements with text; this scanner reads only those.
 * -1 when there is no such element or it does not fit. */
static int
xml_text(const char *body, const char **from, const char *tag, char *out,
    size_t cap)
{
	char open_tag[64], close_tag[64];
	const char *p, *e;
	size_t n = 0;

	snprintf(open_tag, sizeof(open_tag), "<%s>", tag);
	snprintf(close_tag, sizeof(close_tag), "</%s>", tag);
	if (body == NULL ||
	    (p = strstr(*from != NULL ? *from : body, open_tag)) == NULL)
		return -1;
	p += strlen(open_tag);
	if ((e = strstr(p, close_tag)) == NULL)
		return -1;
	*from = e + strlen(close_tag);
	while (p < e) {
		static const struct {
			const char *ent;
			char c;
		} ents[] = { { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
			{ "&quot;", '"' }, { "&apos;", '\'' } };
		char c = *p++;

		if (c == '&')
			for (size_t i = 0; i < 5; i++)
				if (strncmp(p - 1, ents[i].ent,
					strlen(ents[i].ent)) == 0) {
					c = ents[i].c;
					p += strlen(ents[i].ent) - 1;
					break;
				}
		if (n + 1 >= cap)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	return 0;
}

/* Log a failed request and classify it: the store unreachable, slow,
 * failing (5xx, throttling), refusing us (403) or without the bucket
 * -> BLOB_UNAVAILABLE; anything else BLOB_IO.  `what` names the
 * request for the log. */
static enum blob_err
failed(const struct s3 *s, const struct xfer *x, const char *what)
{
	char code[64] = "", msg[256] = "";
	const char *from = NULL;

	if (x->cc != CURLE_OK) {
		fprintf(stderr, "berth: s3: %s: cannot reach %s://%s: %s\n",
		    what, s->scheme, s->host,
		    x->errbuf[0] != '\0' ? x->errbuf :
					   curl_easy_strerror(x->cc));
		return x->cc == CURLE_WRITE_ERROR ? BLOB_IO : BLOB_UNAVAILABLE;
	}
	xml_text(x->body.p, &from, "Code", code, sizeof(code));
	from = NULL;
	xml_text(x->body.p, &from, "Message", msg, sizeof(msg));
	fprintf(stderr, "berth: s3: %s: the store answered %ld%s%s%s%s%s\n",
	    what, x->status, code[0] != '\0' ? " " : "", code,
	    msg[0] != '\0' ? " (" : "", msg, msg[0] != '\0' ? ")" : "");
	if (x->status >= 500 || x->status == 403 || x->status == 401 ||
	    strcmp(code, "NoSuchBucket") == 0)
		return BLOB_UNAVAILABLE;
	return BLOB_IO;
}

/* <prefix><alg>/<hex> for a validated digest. */
static void
object_key(const struct s3 *s, const char *digest, char *out, size_t cap)
{
	const char *colon = strchr(digest, ':');

	snprintf(out, cap, "%s%.*s/%s", s->prefix, (int)(colon - digest),
	    digest, colon + 1);
}

static void
xfer_init(struct xfer *x, const char *method, const char *key)
{
	memset(x, 0, sizeof(*x));
	x->method = method;
	x->key = key;
	x->in_fd = -1;
	x->out_fd = -1;
	x->idempotent = strcmp(method, "POST") != 0;
}

/* HEAD the object of digest: BLOB_OK with *size, BLOB_NOTFOUND, or the
 * failure. */
static enum blob_err
head_key(struct s3 *s, const char *key, uint64_t *size)
{
	char what[600];
	struct xfer x;
	curl_off_t len = -1;

	xfer_init(&x, "HEAD", key);
	run(s, &x);
	if (x.cc == CURLE_OK && x.status == 200) {
		curl_easy_getinfo(s->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
		    &len);
		buf_free(&x.body);
		if (len < 0) {
			fprintf(stderr, "berth: s3: HEAD %s: no length\n", key);
			return BLOB_IO;
		}
		*size = (uint64_t)len;
		return BLOB_OK;
	}
	if (x.cc == CURLE_OK && x.status == 404)
		return BLOB_NOTFOUND;
	snprintf(what, sizeof(what), "HEAD %s", key);
	buf_free(&x.body);
	return failed(s, &x, what);
}

static enum blob_err
head_object(struct s3 *s, const char *digest, uint64_t *size)
{
	char key[512];

	object_key(s, digest, key, sizeof(key));
	return head_key(s, key, size);
}

/* An unlinked temporary file for a GET's body. */
static int
spool_file(const struct s3 *s)
{
	char tmp[PATH_MAX];
	int fd = open(s->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0 ||
	    (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	snprintf(tmp, sizeof(tmp), "%s/s3-spool-XXXXXX", s->tmpdir);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) >= 0)
		unlink(tmp);
	return fd;
}

/* GET the object key into an unlinked temporary file: *fd at offset 0
 * and *size. */
static enum blob_err
get_key(struct s3 *s, const char *key, int *fd, uint64_t *size)
{
	char what[600];
	struct xfer x;
	enum blob_err e;
	struct stat st;
	int f = spool_file(s);

	if (f < 0) {
		fprintf(stderr, "berth: s3: a temporary file in %s: %s\n",
		    s->tmpdir, strerror(errno));
		return errno == ENOSPC ? BLOB_NOSPC : BLOB_IO;
	}
	xfer_init(&x, "GET", key);
	x.out_fd = f;
	run(s, &x);
	if (x.cc == CURLE_OK && x.status == 200 && fstat(f, &st) == 0 &&
	    lseek(f, 0, SEEK_SET) == 0) {
		buf_free(&x.body);
		*fd = f;
		*size = (uint64_t)st.st_size;
		return BLOB_OK;
	}
	close(f);
	if (x.cc == CURLE_OK && x.status == 404) {
		buf_free(&x.body);
		return BLOB_NOTFOUND;
	}
	snprintf(what, sizeof(what), "GET %s", key);
	e = failed(s, &x, what);
	buf_free(&x.body);
	return e;
}

static enum blob_err
get_object(struct s3 *s, const char *digest, int *fd, uint64_t *size)
{
	char key[512];

	object_key(s, digest, key, sizeof(key));
	return get_key(s, key, fd, size);
}

/* A presigned GET of digest's object: path (signed, not encoded) and
 * query. */
static int
presign(const struct s3 *s, const char *digest, char *path, size_t pcap,
    char *query, size_t qcap)
{
	char key[512];
	struct s3_request rq = {
		.method = "GET",
		.host = s->host,
		.path = path,
		.payload_hash = "UNSIGNED-PAYLOAD",
		.region = s->region,
		.access_key = s->access_key,
		.secret_key = s->secret_key,
		.now = time(NULL),
	};

	object_key(s, digest, key, sizeof(key));
	if (sign_path(s, key, path, pcap) != 0)
		return -1;
	return s3_presign(&rq, s->presign_ttl, query, qcap);
}

static enum blob_err
s3_get(void *priv, const char *repo, const char *digest, int *fd,
    uint64_t *size, struct blob_location *loc)
{
	struct s3 *s = priv;
	char path[600], query[2048], enc[1024];
	int n;

	(void)repo;
	if (s->redirect == R_STREAM)
		return get_object(s, digest, fd, size);
	if (presign(s, digest, path, sizeof(path), query, sizeof(query)) != 0)
		return BLOB_IO;
	if (s->redirect == R_PRESIGNED) {
		loc->kind = BLOB_LOC_URL;
		if (make_url(s, path, query, loc->target,
			sizeof(loc->target)) != 0)
			return BLOB_IO;
		return BLOB_REDIRECT;
	}
	/* nginx's internal location takes scheme and host from the URI. */
	if (s3_encode(path, 1, enc, sizeof(enc)) != 0)
		return BLOB_IO;
	loc->kind = BLOB_LOC_ACCEL;
	n = snprintf(loc->target, sizeof(loc->target), "%s%s/%s%s?%s",
	    s->accel_prefix, s->scheme, s->host, enc, query);
	return n >= 0 && (size_t)n < sizeof(loc->target) ? BLOB_REDIRECT :
							   BLOB_IO;
}

static enum blob_err
s3_stat(void *priv, const char *repo, const char *digest, uint64_t *size,
    struct blob_location *loc)
{
	(void)repo;
	(void)loc;
	return head_object(priv, digest, size);
}

static enum blob_err
s3_read(void *priv, const char *repo, const char *digest, int *fd,
    uint64_t *size)
{
	(void)repo;
	return get_object(priv, digest, fd, size);
}

static enum blob_err delete_key(struct s3 *s, const char *key);

static enum blob_err
s3_del(void *priv, const char *repo, const char *digest)
{
	struct s3 *s = priv;
	char key[512];
	uint64_t size;
	enum blob_err e;

	(void)repo;
	if ((e = head_object(s, digest, &size)) != BLOB_OK)
		return e;
	object_key(s, digest, key, sizeof(key));
	return delete_key(s, key);
}

/* DELETE the object key (S3 answers 204 whether or not it was there). */
static enum blob_err
delete_key(struct s3 *s, const char *key)
{
	char what[600];
	struct xfer x;
	enum blob_err e;

	xfer_init(&x, "DELETE", key);
	run(s, &x);
	if (x.cc == CURLE_OK &&
	    (x.status == 204 || x.status == 200 || x.status == 404))
		e = BLOB_OK;
	else {
		snprintf(what, sizeof(what), "DELETE %s", key);
		e = failed(s, &x, what);
	}
	buf_free(&x.body);
	return e;
}

/* One PUT of src's bytes under key.  For a sha256 blob the payload hash
 * is the digest itself (the store may check it); otherwise unsigned. */
static enum blob_err
put_single(struct s3 *s, const char *key, const char *digest,
    const struct blob_source *src)
{
	char what[600];
	struct xfer x;
	enum blob_err e;

	xfer_init(&x, "PUT", key);
	x.in_fd = src->fd;
	x.in_len = src->size;
	x.payload_hash = strncmp(digest, "sha256:", 7) == 0 ?
	    digest + 7 :
	    "UNSIGNED-PAYLOAD";
	x.if_none_match = !s->no_if_none_match;
	run(s, &x);
	if (x.cc == CURLE_OK && x.status == 501 && x.if_none_match) {
		/* Conditional PUTs unsupported: HEAD above has to do. */
		s->no_if_none_match = true;
		x.if_none_match = false;
		run(s, &x);
	}
	if (x.cc == CURLE_OK && (x.status == 200 || x.status == 412))
		e = BLOB_OK; /* 412: already there, the same bytes */
	else {
		snprintf(what, sizeof(what), "PUT %s (%llu bytes)", key,
		    (unsigned long long)src->size);
		e = failed(s, &x, what);
	}
	buf_free(&x.body);
	return e;
}

/* Abort multipart upload id of key (best effort: the store's lifecycle
 * rules clean up what this cannot). */
static void
abort_multipart(struct s3 *s, const char *key, const char *id)
{
	struct s3_param p = { "uploadId", id };
	char what[600];
	struct xfer x;

	xfer_init(&x, "DELETE", key);
	x.params = &p;
	x.nparams = 1;
	run(s, &x);
	if (x.cc != CURLE_OK ||
	    (x.status != 204 && x.status != 200 && x.status != 404)) {
		snprintf(what, sizeof(what), "abort multipart upload %s", key);
		failed(s, &x, what);
	}
	buf_free(&x.body);
}

/* A multipart upload of src under key, part_size bytes a part. */
static enum blob_err
put_multipart(struct s3 *s, const char *key, const struct blob_source *src)
{
	struct s3_param up = { "uploads", "" }, pp[2];
	char id[512], num[16], what[700], *complete = NULL, *etags = NULL;
	uint64_t nparts = (src->size + s->part_size - 1) / s->part_size;
	const char *from = NULL;
	enum blob_err e = BLOB_IO;
	struct xfer x;
	size_t len = 0, cap;

	id[0] = '\0';
	if (nparts > PARTS_MAX) {
		fprintf(stderr,
		    "berth: s3: %s: %llu parts of %llu bytes; raise "
		    "[blob.s3] part_size\n",
		    key, (unsigned long long)nparts,
		    (unsigned long long)s->part_size);
		return BLOB_IO;
	}
	xfer_init(&x, "POST", key);
	x.params = &up;
	x.nparams = 1;
	run(s, &x);
	if (x.cc != CURLE_OK || x.status != 200 ||
	    xml_text(x.body.p, &from, "UploadId", id, sizeof(id)) != 0) {
		snprintf(what, sizeof(what), "start multipart upload %s", key);
		if (x.cc == CURLE_OK && x.status == 200)
			fprintf(stderr,
			    "berth: s3: %s: the answer holds no UploadId\n",
			    what);
		e = x.cc == CURLE_OK && x.status == 200 ? BLOB_IO :
							  failed(s, &x, what);
		buf_free(&x.body);
		return e;
	}
	buf_free(&x.body);
	cap = (size_t)nparts * 200 + 128;
	if ((etags = calloc(1, cap)) == NULL)
		goto fail;
	len = (size_t)snprintf(etags, cap, "<CompleteMultipartUpload>");
	for (uint64_t i = 0; i < nparts; i++) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)i + 1);
		pp[0] = (struct s3_param){ "partNumber", num };
		pp[1] = (struct s3_param){ "uploadId", id };
		xfer_init(&x, "PUT", key);
		x.params = pp;
		x.nparams = 2;
		x.in_fd = src->fd;
		x.in_off = i * s->part_size;
		x.in_len = src->size - x.in_off < s->part_size ?
		    src->size - x.in_off :
		    s->part_size;
		x.payload_hash = "UNSIGNED-PAYLOAD";
		run(s, &x);
		if (x.cc != CURLE_OK || x.status != 200 || x.etag[0] == '\0') {
			snprintf(what, sizeof(what), "upload part %s of %s",
			    num, key);
			e = failed(s, &x, what);
			buf_free(&x.body);
			goto fail;
		}
		buf_free(&x.body);
		len += (size_t)snprintf(etags + len, cap - len,
		    "<Part><PartNumber>"
		    "%s</PartNumber><ETag>%s</ETag></Part>",
		    num, x.etag);
	}
	snprintf(etags + len, cap - len, "</CompleteMultipartUpload>");
	complete = etags;
	pp[0] = (struct s3_param){ "uploadId", id };
	xfer_init(&x, "POST", key);
	x.params = pp;
	x.nparams = 1;
	x.in_mem = complete;
	x.in_len = strlen(complete);
	x.payload_hash = "UNSIGNED-PAYLOAD";
	run(s, &x);
	/* S3 may answer 200 with an <Error> body to a complete. */
	if (x.cc == CURLE_OK && x.status == 200 && x.body.p != NULL &&
	    strstr(x.body.p, "<Error>") == NULL) {
		buf_free(&x.body);
		free(etags);
		return BLOB_OK;
	}
	snprintf(what, sizeof(what), "complete multipart upload %s", key);
	e = x.cc == CURLE_OK && x.status == 200 ? BLOB_IO : failed(s, &x, what);
	buf_free(&x.body);
fail:
	free(etags);
	abort_multipart(s, key, id);
	return e;
}

static enum blob_err
s3_put(void *priv, const char *repo, const char *digest,
    const struct blob_source *src)
{
	struct s3 *s = priv;
	char key[512];
	uint64_t size = 0;
	enum blob_err e;

	(void)repo;
	object_key(s, digest, key, sizeof(key));
	e = head_object(s, digest, &size);
	if (e == BLOB_OK && size != src->size) {
		/* Never replaced: fsck reports and quarantines it. */
		fprintf(stderr,
		    "berth: s3: %s holds %llu bytes, not %llu; "
		    "left as it is\n",
		    key, (unsigned long long)size,
		    (unsigned long long)src->size);
		e = BLOB_IO;
	} else if (e == BLOB_NOTFOUND) {
		e = src->size <= s->part_size ?
		    put_single(s, key, digest, src) :
		    put_multipart(s, key, src);
	}
	unlink(src->path);
	return e;
}

/* --- Staging in the store (blob.h, version 3) ------------------------ */

/* <prefix>uploads/<uuid>/<offset, 20 digits>: the digits keep a listing
 * in offset order (for an operator: `berth` itself never lists them). */
static void
stage_key(const struct s3 *s, const char *uuid, uint64_t offset, char *out,
    size_t cap)
{
	snprintf(out, cap, "%s%s%s/%020llu", s->prefix, STAGE_DIR, uuid,
	    (unsigned long long)offset);
}

/* One PUT of the segment, unconditional: a client retrying an append
 * replaces what an earlier try left at that offset.  A segment may be
 * larger than part_size: one PUT all the same (S3 takes up to 5 GiB; an
 * append is one request body). */
static enum blob_err
s3_stage_put(void *priv, const char *uuid, uint64_t offset, int fd,
    uint64_t len)
{
	struct s3 *s = priv;
	char key[512], what[600];
	struct xfer x;
	enum blob_err e = BLOB_OK;

	stage_key(s, uuid, offset, key, sizeof(key));
	xfer_init(&x, "PUT", key);
	x.in_fd = fd;
	x.in_off = offset;
	x.in_len = len;
	x.payload_hash = "UNSIGNED-PAYLOAD";
	run(s, &x);
	if (x.cc != CURLE_OK || x.status != 200) {
		snprintf(what, sizeof(what), "PUT %s (%llu bytes)", key,
		    (unsigned long long)len);
		e = failed(s, &x, what);
	}
	buf_free(&x.body);
	return e;
}

static enum blob_err
s3_stage_get(void *priv, const char *uuid, uint64_t offset, int *fd,
    uint64_t *len)
{
	struct s3 *s = priv;
	char key[512];

	stage_key(s, uuid, offset, key, sizeof(key));
	return get_key(s, key, fd, len);
}

static enum blob_err
s3_stage_del(void *priv, const char *uuid, uint64_t offset, uint64_t *len)
{
	struct s3 *s = priv;
	char key[512];
	enum blob_err e;

	stage_key(s, uuid, offset, key, sizeof(key));
	if ((e = head_key(s, key, len)) != BLOB_OK)
		return e;
	return delete_key(s, key);
}

/* The state of a walk. */
struct walk {
	struct s3 *s;
	blob_walk_fn fn;
	void *arg;
};

/* Report key (size bytes) to the walk's callback; its return. */
static int
report(struct walk *w, const char *key, uint64_t size)
{
	struct blob_entry e = { .name = key };
	const char *rel = key + strlen(w->s->prefix), *slash = strchr(rel, '/');
	char digest[200];

	if (slash != NULL &&
	    snprintf(digest, sizeof(digest), "%.*s:%s", (int)(slash - rel), rel,
		slash + 1) < (int)sizeof(digest) &&
	    check_digest(digest, strlen(digest)) == DIGEST_OK) {
		e.digest = digest;
		e.size = size;
	} else
		e.detail = "not a blob's key (<algorithm>/<hex>)";
	return w->fn(w->arg, &e);
}

static enum blob_err
s3_walk(void *priv, blob_walk_fn fn, void *arg)
{
	struct s3 *s = priv;
	struct walk w = { s, fn, arg };
	char token[1024] = "", key[1024], size_s[32], trunc[16];
	struct s3_param p[4];
	struct xfer x;
	enum blob_err e;

	for (;;) {
		const char *from = NULL, *item;
		size_t np = 0;

		p[np++] = (struct s3_param){ "list-type", "2" };
		p[np++] = (struct s3_param){ "prefix", s->prefix };
		p[np++] = (struct s3_param){ "max-keys", "1000" };
		if (token[0] != '\0')
			p[np++] = (struct s3_param){ "continuation-token",
				token };
		xfer_init(&x, "GET", NULL);
		x.params = p;
		x.nparams = np;
		run(s, &x);
		if (x.cc != CURLE_OK || x.status != 200 || x.body.p == NULL) {
			e = failed(s, &x, "list the bucket");
			buf_free(&x.body);
			return e == BLOB_UNAVAILABLE ? e : BLOB_IO;
		}
		/* Each <Contents> holds a <Key> and a <Size>. */
		while ((item = strstr(from != NULL ? from : x.body.p,
			    "<Contents>")) != NULL) {
			char *end;
			unsigned long long sz;

			from = item;
			if (xml_text(x.body.p, &from, "Key", key,
				sizeof(key)) != 0 ||
			    xml_text(x.body.p, &from, "Size", size_s,
				sizeof(size_s)) != 0)
				break;
			sz = strtoull(size_s, &end, 10);
			if (*end != '\0' ||
			    strncmp(key, s->prefix, strlen(s->prefix)) != 0 ||
			    strncmp(key + strlen(s->prefix), STAGE_DIR,
				strlen(STAGE_DIR)) == 0)
				continue; /* not ours; a session's segment */
			if (report(&w, key, sz) != 0) {
				buf_free(&x.body);
				return BLOB_OK;
			}
		}
		from = NULL;
		if (xml_text(x.body.p, &from, "IsTruncated", trunc,
			sizeof(trunc)) != 0 ||
		    strcmp(trunc, "true") != 0) {
			buf_free(&x.body);
			return BLOB_OK;
		}
		from = NULL;
		if (xml_text(x.body.p, &from, "NextContinuationToken", token,
			sizeof(token)) != 0) {
			fprintf(stderr,
			    "berth: s3: list the bucket: a truncated "
			    "page without a continuation token\n");
			buf_free(&x.body);
			return BLOB_IO;
		}
		buf_free(&x.body);
	}
}

/* inih's callback for the credentials file: [default] only. */
static int
cred_line(void *arg, const char *section, const char *name, const char *value)
{
	struct s3 *s = arg;

	if (strcmp(section, "default") != 0)
		return 1;
	if (strcmp(name, "aws_access_key_id") == 0)
		snprintf(s->access_key, sizeof(s->access_key), "%s", value);
	else if (strcmp(name, "aws_secret_access_key") == 0)
		snprintf(s->secret_key, sizeof(s->secret_key), "%s", value);
	return 1;
}

/* The credentials: credentials_file, else the environment. */
static int
read_credentials(struct s3 *s, struct conf *conf, const char *section)
{
	char path[PATH_MAX];
	const char *ak, *sk;
	int rc;

	/* Refused by name, never echoed (conf_bad would print the value). */
	if (conf_get(conf, section, "access_key") != NULL ||
	    conf_get(conf, section, "secret_key") != NULL) {
		fprintf(stderr,
		    "berth: %s: [%s] credentials never go in this "
		    "file: name a credentials_file, or set AWS_ACCESS_KEY_ID "
		    "and AWS_SECRET_ACCESS_KEY\n",
		    conf_path(conf), section);
		return -1;
	}
	if (conf_get(conf, section, "credentials_file") != NULL) {
		if (conf_string(conf, section, "credentials_file", NULL, path,
			sizeof(path)) != 0)
			return -1;
		if ((rc = ini_parse(path, cred_line, s)) != 0) {
			fprintf(stderr, "berth: s3: credentials file %s: %s\n",
			    path, rc < 0 ? strerror(errno) : "syntax error");
			return -1;
		}
		if (s->access_key[0] == '\0' || s->secret_key[0] == '\0') {
			fprintf(stderr,
			    "berth: s3: credentials file %s: no "
			    "[default] aws_access_key_id and "
			    "aws_secret_access_key\n",
			    path);
			return -1;
		}
		return 0;
	}
	ak = getenv("AWS_ACCESS_KEY_ID");
	sk = getenv("AWS_SECRET_ACCESS_KEY");
	if (ak == NULL || sk == NULL || *ak == '\0' || *sk == '\0') {
		fprintf(stderr,
		    "berth: %s: blob_handler = s3 needs credentials: "
		    "[%s] credentials_file, or AWS_ACCESS_KEY_ID and "
		    "AWS_SECRET_ACCESS_KEY in the environment\n",
		    conf_path(conf), section);
		return -1;
	}
	snprintf(s->access_key, sizeof(s->access_key), "%s", ak);
	snprintf(s->secret_key, sizeof(s->secret_key), "%s", sk);
	return 0;
}

/* part_size: bytes, with an optional K, M or G (binary) suffix. */
static int
read_part_size(struct s3 *s, struct conf *conf, const char *section)
{
	const char *v = conf_get(conf, section, "part_size");
	unsigned long long n;
	char *end;

	s->part_size = 128ull << 20;
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	switch (toupper((unsigned char)*end)) {
	case 'K':
		n <<= 10, end++;
		break;
	case 'M':
		n <<= 20, end++;
		break;
	case 'G':
		n <<= 30, end++;
		break;
	}
	if (errno != 0 || end == v || *end != '\0' || n < (5ull << 20) ||
	    n > (5ull << 30))
		return conf_bad(conf, section, "part_size",
		    "expected bytes "
		    "between 5M and 5G (S3's limits), e.g. 64M");
	s->part_size = n;
	return 0;
}

static int
read_settings(struct s3 *s, struct conf *conf, const char *section)
{
	static const char *const redirects[] = { "presigned", "proxy", "stream",
		NULL };
	char endpoint[512], prefix[256];
	const char *h;
	int r;
	size_t n;

	if (conf_get(conf, section, "endpoint") == NULL ||
	    conf_get(conf, section, "bucket") == NULL) {
		fprintf(stderr,
		    "berth: %s: blob_handler = s3 needs [%s] "
		    "endpoint and bucket\n",
		    conf_path(conf), section);
		return -1;
	}
	if (conf_string(conf, section, "endpoint", NULL, endpoint,
		sizeof(endpoint)) != 0 ||
	    conf_string(conf, section, "bucket", NULL, s->bucket,
		sizeof(s->bucket)) != 0 ||
	    conf_string(conf, section, "region", "us-east-1", s->region,
		sizeof(s->region)) != 0 ||
	    conf_bool(conf, section, "path_style", true, &s->path_style) != 0 ||
	    conf_choice(conf, section, "redirect", redirects, R_PRESIGNED,
		&r) != 0 ||
	    conf_duration(conf, section, "presign_ttl", 900, &s->presign_ttl) !=
		0 ||
	    conf_duration(conf, section, "timeout", 30, &s->timeout) != 0 ||
	    conf_string(conf, section, "accel_prefix", "/_berth/s3/",
		s->accel_prefix, sizeof(s->accel_prefix)) != 0 ||
	    read_part_size(s, conf, section) != 0)
		return -1;
	s->redirect = (enum redirect)r;
	if (s->presign_ttl > 604800)
		return conf_bad(conf, section, "presign_ttl",
		    "at most 7d (SigV4's limit)");
	if (s->accel_prefix[0] != '/' ||
	    s->accel_prefix[strlen(s->accel_prefix) - 1] != '/')
		return conf_bad(conf, section, "accel_prefix",
		    "must start and end with /");
	if (strncmp(endpoint, "http://", 7) == 0)
		h = endpoint + 7, strcpy(s->scheme, "http");
	else if (strncmp(endpoint, "https://", 8) == 0)
		h = endpoint + 8, strcpy(s->scheme, "https");
	else
		return conf_bad(conf, section, "endpoint",
		    "expected an http:// or https:// URL");
	n = strlen(h);
	while (n > 0 && h[n - 1] == '/')
		n--;
	if (n == 0 || memchr(h, '/', n) != NULL || memchr(h, '?', n) != NULL)
		return conf_bad(conf, section, "endpoint",
		    "expected scheme://host[:port], without a path");
	for (const char *p = s->bucket; *p != '\0'; p++)
		if (!islower((unsigned char)*p) &&
		    !isdigit((unsigned char)*p) && *p != '-' && *p != '.')
			return conf_bad(conf, section, "bucket",
			    "expected a bucket name (a-z 0-9 - .)");
	if (s->path_style)
		snprintf(s->host, sizeof(s->host), "%.*s", (int)n, h);
	else
		snprintf(s->host, sizeof(s->host), "%s.%.*s", s->bucket, (int)n,
		    h);
	if (conf_string(conf, section, "prefix", "/", prefix,
		sizeof(prefix) - 1) != 0)
		return -1;
	for (const char *p = prefix; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("-_./", *p) == NULL)
			return conf_bad(conf, section, "prefix",
			    "only A-Z a-z 0-9 - _ . / are allowed");
	h = prefix;
	while (*h == '/')
		h++;
	n = strlen(h);
	snprintf(s->prefix, sizeof(s->prefix), "%s%s", h,
	    n > 0 && h[n - 1] != '/' ? "/" : "");
	return 0;
}

/* Is the bucket there, and do the credentials open it? */
static enum blob_err
check_bucket(struct s3 *s)
{
	struct xfer x;
	enum blob_err e = BLOB_OK;

	xfer_init(&x, "HEAD", NULL);
	run(s, &x);
	if (x.cc == CURLE_OK && x.status == 404) {
		fprintf(stderr,
		    "berth: s3: bucket %s does not exist at "
		    "%s://%s\n",
		    s->bucket, s->scheme, s->host);
		e = BLOB_UNAVAILABLE;
	} else if (x.cc == CURLE_OK && (x.status == 403 || x.status == 401)) {
		fprintf(stderr,
		    "berth: s3: %s://%s refused the credentials "
		    "for bucket %s (%ld): check the access key and secret\n",
		    s->scheme, s->host, s->bucket, x.status);
		e = BLOB_UNAVAILABLE;
	} else if (x.cc != CURLE_OK || x.status != 200) {
		e = failed(s, &x, "check the bucket");
	}
	buf_free(&x.body);
	return e;
}

static void
s3_close(void *priv)
{
	struct s3 *s = priv;

	if (s == NULL)
		return;
	if (s->curl != NULL)
		curl_easy_cleanup(s->curl);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

static enum blob_err
s3_open(struct conf *conf, const char *section, const char *data_dir,
    void **priv)
{
	struct s3 *s = calloc(1, sizeof(*s));
	enum blob_err e = BLOB_IO;

	if (s == NULL)
		return BLOB_IO;
	if (read_settings(s, conf, section) != 0 ||
	    read_credentials(s, conf, section) != 0)
		goto fail;
	if (snprintf(s->tmpdir, sizeof(s->tmpdir), "%s/uploads", data_dir) >=
	    (int)sizeof(s->tmpdir))
		goto fail;
	mkdir(s->tmpdir, 0755);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    (s->curl = curl_easy_init()) == NULL) {
		fprintf(stderr, "berth: s3: libcurl would not start\n");
		goto fail;
	}
	if ((e = check_bucket(s)) != BLOB_OK)
		goto fail;
	*priv = s;
	return BLOB_OK;
fail:
	s3_close(s);
	return e;
}

static const struct blob_ops blob_s3_ops = {
	.version = BLOB_OPS_VERSION,
	.name = "s3",
	.open = s3_open,
	.close = s3_close,
	.get = s3_get,
	.stat = s3_stat,
	.put = s3_put,
	.del = s3_del,
	.walk = s3_walk,
	.read = s3_read,
	.stage_put = s3_stage_put,
	.stage_get = s3_stage_get,
	.stage_del = s3_stage_del,
};
BLOB_HANDLER(blob_s3_ops)
