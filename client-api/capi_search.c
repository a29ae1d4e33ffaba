/*
 * Message search (spec/rest-search.md).
 */
#include "capi_internal.h"

const struct capi_route capi_routes_search[] = {
    {NULL, NULL, NULL, 0},
};
