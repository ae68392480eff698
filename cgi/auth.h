/* auth.h -- access control at the front: who the caller of a request
 * is, whether it may do what the route needs, and the answers the
 * Docker token flow expects (README.md, "Access control"; DESIGN.md,
 * "Access control, in outline").
 *
 * Off unless [auth] enabled = true (store/ident.h).  When on, dispatch
 * calls auth_check() once per request before the generic rules:
 *   - the token endpoint ([auth] token_path) is answered here
 *     (h_token.c);
 *   - a caller is a signed token (Authorization: Bearer, checked with the
 *     key alone: no database, no password hash), Basic credentials
 *     (checked through the verified-credentials cache), REMOTE_USER when
 *     trust_remote_user, or nobody;
 *   - GET /v2/ answers 401 with a Bearer challenge to nobody, so that
 *     docker, podman and buildah fetch a token and send credentials;
 *   - each (route, method) needs the action of its route row (routes.c): a
 *     caller without them gets 401 UNAUTHORIZED with the challenge and
 *     scope="repository:<name>:<actions>" when a token for that scope
 *     could help (nobody, anonymous, or a token not issued for this
 *     repository), 403 DENIED when it is known and may see the
 *     repository (or asks to write), and the answer of a missing
 *     repository (404) when it may not even pull;
 *   - a mount needs pull on `from` as well as push on the target;
 *     without it the mount is dropped and a plain upload starts
 *     (oci-spec.md 4.6 allows the fallback);
 *   - the writes of the request are audited as the caller's
 *     (meta_set_actor()).
 * Failed sign-ins are logged with user and address, never a password
 * or token. */
#ifndef BERTH_AUTH_H
#define BERTH_AUTH_H

#include <stdbool.h>

#include <jansson.h>

#include "request.h"
#include "response.h"
#include "router.h"

struct ident;

/* auth_check -- decide about request r, whose path route_match() gave
 * `id` (ROUTE_NONE: no endpoint; the row for the method is found with
 * route_find(), and its `action` says what the request needs).  Returns
 * true when the request may go on to the handler.  Returns false when it
 * must not: *err is then the error for dispatch to answer (error headers
 * such as WWW-Authenticate already set), or E_OK when auth_check()
 * answered the request itself (the token endpoint). */
bool auth_check(struct req *r, enum route_id id, enum reg_err *err);

/* auth_filter_repositories -- remove from the jansson array of
 * repository names those the caller of the current request (the last
 * auth_check()) may not pull.  Nothing when access control is off. */
void auth_filter_repositories(struct req *r, json_t *names);

/* auth_challenge -- add the Bearer challenge to r: realm and service,
 * and scope when not NULL, error when not NULL ("invalid_token",
 * "insufficient_scope"). */
void auth_challenge(struct req *r, const char *scope, const char *error);

/* h_token -- the token endpoint (h_token.c): GET with Basic credentials
 * or none, POST with a form (grant_type=password|refresh_token).  The
 * Docker registry token specification ("Token Authentication
 * Implementation", "OAuth2 Token Authentication"). */
enum reg_err h_token(struct req *r);

/* auth_basic -- the user and password of an "Authorization: Basic"
 * header value into user and pass (cap bytes each).  false when
 * malformed. */
bool auth_basic(const char *header, char *user, size_t ucap, char *pass,
    size_t pcap);

/* auth_forget -- forget the previous request's caller (server.c calls
 * it as a request begins, auth_check() too): a request refused before
 * auth_check() logs no one's name. */
void auth_forget(void);

/* auth_who -- who the current request came from, for the access log:
 * the user or CI token a signed token or Basic credentials named (a
 * static string, valid until the next auth_check()), or "-" for none
 * or when access control is off. */
const char *auth_who(void);

/* auth_signed_in -- the token endpoint (h_token) tells auth_who() whom
 * it signed in (id copied). */
void auth_signed_in(const struct ident *id);

/* auth_addr -- the client's address for logs ("-" when unknown). */
const char *auth_addr(const struct req *r);

#endif
