/* outbox_http.c -- the deliverer's HTTP POST, with libcurl; see
 * outbox_post() in outbox.h.  A file of its own so that `make static`,
 * which links no libcurl, can leave it out (outbox.c then has a stand-in
 * that fails every delivery). */
#include "outbox.h"

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

static size_t
discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

/* outbox_post() (outbox.h): one POST; 0 on a 2xx answer, else -1 with why in err (cap
 * bytes). */
int
outbox_post(const struct outbox_conf *oc, const char *url, const char *body,
    char *err, size_t cap)
{
	char sig[96], head[128];
	struct curl_slist *h = NULL;
	static bool ready;
	CURL *c;
	CURLcode rc;
	long status = 0;

	if (!ready && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, cap, "curl_global_init failed");
		return -1;
	}
	ready = true;
	if ((c = curl_easy_init()) == NULL) {
		snprintf(err, cap, "curl_easy_init failed");
		return -1;
	}
	h = curl_slist_append(h, "Content-Type: " OUTBOX_MEDIA_TYPE);
	h = curl_slist_append(h, "Expect:");
	if (oc->secret_len > 0 &&
	    outbox_sign(oc, body, strlen(body), sig) == 0) {
		snprintf(head, sizeof(head), "X-Berth-Signature: %s", sig);
		h = curl_slist_append(h, head);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)strlen(body));
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "berth");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, oc->timeout);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		snprintf(err, cap, "%s", curl_easy_strerror(rc));
		return -1;
	}
	if (status < 200 || status > 299) {
		snprintf(err, cap, "HTTP %ld", status);
		return -1;
	}
	return 0;
}
