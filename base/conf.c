/* conf.c -- the INI table behind conf.h, filled by libinih. */
#include "conf.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	char *section;
	char *key;
	char *value;
	int line; /* 0: a default, not from the file */
	bool read;
	bool noticed; /* conf_notice_once() spoke about it */
};

struct conf {
	char *path; /* NULL without a file */
	struct entry *e;
	size_t n, cap;
};

/* Reading state: libinih's reader is fgets-shaped, so counting lines
 * there gives each key its line without INI_HANDLER_LINENO. */
struct loader {
	struct conf *c;
	FILE *f;
	int line;
	int long_line; /* the first line too long, or 0 */
	int max;       /* the longest line libinih takes */
	bool oom;
};

/* Skip what is left of the line in ld->f, newline included. */
static void
skip_rest(struct loader *ld)
{
	int ch;

	do
		ch = getc(ld->f);
	while (ch != EOF && ch != '\n');
}

/* libinih's reader: a line into str (num bytes).  A line that does not
 * fit would otherwise reach libinih as several lines, each counted, the
 * rest parsed as keys of their own: a comment's rest is dropped, and any
 * other line ends the reading, with ld->long_line set. */
static char *
count_lines(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	char *s = fgets(str, num, ld->f);
	size_t n, skip;
	int ch;

	if (s == NULL)
		return NULL;
	ld->line++;
	n = strlen(s);
	if (n == 0 || s[n - 1] == '\n')
		return s;
	ch = getc(ld->f);
	if (ch == EOF)
		return s; /* the last line, without a newline */
	ungetc(ch, ld->f);
	skip = strspn(s, " \t");
	if (s[skip] == ';' || s[skip] == '#') {
		skip_rest(ld);
		return s;
	}
	ld->long_line = ld->line;
	ld->max = num - 3; /* room for "\r\n" and the NUL */
	return NULL;
}

static int
add(struct conf *c, const char *section, const char *key, const char *value,
    int line)
{
	struct entry *e;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		struct entry *ne = realloc(c->e, cap * sizeof(*ne));

		if (ne == NULL)
			return -1;
		c->e = ne;
		c->cap = cap;
	}
	e = &c->e[c->n];
	memset(e, 0, sizeof(*e));
	e->section = strdup(section);
	e->key = strdup(key);
	e->value = strdup(value);
	e->line = line;
	if (e->section == NULL || e->key == NULL || e->value == NULL) {
		free(e->section);
		free(e->key);
		free(e->value);
		return -1;
	}
	c->n++;
	return 0;
}

static int
on_key(void *user, const char *section, const char *key, const char *value)
{
	struct loader *ld = user;

	if (add(ld->c, section, key, value, ld->line) != 0) {
		ld->oom = true;
		return 0;
	}
	return 1;
}

struct conf *
conf_load(const char *path)
{
	struct conf *c = calloc(1, sizeof(*c));
	struct loader ld = { c, NULL, 0, 0, 0, false };
	int rc;

	if (c == NULL)
		goto oom;
	if (path == NULL || *path == '\0')
		return c;
	if ((c->path = strdup(path)) == NULL)
		goto oom;
	if ((ld.f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "berth: %s: cannot read configuration: %s\n",
		    path, strerror(errno));
		conf_free(c);
		return NULL;
	}
	rc = ini_parse_stream(count_lines, &ld, on_key, &ld);
	fclose(ld.f);
	if (ld.oom)
		goto oom;
	if (rc != 0) {
		fprintf(stderr, "berth: %s:%d: syntax error\n", path, rc);
		conf_free(c);
		return NULL;
	}
	if (ld.long_line != 0) {
		fprintf(stderr,
		    "berth: %s:%d: line too long (at most %d "
		    "characters)\n",
		    path, ld.long_line, ld.max);
		conf_free(c);
		return NULL;
	}
	return c;
oom:
	fprintf(stderr, "berth: out of memory reading the configuration\n");
	conf_free(c);
	return NULL;
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->e[i].section);
		free(c->e[i].key);
		free(c->e[i].value);
	}
	free(c->e);
	free(c->path);
	free(c);
}

const char *
conf_path(const struct conf *c)
{
	return c->path != NULL ? c->path : "(defaults)";
}

/* The last entry for [section] key (the file's last word wins), or NULL. */
static struct entry *
find(const struct conf *c, const char *section, const char *key)
{
	for (size_t i = c->n; i-- > 0;)
		if (strcmp(c->e[i].section, section) == 0 &&
		    strcmp(c->e[i].key, key) == 0)
			return &c->e[i];
	return NULL;
}

int
conf_default(struct conf *c, const char *section, const char *key,
    const char *value)
{
	if (find(c, section, key) != NULL)
		return 0;
	return add(c, section, key, value, 0);
}

const char *
conf_get(struct conf *c, const char *section, const char *key)
{
	struct entry *e = find(c, section, key);

	if (e == NULL)
		return NULL;
	/* Every entry of that key counts as read, repeated ones too. */
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->e[i].section, section) == 0 &&
		    strcmp(c->e[i].key, key) == 0)
			c->e[i].read = true;
	return e->value;
}

const char *
conf_get_nth(struct conf *c, const char *section, const char *key, size_t n)
{
	const char *v = NULL;

	if (conf_get(c, section, key) == NULL)
		return NULL;
	for (size_t i = 0; i < c->n && v == NULL; i++)
		if (strcmp(c->e[i].section, section) == 0 &&
		    strcmp(c->e[i].key, key) == 0 && n-- == 0)
			v = c->e[i].value;
	return v;
}

void
conf_notice_once(struct conf *c, const char *section, const char *key,
    const char *text)
{
	struct entry *e = find(c, section, key);

	if (e == NULL || e->noticed)
		return;
	e->noticed = true;
	fprintf(stderr, "berth: %s: %s\n", conf_path(c), text);
}

int
conf_bad(const struct conf *c, const char *section, const char *key,
    const char *why)
{
	const struct entry *e = find(c, section, key);

	if (e == NULL || e->line == 0)
		fprintf(stderr, "berth: %s: [%s] %s: %s\n", conf_path(c),
		    section, key, why != NULL ? why : "bad value");
	else
		fprintf(stderr, "berth: %s:%d: [%s] %s: bad value \"%s\"%s%s\n",
		    conf_path(c), e->line, section, key, e->value,
		    why != NULL ? ": " : "", why != NULL ? why : "");
	return -1;
}

int
conf_string(struct conf *c, const char *section, const char *key,
    const char *dflt, char *out, size_t cap)
{
	const char *v = conf_get(c, section, key);
	size_t n;

	if (v == NULL) {
		v = dflt != NULL ? dflt : "";
		if (strlen(v) >= cap)
			return conf_bad(c, section, key, "default too long");
	} else if (*v == '\0' || strlen(v) >= cap) {
		return conf_bad(c, section, key,
		    *v == '\0' ? "empty" : "too long");
	}
	n = strlen(v);
	memcpy(out, v, n + 1);
	return 0;
}

int
conf_bool(struct conf *c, const char *section, const char *key, bool dflt,
    bool *out)
{
	const char *v = conf_get(c, section, key);

	if (v == NULL)
		*out = dflt;
	else if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 ||
	    strcmp(v, "1") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 ||
	    strcmp(v, "0") == 0)
		*out = false;
	else
		return conf_bad(c, section, key, "expected true or false");
	return 0;
}

int
conf_long(struct conf *c, const char *section, const char *key, long dflt,
    long min, long max, long *out)
{
	const char *v = conf_get(c, section, key);
	char *end, why[64];
	long n;

	if (v == NULL) {
		*out = dflt;
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || n < min || n > max) {
		snprintf(why, sizeof(why), "expected a number from %ld to %ld",
		    min, max);
		return conf_bad(c, section, key, why);
	}
	*out = n;
	return 0;
}

bool
parse_duration(const char *s, long *seconds)
{
	char *end;
	long v, mult = 1;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || v <= 0)
		return false;
	if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0)
		mult = 60;
	else if (strcmp(end, "h") == 0)
		mult = 3600;
	else if (strcmp(end, "d") == 0)
		mult = 86400;
	else
		return false;
	if (v > 100L * 365 * 86400 / mult)
		return false;
	*seconds = v * mult;
	return true;
}

int
conf_duration(struct conf *c, const char *section, const char *key, long dflt,
    long *out)
{
	const char *v = conf_get(c, section, key);

	if (v == NULL) {
		*out = dflt;
		return 0;
	}
	if (!parse_duration(v, out))
		return conf_bad(c, section, key,
		    "expected a duration such as 90s, 15m, 24h or 7d");
	return 0;
}

int
conf_choice(struct conf *c, const char *section, const char *key,
    const char *const *names, int dflt, int *out)
{
	const char *v = conf_get(c, section, key);
	char why[256] = "expected one of";
	size_t len;

	if (v == NULL) {
		*out = dflt;
		return 0;
	}
	for (int i = 0; names[i] != NULL; i++) {
		if (strcmp(v, names[i]) == 0) {
			*out = i;
			return 0;
		}
		len = strlen(why);
		snprintf(why + len, sizeof(why) - len, "%s %s", i ? "," : "",
		    names[i]);
	}
	return conf_bad(c, section, key, why);
}

int
conf_check_unread(const struct conf *c,
    bool (*skip)(void *ctx, const char *section), void *ctx)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct entry *e = &c->e[i];

		if (e->read || (skip != NULL && skip(ctx, e->section)))
			continue;
		fprintf(stderr, "berth: %s:%d: [%s] %s: unknown key\n",
		    conf_path(c), e->line, e->section, e->key);
		return -1;
	}
	return 0;
}
