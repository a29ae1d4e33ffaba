/*
 * hs_error.h: error codes and the optional error detail every fallible function takes.
 *
 * Functions return 0 or a negative HS_E* code. When the caller passes a non-NULL
 * hs_error *, the callee fills it with a human message and, for errors a client caused, a
 * reason (HS_R_*) that the API edge maps to its wire form (an HTTP status plus Discord JSON
 * code, a gateway close code, a federation rejection). The core names the rule that was
 * broken; it never knows about HTTP. hs_error is caller-allocated and needs no release.
 */
#ifndef HS_ERROR_H
#define HS_ERROR_H

enum {
    HS_OK = 0,
    HS_EINVAL = -1,    /* the input is malformed or out of range */
    HS_ENOTFOUND = -2, /* the thing named does not exist (or may not be known to the caller) */
    HS_EPERM = -3,     /* the caller may not do this */
    HS_EEXIST = -4,    /* it already exists */
    HS_EIO = -5,       /* storage or system failure */
    HS_ELIMIT = -6,    /* a configured limit was reached */
    HS_EAUTH = -7,     /* authentication failed */
};

/* Which rule was broken, for errors a client caused. */
enum hs_reason {
    HS_R_NONE = 0,
    HS_R_FORM, /* field/form_code say which field and why */
    HS_R_UNKNOWN_GUILD,
    HS_R_UNKNOWN_CHANNEL,
    HS_R_UNKNOWN_MESSAGE,
    HS_R_UNKNOWN_USER,
    HS_R_UNKNOWN_APPLICATION,
    HS_R_MISSING_ACCESS, /* not a member / cannot see the resource */
    HS_R_MISSING_PERMISSIONS,
    HS_R_NOT_AUTHOR, /* editing another user's message */
    HS_R_EMPTY_MESSAGE,
    HS_R_NON_TEXT_CHANNEL, /* sending to a voice or category channel */
    HS_R_BOT_FORBIDDEN,    /* an action bot accounts may not take */
};

typedef struct hs_error {
    int code;           /* HS_E*, 0 when unset */
    int reason;         /* enum hs_reason */
    char field[64];     /* HS_R_FORM: the field path, dots between levels ("content") */
    char form_code[48]; /* HS_R_FORM: Discord's _errors code ("BASE_TYPE_MAX_LENGTH") */
    char msg[256];      /* for humans; never contains secrets or message bodies */
} hs_error;

/* Fills err (which may be NULL) and returns code. */
int hs_error_set(hs_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int hs_error_reason(hs_error *err, int code, int reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A validation error on one field: HS_EINVAL, HS_R_FORM. */
int hs_error_form(hs_error *err, const char *field, const char *form_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void hs_error_clear(hs_error *err);
const char *hs_strerror(int code);

#endif
