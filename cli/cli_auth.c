/* cli_auth.c -- access control from the command line: `berth user`,
 * `token`, `grant`, `revoke` and `key`.  Users, CI tokens and grants are
 * rows reached through store/meta_auth.h; passwords are hashed by
 * store/ident.h and read from stdin (never from the command line, where
 * `ps` would show them); the signing keys are store/token.h's.  A
 * serving registry sees every change at its next sign-in or Basic
 * request; a signed token already issued stays valid to its expiry
 * ([auth] token_lifetime). */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "grant.h"
#include "ident.h"
#include "meta_auth.h"
#include "token.h"

enum { OPT_SCOPE = 256, OPT_EXPIRES };

/* Read a password: one line from stdin (the newline dropped), with a
 * prompt and no echo when stdin is a terminal.  0, or -1 when none. */
static int
read_password(char *buf, size_t cap)
{
	bool tty = isatty(STDIN_FILENO) == 1;
	struct termios old, noecho;
	size_t n;
	char *ok;

	if (tty) {
		fputs("password: ", stderr);
		tcgetattr(STDIN_FILENO, &old);
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho);
	}
	ok = fgets(buf, (int)cap, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (ok == NULL)
		return -1;
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n + 1 == cap)
		return -1; /* longer than the buffer */
	buf[n] = '\0';
	return n > 0 ? 0 : -1;
}

/* Is s a name a user or CI token may have? */
static bool
identity_name(const char *s)
{
	return grant_who_valid(s) && strcmp(s, "*") != 0 &&
	    strcmp(s, "anonymous") != 0;
}

/* Is there a user or a live CI token called name?  (A grant may come
 * before its user; `berth grant` only warns.)  Lookup errors count as
 * yes: they are reported by the command's own call. */
static bool
identity_known(const char *name)
{
	char hash[META_HASH_MAX];
	json_t *rows = json_array(), *row;
	enum meta_err e = meta_user_get(name, hash);
	bool known = e != META_NOTFOUND;
	size_t i;

	explicit_bzero(hash, sizeof(hash));
	if (!known && rows != NULL && meta_ci_tokens_list(rows) == META_OK)
		json_array_foreach(rows, i, row) {
			const char *n = json_string_value(
			    json_object_get(row, "name"));

			if (n != NULL && strcmp(n, name) == 0 &&
			    !json_is_true(json_object_get(row, "revoked")) &&
			    json_integer_value(
				json_object_get(row, "revoked")) == 0)
				known = true;
		}
	json_decref(rows);
	return known;
}

static int
user_set(const char *cmd, const char *name, bool add)
{
	char pw[IDENT_PASSWORD_MAX + 2], hash[META_HASH_MAX];
	enum meta_err e;

	if (!identity_name(name))
		return cli_usage_error(cmd,
		    "a user name is 1-128 of "
		    "A-Z a-z 0-9 . _ @ - (not anonymous)");
	if (read_password(pw, sizeof(pw)) != 0) {
		fprintf(stderr,
		    "berth %s: no password on stdin (one line, at "
		    "most %d bytes)\n",
		    cmd, IDENT_PASSWORD_MAX);
		return 1;
	}
	if (ident_hash_password(pw, hash) != 0) {
		explicit_bzero(pw, sizeof(pw));
		return 1;
	}
	explicit_bzero(pw, sizeof(pw));
	e = add ? meta_user_add(name, hash) : meta_user_passwd(name, hash);
	if (e == META_CONFLICT) {
		fprintf(stderr,
		    "berth %s: a user or CI token called %s exists "
		    "already\n",
		    cmd, name);
		return 1;
	}
	if (e == META_NOTFOUND) {
		fprintf(stderr, "berth %s: no user %s\n", cmd, name);
		return 1;
	}
	if (e != META_OK)
		return 1;
	printf(add ? "user %s added\n" : "password of %s changed\n", name);
	return 0;
}

int
cli_user(struct cli *c, int argc, char **argv)
{
	static const struct cli_col cols[] = {
		{ "USER", "name", CLI_TEXT },
		{ "ADDED", "created_at", CLI_TIME },
		{ "PASSWORD SET", "updated_at", CLI_TIME },
	};
	const char *sub = argc > 1 ? argv[1] : "";
	json_t *rows;
	enum meta_err e;

	if (strcmp(sub, "add") == 0 || strcmp(sub, "passwd") == 0) {
		if (argc != 3)
			return cli_usage_error(argv[0], "which user?");
		return user_set(argv[0], argv[2], sub[0] == 'a');
	}
	if (strcmp(sub, "del") == 0) {
		if (argc != 3)
			return cli_usage_error(argv[0], "which user?");
		e = meta_user_delete(argv[2]);
		if (e == META_NOTFOUND)
			fprintf(stderr, "berth user: no user %s\n", argv[2]);
		if (e != META_OK)
			return 1;
		printf("user %s deleted, with its grants; tokens it holds "
		       "expire within the token lifetime\n",
		    argv[2]);
		return 0;
	}
	if (strcmp(sub, "list") != 0)
		return cli_usage_error(argv[0], "add, passwd, del or list?");
	if ((e = cli_options(c, argc - 1, argv + 1, 0, 0, NULL)) != 0)
		return (int)e;
	rows = json_array();
	return cli_list(c, meta_users_list(rows) == META_OK, rows, cols,
	    sizeof(cols) / sizeof(cols[0]));
}

/* berth token add NAME --scope S [--scope S...] [--expires DURATION] */
static int
token_add(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "scope", required_argument,
						  NULL, OPT_SCOPE },
		{ "expires", required_argument, NULL, OPT_EXPIRES },
		{ NULL, 0, NULL, 0 } };
	char secret[IDENT_SECRET_MAX], when[64];
	struct meta_ci_token t;
	long expires = 0;
	enum meta_err e;
	size_t used = 0;
	int ch;

	(void)c;
	memset(&t, 0, sizeof(t));
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_SCOPE: {
			int n = snprintf(t.scope + used, sizeof(t.scope) - used,
			    "%s%s", used > 0 ? " " : "", optarg);

			if (n < 0 || (size_t)n >= sizeof(t.scope) - used)
				return cli_usage_error("token",
				    "scope too long");
			used += (size_t)n;
			break;
		}
		case OPT_EXPIRES:
			if (!cli_duration(optarg, &expires) || expires == 0)
				return cli_usage_error("token",
				    "bad --expires");
			break;
		default:
			return cli_usage_error("token", NULL);
		}
	}
	if (argc - optind != 1 || !identity_name(argv[optind]))
		return cli_usage_error("token",
		    "one NAME (A-Z a-z 0-9 . _ @ -)");
	if (!ident_scope_valid(t.scope))
		return cli_usage_error("token",
		    "--scope PATTERN:ACTIONS, e.g. "
		    "'team/**:pull,push'");
	snprintf(t.name, sizeof(t.name), "%s", argv[optind]);
	if (ident_ci_secret(secret, t.id, t.secret_hash) != 0)
		return 1;
	t.created_at = (int64_t)time(NULL);
	t.expires_at = expires > 0 ? t.created_at + expires : 0;
	e = meta_ci_token_add(&t);
	if (e == META_CONFLICT)
		fprintf(stderr,
		    "berth token: a user or CI token called %s "
		    "exists already\n",
		    t.name);
	if (e != META_OK) {
		explicit_bzero(secret, sizeof(secret));
		return 1;
	}
	if (t.expires_at > 0)
		cli_time(t.expires_at, when, sizeof(when));
	else
		snprintf(when, sizeof(when), "never");
	printf(
	    "CI token %s: scope %s, expires %s\n"
	    "Sign in with user name %s and this password (shown once):\n%s\n",
	    t.name, t.scope, when, t.name, secret);
	explicit_bzero(secret, sizeof(secret));
	return 0;
}

int
cli_token(struct cli *c, int argc, char **argv)
{
	static const struct cli_col cols[] = {
		{ "NAME", "name", CLI_TEXT },
		{ "SCOPE", "scope", CLI_TEXT },
		{ "CREATED", "created_at", CLI_TIME },
		{ "EXPIRES", "expires_at", CLI_TIME },
		{ "REVOKED", "revoked", CLI_YESNO },
	};
	const char *sub = argc > 1 ? argv[1] : "";
	json_t *rows;
	enum meta_err e;
	int rc;

	if (strcmp(sub, "add") == 0)
		return token_add(c, argc - 1, argv + 1);
	if (strcmp(sub, "revoke") == 0) {
		if (argc != 3)
			return cli_usage_error(argv[0], "which token?");
		e = meta_ci_token_revoke(argv[2]);
		if (e == META_NOTFOUND)
			fprintf(stderr, "berth token: no live token %s\n",
			    argv[2]);
		if (e != META_OK)
			return 1;
		printf("CI token %s revoked; signed tokens it got expire "
		       "within the token lifetime\n",
		    argv[2]);
		return 0;
	}
	if (strcmp(sub, "list") != 0)
		return cli_usage_error(argv[0], "add, list or revoke?");
	if ((rc = cli_options(c, argc - 1, argv + 1, 0, 0, NULL)) != 0)
		return rc;
	rows = json_array();
	return cli_list(c, meta_ci_tokens_list(rows) == META_OK, rows, cols,
	    sizeof(cols) / sizeof(cols[0]));
}

/* berth grant [WHO PATTERN ACTIONS]: without arguments, the list. */
int
cli_grant(struct cli *c, int argc, char **argv)
{
	static const struct cli_col cols[] = {
		{ "WHO", "who", CLI_TEXT },
		{ "PATTERN", "pattern", CLI_TEXT },
		{ "ACTIONS", "actions", CLI_TEXT },
		{ "SINCE", "created_at", CLI_TIME },
	};
	const char *acts;
	char text[32];
	unsigned bits;
	json_t *rows;
	int rc;

	if ((rc = cli_options(c, argc, argv, 0, 3, NULL)) != 0)
		return rc;
	if (argc - optind == 0) {
		rows = json_array();
		return cli_list(c, meta_grants_list(rows) == META_OK, rows,
		    cols, sizeof(cols) / sizeof(cols[0]));
	}
	if (argc - optind != 3)
		return cli_usage_error(argv[0], "WHO PATTERN ACTIONS");
	acts = argv[optind + 2];
	if (!grant_who_valid(argv[optind]))
		return cli_usage_error(argv[0],
		    "WHO is a user or token name, "
		    "anonymous or '*'");
	if (!grant_pattern_valid(argv[optind + 1]))
		return cli_usage_error(argv[0],
		    "PATTERN is a repository name "
		    "with * (one component) or ** (any), e.g. 'team/**'");
	if (strcmp(acts, "none") == 0)
		acts = "";
	if (!grant_actions_parse(acts, strlen(acts), &bits))
		return cli_usage_error(argv[0],
		    "ACTIONS is pull, push, delete "
		    "joined by commas, or none");
	grant_actions_format(bits, text, sizeof(text));
	if (meta_grant_put(argv[optind], argv[optind + 1], text) != META_OK)
		return 1;
	if (identity_name(argv[optind]) && !identity_known(argv[optind]))
		fprintf(stderr,
		    "berth grant: note: no user or CI token is called %s "
		    "yet; the grant applies once one is (berth user add, "
		    "berth token add)\n",
		    argv[optind]);
	printf("%s may %s on %s\n", argv[optind],
	    text[0] != '\0' ? text : "do nothing", argv[optind + 1]);
	return 0;
}

int
cli_revoke(struct cli *c, int argc, char **argv)
{
	enum meta_err e;
	int rc;

	if ((rc = cli_options(c, argc, argv, 2, 2, NULL)) != 0)
		return rc;
	e = meta_grant_delete(argv[optind], argv[optind + 1]);
	if (e == META_NOTFOUND)
		fprintf(stderr, "berth revoke: %s has no grant on %s\n",
		    argv[optind], argv[optind + 1]);
	if (e != META_OK)
		return 1;
	printf("grant of %s on %s removed\n", argv[optind], argv[optind + 1]);
	return 0;
}

int
cli_key(struct cli *c, int argc, char **argv)
{
	const struct ident_conf *a = &c->store->auth;
	long keep = a->token_lifetime > a->refresh_lifetime ?
	    a->token_lifetime :
	    a->refresh_lifetime;
	char kid[17];
	int removed;

	if (argc != 2 || strcmp(argv[1], "rotate") != 0)
		return cli_usage_error(argv[0], "rotate?");
	if (token_key_rotate(c->store->data_dir, keep + TOKEN_SKEW, kid,
		&removed) != 0)
		return 1;
	printf("new signing key %s; %d retired key%s removed (older keys "
	       "verify until their tokens expire)\n",
	    kid, removed, removed == 1 ? "" : "s");
	return 0;
}
