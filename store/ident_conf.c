/* ident_conf.c -- reading the [auth] section and checking the htpasswd
 * file it names; see ident.h.  Apart from the rest of ident.c so that
 * reading the configuration needs neither the metadata nor libcrypt
 * (tests/unit/config_test.c links it alone). */
#include "ident.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int
ident_configure(struct ident_conf *a, struct conf *conf)
{
	FILE *f;
	char line[1024];
	int lineno = 0, rc = 0;

	memset(a, 0, sizeof(*a));
	if (conf_bool(conf, "auth", "enabled", false, &a->enabled) != 0 ||
	    conf_string(conf, "auth", "realm", "", a->realm,
		sizeof(a->realm)) != 0 ||
	    conf_string(conf, "auth", "service", "berth", a->service,
		sizeof(a->service)) != 0 ||
	    conf_duration(conf, "auth", "token_lifetime", 300,
		&a->token_lifetime) != 0 ||
	    conf_duration(conf, "auth", "refresh_lifetime", 7L * 86400,
		&a->refresh_lifetime) != 0 ||
	    conf_string(conf, "auth", "htpasswd", "", a->htpasswd,
		sizeof(a->htpasswd)) != 0 ||
	    conf_bool(conf, "auth", "trust_remote_user", false,
		&a->trust_remote_user) != 0 ||
	    conf_string(conf, "auth", "token_path", "/v2/token", a->token_path,
		sizeof(a->token_path)) != 0)
		return -1;
	if (strncmp(a->token_path, "/v2/", 4) != 0 || a->token_path[4] == '\0')
		return conf_bad(conf, "auth", "token_path",
		    "must be a path "
		    "under /v2/ (the web server sends only those to berth)");
	if (a->realm[0] != '\0' && strncmp(a->realm, "https://", 8) != 0 &&
	    strncmp(a->realm, "http://", 7) != 0)
		return conf_bad(conf, "auth", "realm",
		    "must be an absolute "
		    "http:// or https:// URL");
	if (a->service[0] == '\0' || strchr(a->service, '"') != NULL)
		return conf_bad(conf, "auth", "service",
		    "must be a non-empty "
		    "name without '\"'");
	if (a->htpasswd[0] == '\0')
		return 0;
	if ((f = fopen(a->htpasswd, "r")) == NULL)
		return conf_bad(conf, "auth", "htpasswd", strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		char *colon = strchr(line, ':');

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (colon == NULL) {
			fprintf(stderr, "berth: %s:%d: not user:hash\n",
			    a->htpasswd, lineno);
			rc = -1;
			continue;
		}
		*colon = '\0';
		if (strncmp(colon + 1, "$apr1$", 6) == 0) {
			fprintf(stderr,
			    "berth: %s:%d: user %s has an Apache "
			    "MD5 ($apr1$) hash, which libcrypt cannot check; "
			    "set it again with `htpasswd -B %s %s` (bcrypt)\n",
			    a->htpasswd, lineno, line, a->htpasswd, line);
			rc = -1;
		} else if (colon[1] != '$') {
			fprintf(stderr,
			    "berth: %s:%d: user %s: only bcrypt "
			    "($2y$, htpasswd -B) and crypt(3) $...$ hashes "
			    "are accepted\n",
			    a->htpasswd, lineno, line);
			rc = -1;
		}
	}
	fclose(f);
	if (rc != 0)
		conf_bad(conf, "auth", "htpasswd", "hashes berth cannot check");
	return rc;
}
