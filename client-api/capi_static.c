/*
 * The web client's files, served at / (spec/web-client.md).
 */
#include "capi_internal.h"

void capi_static_serve(capi_req *req, const char *url)
{
    (void)url;
    capi_respond_code(req, 404, 0, "404: Not Found");
}
