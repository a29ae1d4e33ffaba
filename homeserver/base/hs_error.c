#include "hs_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void fill(hs_error *err, int code, int reason, const char *fmt, va_list ap)
{
    err->code = code;
    err->reason = reason;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int hs_error_set(hs_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        hs_error_clear(err);
        fill(err, code, HS_R_NONE, fmt, ap);
        va_end(ap);
    }
    return code;
}

int hs_error_reason(hs_error *err, int code, int reason, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        hs_error_clear(err);
        fill(err, code, reason, fmt, ap);
        va_end(ap);
    }
    return code;
}

int hs_error_form(hs_error *err, const char *field, const char *form_code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        hs_error_clear(err);
        fill(err, HS_EINVAL, HS_R_FORM, fmt, ap);
        va_end(ap);
        snprintf(err->field, sizeof(err->field), "%s", field);
        snprintf(err->form_code, sizeof(err->form_code), "%s", form_code);
    }
    return HS_EINVAL;
}

void hs_error_clear(hs_error *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}

const char *hs_strerror(int code)
{
    switch (code) {
    case HS_OK:
        return "ok";
    case HS_EINVAL:
        return "invalid input";
    case HS_ENOTFOUND:
        return "not found";
    case HS_EPERM:
        return "not permitted";
    case HS_EEXIST:
        return "already exists";
    case HS_EIO:
        return "storage failure";
    case HS_ELIMIT:
        return "limit reached";
    case HS_EAUTH:
        return "authentication failed";
    }
    return "unknown error";
}
