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
    HS_R_UNKNOWN_ROLE,
    HS_R_UNKNOWN_MEMBER,
    HS_R_UNKNOWN_INVITE,
    HS_R_UNKNOWN_BAN,
    HS_R_UNKNOWN_EMOJI,
    HS_R_UNKNOWN_OVERWRITE,
    HS_R_UNKNOWN_ATTACHMENT,
    HS_R_MAX_PINS,       /* 250 pins in a channel */
    HS_R_MAX_ROLES,      /* 250 roles in a guild */
    HS_R_MAX_CHANNELS,   /* 500 channels in a guild */
    HS_R_MAX_REACTIONS,  /* 20 distinct reactions on a message */
    HS_R_MAX_RECIPIENTS, /* 10 in a group DM */
    HS_R_BANNED,         /* joining a guild one is banned from */
    HS_R_THREAD_ARCHIVED,
    HS_R_THREAD_LOCKED,
    HS_R_MESSAGE_TOO_OLD, /* bulk delete of messages over 14 days old */
    HS_R_CANNOT_DM,       /* no DM with this user */
    HS_R_INVALID_RECIPIENT,
    HS_R_SLOWMODE,         /* rate_limit_per_user not yet elapsed */
    HS_R_ENTITY_TOO_LARGE, /* an upload over the limit */
    HS_R_INVALID_EMOJI,    /* emoji not unicode or name:id */
    HS_R_ALREADY_MEMBER,
    HS_R_OWNER_CANNOT_LEAVE,
    HS_R_NONCE_REUSED, /* enforce_nonce with a nonce bound to a different request */
    /* A thread was already started from this message. */
    HS_R_THREAD_EXISTS,
    /* The action does not apply to this kind of channel (a thread, a DM, a category, an
     * invite to a DM). */
    HS_R_CHANNEL_TYPE,
    HS_R_SYSTEM_MESSAGE, /* editing or pinning a system message (a pin notice) */
    /* AutoMod or the spam filter blocked the message (hs_automod.h). */
    HS_R_AUTOMOD_BLOCKED,
    HS_R_UNKNOWN_AUTOMOD_RULE,
};

typedef struct hs_error {
    int code;           /* HS_E*, 0 when unset */
    int reason;         /* enum hs_reason */
    char field[64];     /* HS_R_FORM: the field path, dots between levels ("content");
                           HS_R_SLOWMODE: the wait in ms, as decimal text */
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
