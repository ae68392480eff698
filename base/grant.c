/* grant.c -- actions, patterns, the deciding grant and scopes; see
 * grant.h for the rules.  Pure: called by the store's identities
 * (store/ident.c), the front's request checks (cgi/auth.c) and the
 * operator commands (cli/cli_auth.c). */
#include "grant.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	unsigned bit;
} action_names[] = {
	{ "pull", GRANT_PULL },
	{ "push", GRANT_PUSH },
	{ "delete", GRANT_DELETE },
};

#define NACTIONS (sizeof(action_names) / sizeof(action_names[0]))

bool
grant_actions_parse(const char *s, size_t len, unsigned *out)
{
	size_t i = 0;

	*out = 0;
	if (len == 1 && s[0] == '*') {
		*out = GRANT_ALL;
		return true;
	}
	while (i < len) {
		const char *comma = memchr(s + i, ',', len - i);
		size_t n = comma != NULL ? (size_t)(comma - (s + i)) : len - i;
		size_t k;

		for (k = 0; k < NACTIONS; k++)
			if (strlen(action_names[k].name) == n &&
			    memcmp(action_names[k].name, s + i, n) == 0)
				break;
		if (k == NACTIONS)
			return false;
		*out |= action_names[k].bit;
		i += n + 1;
		if (comma != NULL && i == len)
			return false; /* trailing comma */
	}
	return true;
}

void
grant_actions_format(unsigned actions, char *buf, size_t cap)
{
	size_t used = 0;

	if (cap == 0)
		return;
	buf[0] = '\0';
	for (size_t k = 0; k < NACTIONS; k++) {
		int n;

		if (!(actions & action_names[k].bit))
			continue;
		n = snprintf(buf + used, cap - used, "%s%s",
		    used > 0 ? "," : "", action_names[k].name);
		if (n < 0 || (size_t)n >= cap - used)
			return;
		used += (size_t)n;
	}
}

bool
grant_pattern_valid(const char *p)
{
	size_t len = strlen(p), comp = 0;

	if (len == 0 || len > GRANT_PATTERN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (c == '/') {
			if (comp == 0)
				return false;
			comp = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '.' || c == '_' || c == '-' || c == '*'))
			return false;
		comp++;
	}
	return comp > 0;
}

bool
grant_who_valid(const char *s)
{
	size_t len = strlen(s);

	if (strcmp(s, "*") == 0 || strcmp(s, "anonymous") == 0)
		return true;
	if (len == 0 || len > GRANT_WHO_MAX || s[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '.' || c == '_' ||
			c == '-' || c == '@'))
			return false;
	}
	return true;
}

/* A glob match by dynamic programming over (pattern position, name
 * position), one row at a time: linear memory, O(|p| * |name|) time
 * whatever the stars, so a hostile pattern cannot make it backtrack.
 * ok[j]: p[0..i) matches name[0..j). */
bool
grant_match(const char *p, const char *name)
{
	size_t plen = strlen(p), nlen = strlen(name);
	bool row[2][NAME_MAX_LEN + 2];
	bool *ok = row[0], *next = row[1], *t;
	size_t i = 0;

	if (plen > GRANT_PATTERN_MAX || nlen > NAME_MAX_LEN)
		return false;
	memset(row, 0, sizeof(row));
	ok[0] = true;
	while (i < plen) {
		bool star = p[i] == '*',
		     twostar = star && i + 1 < plen && p[i + 1] == '*';

		next[0] = star && ok[0];
		for (size_t j = 1; j <= nlen; j++) {
			char c = name[j - 1];

			if (twostar)
				next[j] = ok[j] || next[j - 1];
			else if (star)
				next[j] = ok[j] || (c != '/' && next[j - 1]);
			else
				next[j] = ok[j - 1] && p[i] == c;
		}
		t = ok;
		ok = next;
		next = t;
		/* Three or more stars in a row act as "**". */
		i += twostar ? 2 : 1;
		while (twostar && i < plen && p[i] == '*')
			i++;
	}
	return ok[nlen];
}

/* The specificity key of grant.h, points 2-4. */
struct spec {
	size_t literals;
	size_t twostars;
	size_t stars;
};

static struct spec
specificity(const char *p)
{
	struct spec s = { 0, 0, 0 };

	for (size_t i = 0; p[i] != '\0'; i++) {
		if (p[i] != '*') {
			s.literals++;
			continue;
		}
		s.stars++;
		if (p[i + 1] == '*' && (i == 0 || p[i - 1] != '*'))
			s.twostars++;
	}
	return s;
}

/* Rank of `who` for caller user (NULL: anonymous): 3 own name, 2 "*",
 * 1 "anonymous", 0 does not apply. */
static int
who_rank(const char *who, const char *user)
{
	if (user != NULL && strcmp(who, user) == 0 &&
	    strcmp(user, "anonymous") != 0 && strcmp(user, "*") != 0)
		return 3;
	if (user != NULL && strcmp(who, "*") == 0)
		return 2;
	if (strcmp(who, "anonymous") == 0)
		return 1;
	return 0;
}

/* Is rule a more specific than rule b (both apply and match)? */
static bool
better(int ra, const char *pa, int rb, const char *pb)
{
	struct spec a, b;

	if (ra != rb)
		return ra > rb;
	a = specificity(pa);
	b = specificity(pb);
	if (a.literals != b.literals)
		return a.literals > b.literals;
	if (a.twostars != b.twostars)
		return a.twostars < b.twostars;
	if (a.stars != b.stars)
		return a.stars < b.stars;
	return strcmp(pa, pb) < 0;
}

unsigned
grant_decide(const struct grant_rule *rules, size_t n, const char *user,
    const char *name, long *which)
{
	long best = -1;
	int best_rank = 0;

	for (size_t i = 0; i < n; i++) {
		int rank = who_rank(rules[i].who, user);

		if (rank == 0 || !grant_match(rules[i].pattern, name))
			continue;
		if (best < 0 ||
		    better(rank, rules[i].pattern, best_rank,
			rules[best].pattern)) {
			best = (long)i;
			best_rank = rank;
		}
	}
	if (which != NULL)
		*which = best;
	return best < 0 ? 0 : rules[best].actions;
}

bool
grant_scope_parse(const char *s, size_t len, struct grant_scope *out)
{
	const char *c1, *c2;
	size_t tlen, nlen;

	memset(out, 0, sizeof(*out));
	c1 = memchr(s, ':', len);
	if (c1 == NULL)
		return false;
	/* The actions follow the last ':' (a name has none, but the
	 * grammar allows "host:port/name" in other registries). */
	c2 = s + len;
	while (c2 > c1 + 1 && c2[-1] != ':')
		c2--;
	if (c2 == c1 + 1)
		return false;
	c2--;
	tlen = (size_t)(c1 - s);
	nlen = (size_t)(c2 - (c1 + 1));
	if (tlen == 8 && memcmp(s, "registry", 8) == 0) {
		if (nlen != 7 || memcmp(c1 + 1, "catalog", 7) != 0 ||
		    (size_t)(s + len - (c2 + 1)) != 1 || c2[1] != '*')
			return false;
		out->type = GRANT_SCOPE_CATALOG;
		out->actions = GRANT_PULL;
		return true;
	}
	if (!(tlen == 10 && memcmp(s, "repository", 10) == 0) &&
	    !(tlen > 12 && memcmp(s, "repository(", 11) == 0 &&
		s[tlen - 1] == ')'))
		return false;
	if (!valid_name(c1 + 1, nlen) || nlen > NAME_MAX_LEN)
		return false;
	if (!grant_actions_parse(c2 + 1, (size_t)(s + len - (c2 + 1)),
		&out->actions))
		return false;
	memcpy(out->name, c1 + 1, nlen);
	out->name[nlen] = '\0';
	out->type = GRANT_SCOPE_REPOSITORY;
	return true;
}
