/* grant_test.c -- tables for base/grant.c: actions, pattern validity,
 * glob matching, which grant decides (the order of grant.h, point by
 * point), and the Docker scope grammar with hostile scopes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "grant.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void
test_actions(void **state)
{
	static const struct {
		const char *s;
		bool ok;
		unsigned bits;
		const char *fmt;
	} t[] = {
		{ "pull", true, GRANT_PULL, "pull" },
		{ "push,pull", true, GRANT_PULL | GRANT_PUSH, "pull,push" },
		{ "delete,push,pull", true, GRANT_ALL, "pull,push,delete" },
		{ "*", true, GRANT_ALL, "pull,push,delete" },
		{ "", true, 0, "" },
		{ "pull,", false, 0, NULL },
		{ ",pull", false, 0, NULL },
		{ "pul", false, 0, NULL },
		{ "pull,admin", false, 0, NULL },
		{ "PULL", false, 0, NULL },
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < N(t); i++) {
		unsigned bits = 99;

		assert_int_equal(grant_actions_parse(t[i].s, strlen(t[i].s),
				     &bits),
		    t[i].ok);
		if (!t[i].ok)
			continue;
		assert_int_equal(bits, t[i].bits);
		grant_actions_format(bits, buf, sizeof(buf));
		assert_string_equal(buf, t[i].fmt);
	}
}

static void
test_patterns(void **state)
{
	static const struct {
		const char *p;
		bool ok;
	} t[] = {
		{ "**", true },
		{ "team/*", true },
		{ "team/**", true },
		{ "a/b-c_d.e/*x*", true },
		{ "library/debian", true },
		{ "", false },
		{ "/team", false },
		{ "team/", false },
		{ "team//x", false },
		{ "Team/x", false },
		{ "team/x y", false },
		{ "team/%2f", false },
	};

	(void)state;
	for (size_t i = 0; i < N(t); i++)
		assert_int_equal(grant_pattern_valid(t[i].p), t[i].ok);
}

static void
test_match(void **state)
{
	static const struct {
		const char *p, *name;
		bool match;
	} t[] = {
		{ "**", "a", true },
		{ "**", "a/b/c", true },
		{ "team/*", "team/app", true },
		{ "team/*", "team/app/dev", false },
		{ "team/*", "team", false },
		{ "team/**", "team/app", true },
		{ "team/**", "team/app/dev", true },
		{ "team/**", "team", false },
		{ "team/**", "teams/app", false },
		{ "*", "app", true },
		{ "*", "a/b", false },
		{ "*/app", "team/app", true },
		{ "*/app", "x/team/app", false },
		{ "**/app", "x/team/app", true },
		{ "a*c", "abbbc", true },
		{ "a*c", "ab/c", false },
		{ "team/app", "team/app", true },
		{ "team/app", "team/ap", false },
		{ "team/app", "team/appx", false },
		{ "***", "a/b", true },
		/* Many stars cannot make it slow (dynamic programming). */
		{ "*a*a*a*a*a*a*a*a*a*a*a*a*b",
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		    false },
	};

	(void)state;
	for (size_t i = 0; i < N(t); i++)
		assert_int_equal(grant_match(t[i].p, t[i].name), t[i].match);
}

/* Each row: the rules, the caller, the repository, the actions that
 * must come out and the index of the deciding rule. */
static void
test_decide(void **state)
{
	static const struct grant_rule rules[] = {
		/* 0 */ { "*", "**", GRANT_PULL },
		/* 1 */ { "anonymous", "pub/**", GRANT_PULL },
		/* 2 */ { "alice", "team/**", GRANT_PULL | GRANT_PUSH },
		/* 3 */ { "alice", "team/*", GRANT_PULL },
		/* 4 */ { "alice", "team/secret", 0 },
		/* 5 */ { "bob", "*/app", GRANT_PULL | GRANT_DELETE },
		/* 6 */ { "bob", "team/*", GRANT_PULL },
		/* 7 */ { "carol", "x*/y", GRANT_PUSH },
		/* 8 */ { "carol", "*x/y", GRANT_DELETE },
		/* 9 */ { "alice", "pub/**", GRANT_ALL },
	};
	static const struct {
		const char *user, *repo;
		unsigned want;
		long which;
	} t[] = {
		/* 1. who: own name beats "*", which beats anonymous. */
		{ "alice", "pub/x", GRANT_ALL, 9 },
		{ "dave", "pub/x", GRANT_PULL, 0 },
		{ NULL, "pub/x", GRANT_PULL, 1 },
		{ NULL, "team/app", 0, -1 }, /* no match: nothing */
		/* 2. more literal characters: team/secret > team/\* */
		{ "alice", "team/secret", 0, 4 },
		/* 3. equal literals, fewer "**": team/\* beats team/\** */
		{ "alice", "team/app", GRANT_PULL, 3 },
		{ "alice", "team/app/dev", GRANT_PULL | GRANT_PUSH, 2 },
		/* 2 again: "team/\*" (5 literals) beats "\*\/app" (4). */
		{ "bob", "team/app", GRANT_PULL, 6 },
		{ "bob", "other/app", GRANT_PULL | GRANT_DELETE, 5 },
		/* 5. a full tie is broken by the pattern's bytes. */
		{ "carol", "xx/y", GRANT_DELETE, 8 },
		/* A signed-in user with no grant of its own gets "*". */
		{ "carol", "zz", GRANT_PULL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < N(t); i++) {
		long which = -2;
		unsigned got = grant_decide(rules, N(rules), t[i].user,
		    t[i].repo, &which);

		if (got != t[i].want || which != t[i].which)
			fail_msg(
			    "row %zu (%s on %s): actions %u rule %ld, want "
			    "%u rule %ld",
			    i, t[i].user ? t[i].user : "(anon)", t[i].repo, got,
			    which, t[i].want, t[i].which);
	}
}

static void
test_scopes(void **state)
{
	static char overlong[400];
	static const struct {
		const char *s;
		enum grant_scope_type type;
		const char *name;
		unsigned actions;
	} t[] = {
		{ "repository:library/debian:pull", GRANT_SCOPE_REPOSITORY,
		    "library/debian", GRANT_PULL },
		{ "repository:a/b:pull,push", GRANT_SCOPE_REPOSITORY, "a/b",
		    GRANT_PULL | GRANT_PUSH },
		{ "repository(plugin):a:pull", GRANT_SCOPE_REPOSITORY, "a",
		    GRANT_PULL },
		{ "repository:a:*", GRANT_SCOPE_REPOSITORY, "a", GRANT_ALL },
		{ "registry:catalog:*", GRANT_SCOPE_CATALOG, "", GRANT_PULL },
		{ "registry:catalog:pull", GRANT_SCOPE_BAD, NULL, 0 },
		{ "repository:../etc:pull", GRANT_SCOPE_BAD, NULL, 0 },
		{ "repository:a/../b:pull", GRANT_SCOPE_BAD, NULL, 0 },
		{ "repository:a%2fb:pull", GRANT_SCOPE_BAD, NULL, 0 },
		{ "repository:a%2Fb:pull", GRANT_SCOPE_BAD, NULL, 0 },
		{ "repository:A:pull", GRANT_SCOPE_BAD, NULL, 0 },
		{ "repository:a:pull,sudo", GRANT_SCOPE_BAD, NULL, 0 },
		{ "repository::pull", GRANT_SCOPE_BAD, NULL, 0 },
		{ "repository:a", GRANT_SCOPE_BAD, NULL, 0 },
		{ "blob:a:pull", GRANT_SCOPE_BAD, NULL, 0 },
		{ overlong, GRANT_SCOPE_BAD, NULL, 0 },
	};

	(void)state;
	memcpy(overlong, "repository:", 11);
	memset(overlong + 11, 'a', 300);
	memcpy(overlong + 311, ":pull", 6);
	for (size_t i = 0; i < N(t); i++) {
		struct grant_scope sc;
		bool ok = grant_scope_parse(t[i].s, strlen(t[i].s), &sc);

		assert_int_equal(ok, t[i].type != GRANT_SCOPE_BAD);
		assert_int_equal(sc.type, t[i].type);
		if (!ok)
			continue;
		assert_string_equal(sc.name, t[i].name);
		assert_int_equal(sc.actions, t[i].actions);
	}
}

static void
test_who(void **state)
{
	(void)state;
	assert_true(grant_who_valid("alice"));
	assert_true(grant_who_valid("ci.bot@example"));
	assert_true(grant_who_valid("*"));
	assert_true(grant_who_valid("anonymous"));
	assert_false(grant_who_valid(""));
	assert_false(grant_who_valid("-rf"));
	assert_false(grant_who_valid("a b"));
	assert_false(grant_who_valid("a:b"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_scopes),
		cmocka_unit_test(test_who),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
