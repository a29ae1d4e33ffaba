/*
 * Channel edits, permission overwrites and threads (spec/client-api.md §4).
 */
#include "capi_internal.h"

const struct capi_route capi_routes_channels[] = {
    {NULL, NULL, NULL, 0},
};
