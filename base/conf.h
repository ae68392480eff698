/* conf.h -- berth's configuration file: an INI file read once with
 * libinih into a table of [section] key = value entries, and read back
 * by whoever owns each section.
 *
 * The reader knows no section or key: the front reads [server] and
 * [registry] (cgi/config.c), the store [storage] and [metadata]
 * (store/store.c), and each blob handler its own [blob.<name>] (e.g.
 * store/blob_fs.c).  Each typed getter marks its key as read; after
 * every owner has read its part, conf_check_unread() refuses a file with
 * keys nobody read (a typo, a key of another version) naming file, line
 * and key.  A bad value is reported the same way by the getter that
 * reads it.  Messages go to stderr as "berth: FILE:LINE: [section] key:
 * problem"; getters return -1 after printing one.
 *
 * Ownership: conf_load() returns a table the caller frees with
 * conf_free(); strings returned by conf_get() live as long as it.
 * Not thread-safe (berth has no threads); read-only after start-up
 * except for the read marks. */
#ifndef BERTH_CONF_H
#define BERTH_CONF_H

#include <stdbool.h>
#include <stddef.h>

struct conf;

/* conf_load -- read the INI file at path (NULL or "": no file, an empty
 * table).  Returns the table, or NULL after printing why (unreadable
 * file, syntax error with its line, a line longer than libinih's buffer
 * other than a comment, out of memory). */
struct conf *conf_load(const char *path);

void conf_free(struct conf *c);

/* conf_path -- the file's name for messages ("(defaults)" without one). */
const char *conf_path(const struct conf *c);

/* conf_default -- give [section] key the value `value` unless the file
 * sets it (command-line defaults such as -d DIR).  0, or -1 when out of
 * memory. */
int conf_default(struct conf *c, const char *section, const char *key,
    const char *value);

/* conf_get -- the raw value of [section] key, marking it read; NULL
 * when absent.  A key given twice: the last one wins. */
const char *conf_get(struct conf *c, const char *section, const char *key);

/* conf_get_nth -- the raw value of the n-th (from 0, in file order)
 * [section] key, for a key that may repeat ([notify] url); marks every
 * entry of the key read.  NULL past the last one. */
const char *conf_get_nth(struct conf *c, const char *section, const char *key,
    size_t n);

/* conf_string -- copy [section] key (or dflt when absent; dflt may be
 * NULL: out becomes "") into out (cap bytes).  -1 when the value is
 * empty or does not fit. */
int conf_string(struct conf *c, const char *section, const char *key,
    const char *dflt, char *out, size_t cap);

/* conf_bool -- true/yes/1 or false/no/0; dflt when absent. */
int conf_bool(struct conf *c, const char *section, const char *key, bool dflt,
    bool *out);

/* conf_long -- a decimal integer in [min, max]; dflt when absent. */
int conf_long(struct conf *c, const char *section, const char *key, long dflt,
    long min, long max, long *out);

/* conf_duration -- seconds written "90", "90s", "15m", "24h" or "7d"
 * (> 0, at most 100 years); dflt when absent. */
int conf_duration(struct conf *c, const char *section, const char *key,
    long dflt, long *out);

/* conf_choice -- the index in names[] (NULL-terminated) of the value;
 * dflt when absent. */
int conf_choice(struct conf *c, const char *section, const char *key,
    const char *const *names, int dflt, int *out);

/* conf_notice_once -- print "berth: FILE: text" about [section] key
 * (present in the table; else nothing), once per table: the first call
 * marks the key, later ones print nothing.  Processes forked after the
 * first call (the server's workers) inherit the mark, so a notice read
 * at start-up is printed once however many times the key is read. */
void conf_notice_once(struct conf *c, const char *section, const char *key,
    const char *text);

/* conf_bad -- report [section] key's value as bad, with why (may be
 * NULL), for checks a getter cannot make.  Returns -1. */
int conf_bad(const struct conf *c, const char *section, const char *key,
    const char *why);

/* conf_check_unread -- -1 after naming the first key that nobody read,
 * except keys in sections for which skip(ctx, section) is true (skip may
 * be NULL): the sections of blob handlers not in use, say.  0
 * otherwise. */
int conf_check_unread(const struct conf *c,
    bool (*skip)(void *ctx, const char *section), void *ctx);

/* parse_duration -- "90", "90s", "15m", "24h", "7d" to seconds (> 0).
 * Returns false on anything else. */
bool parse_duration(const char *s, long *seconds);

#endif
