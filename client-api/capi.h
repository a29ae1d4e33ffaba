/*
 * capi.h: the client API server: Discord v10 REST over HTTP (spec/client-api.md).
 *
 * capi_server owns a libmicrohttpd daemon with its own threads. Reads are answered on
 * those threads from their read-only connections; writes are handed to the core's writer
 * thread with the HTTP connection suspended, and the response is sent when the write has
 * committed. Blocking work (password hashing) goes to the core's pool the same way.
 */
#ifndef CAPI_H
#define CAPI_H

#include "hs_core.h"

typedef struct capi_server capi_server;

/* Starts listening on cfg->listen. Borrows core, which must outlive the server. */
int capi_server_new(capi_server **out, hs_core *core, hs_error *err);
/*
 * Stops accepting connections, waits for requests in flight (their writes still commit
 * and answer), then stops the daemon. NULL is allowed.
 */
void capi_server_free(capi_server *srv);
/* Closes every gateway connection with 4000 so that clients resume (SIGUSR1). Any thread. */
void capi_server_reconnect_all(capi_server *srv);
/* The port actually bound (useful with port 0). */
int capi_server_port(capi_server *srv);

#endif
