/*
 * Invites, DMs and group DMs (spec/client-api.md §4).
 */
#include "capi_internal.h"

const struct capi_route capi_routes_invites[] = {
    {NULL, NULL, NULL, 0},
};
