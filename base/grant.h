/* grant.h -- the permission model, pure: actions, repository patterns,
 * which grant decides, and the Docker token scope grammar.
 *
 * A grant says that WHO may do ACTIONS on the repositories PATTERN
 * matches (sql/003_auth.sql, table grants).  WHO is a user (or CI token)
 * name, "anonymous" (callers without credentials) or "*" (every
 * signed-in caller).  ACTIONS is a subset of pull, push, delete.
 *
 * Patterns: a repository name in which '*' matches any run of characters
 * other than '/' (within one path component) and "**" any run including
 * '/' (across components).  So "team/\*" matches team/app but not
 * team/app/dev, "team/\**" both (but not "team" itself), "**" every name.
 * (Read "\\*" as "*": a C comment cannot hold a slash and a star.)
 *
 * Which grant decides (grant_decide()): among the grants that match the
 * repository and apply to the caller, the one with the best key, where
 * keys compare field by field:
 *   1. who: the caller's own name, then "*", then "anonymous" (a
 *      signed-in caller is also granted what anonymous callers are);
 *   2. literal characters: the count of pattern characters that are not
 *      '*' -- more is more specific ("team/app" > "team/\*" > "*");
 *   3. fewer "**" runs ("team/\*" beats "team/\**" for team/app);
 *   4. fewer '*' characters in all;
 *   5. the pattern that sorts first bytewise (a tie-break only, so the
 *      answer never depends on row order).
 * The decision is that grant's actions, which may be none (an explicit
 * "nothing" overriding a wider grant).  No matching grant: no access.
 *
 * Scopes (the Docker token specification, "Token Scope Documentation"):
 *     scope        := resourcetype ":" resourcename ":" action ("," action)*
 *     resourcetype := "repository" | "repository(" class ")" | "registry"
 * Only repository scopes whose name is a valid OCI repository name
 * (validate.h: no "..", no '%', at most 255 bytes) and "registry:catalog:*"
 * are understood; anything else is refused (GRANT_SCOPE_BAD), so a
 * hostile scope never reaches a pattern match.
 *
 * No allocation, no I/O; the unit tests are tables (tests/unit/grant_test.c). */
#ifndef BERTH_GRANT_H
#define BERTH_GRANT_H

#include <stdbool.h>
#include <stddef.h>

#include "validate.h"

enum grant_action {
	GRANT_PULL = 1 << 0,
	GRANT_PUSH = 1 << 1,
	GRANT_DELETE = 1 << 2,
	GRANT_ALL = GRANT_PULL | GRANT_PUSH | GRANT_DELETE
};

#define GRANT_PATTERN_MAX 255 /* bytes of a pattern */
#define GRANT_WHO_MAX	  128 /* bytes of a user or token name */

/* grant_actions_parse -- "pull,push" (any order, no spaces; "*" for
 * all; "" for none) into enum grant_action bits in *out.  false on an
 * unknown action. */
bool grant_actions_parse(const char *s, size_t len, unsigned *out);

/* grant_actions_format -- the bits as "pull,push,delete" (that order;
 * "" for none) into buf (at least 18 bytes). */
void grant_actions_format(unsigned actions, char *buf, size_t cap);

/* grant_pattern_valid -- is p a pattern: 1..GRANT_PATTERN_MAX bytes,
 * components separated by single '/', none empty, each made of the
 * repository name characters [a-z0-9._-] and '*'? */
bool grant_pattern_valid(const char *p);

/* grant_who_valid -- is s a user or token name (1..GRANT_WHO_MAX bytes
 * of [A-Za-z0-9._@-], not starting with '-'), "anonymous" or "*"? */
bool grant_who_valid(const char *s);

/* grant_match -- does pattern p match repository name `name`? */
bool grant_match(const char *p, const char *name);

struct grant_rule {
	const char *who;
	const char *pattern;
	unsigned actions;
};

/* grant_decide -- the actions the grant that decides (above) allows
 * caller `user` (NULL for an anonymous caller) on repository `name`;
 * 0 when none matches.  When `which` is not NULL it receives the index
 * of the deciding rule, or -1. */
unsigned grant_decide(const struct grant_rule *rules, size_t n,
    const char *user, const char *name, long *which);

enum grant_scope_type {
	GRANT_SCOPE_BAD = 0,	/* not understood: refuse the request */
	GRANT_SCOPE_REPOSITORY, /* repository:<name>:<actions> */
	GRANT_SCOPE_CATALOG	/* registry:catalog:* */
};

struct grant_scope {
	enum grant_scope_type type;
	char name[NAME_MAX_LEN + 1]; /* repository */
	unsigned actions;
};

/* grant_scope_parse -- one scope string s[0..len) into *out; the type is
 * GRANT_SCOPE_BAD (and the result false) for anything this registry does
 * not serve or a name that is not a valid repository name. */
bool grant_scope_parse(const char *s, size_t len, struct grant_scope *out);

#endif
