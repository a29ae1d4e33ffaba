/*
 * Pins, reactions, bulk deletion and attachments (spec/client-api.md §4).
 */
#include "capi_internal.h"

const struct capi_route capi_routes_messages[] = {
    {NULL, NULL, NULL, 0},
};
