/*
 * capi_gateway.h: the Discord-compatible WebSocket gateway (spec/client-api.md §6).
 *
 * One gateway thread runs an epoll loop that owns every gateway connection and session.
 * Others talk to it only through its inbox: the HTTP threads hand over upgraded sockets,
 * the writer thread hands over committed events (through the bus), the main thread asks for
 * a drain. Sessions outlive their connections for gateway-resume-seconds so a client can
 * RESUME and get every dispatch it missed.
 */
#ifndef CAPI_GATEWAY_H
#define CAPI_GATEWAY_H

#include <stddef.h>

#include "hs_core.h"

typedef struct capi_gateway capi_gateway;

/* Query options of a gateway connection, parsed from its URL. */
struct capi_gw_params {
    int version;      /* ?v=, 0 when absent */
    int bad_encoding; /* ?encoding= other than json */
    int zlib_stream;  /* ?compress=zlib-stream */
    int bad_compress; /* ?compress= something else */
    char *host;       /* the Host header, for resume_gateway_url; owned, NULL if none */
};

/* Starts the gateway thread and subscribes to core's bus. Free with capi_gateway_free. */
capi_gateway *capi_gateway_new(hs_core *core);
/* Closes every connection and stops the thread. NULL is allowed. */
void capi_gateway_free(capi_gateway *gw);

/* Takes fd (an upgraded, connected socket) and a copy of the extra bytes already read.
 * Any thread. */
void capi_gateway_adopt(capi_gateway *gw, int fd, const char *extra, size_t extra_len,
                        const struct capi_gw_params *params);
/* Closes every connection with 4000 (resumable), e.g. before a restart. Any thread. */
void capi_gateway_reconnect_all(capi_gateway *gw);

#endif
