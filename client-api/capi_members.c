/*
 * Roles, members, moderation (kick, ban, timeout) and the audit log (spec/client-api.md §4).
 */
#include "capi_internal.h"

const struct capi_route capi_routes_members[] = {
    {NULL, NULL, NULL, 0},
};
