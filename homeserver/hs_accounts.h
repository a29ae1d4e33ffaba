/*
 * hs_accounts.h: users, passwords, tokens, applications and their bot users.
 *
 * Passwords are hashed with argon2id (libsodium crypto_pwhash_str); hashing is slow by
 * design, so the functions that hash say "blocking" and must run on a pool thread or a
 * tool's main thread, never on an HTTP or event-loop thread. Tokens are
 * base64url(user id) "." base64url(24 random bytes); only their SHA-256 is stored, and a
 * presented token is compared with sodium_memcmp (spec/client-api.md §2).
 */
#ifndef HS_ACCOUNTS_H
#define HS_ACCOUNTS_H

#include <jansson.h>
#include <stdint.h>

#include "hs_core.h"

#define HS_USERNAME_MAX 32
#define HS_TOKEN_MAX 96

struct hs_user {
    uint64_t id;
    int bot;
    char username[HS_USERNAME_MAX + 1];
};

/*
 * Validates a requested username and writes its folded (lower-case) form to out. Errors
 * are HS_R_FORM on field "username".
 */
int hs_username_check(const char *in, char out[HS_USERNAME_MAX + 1], hs_error *err);
/* Validates a password's length (8..128 code points); HS_R_FORM on field "password". */
int hs_password_check(const char *password, hs_error *err);

/* Blocking. Hashes password with the configured argon2id cost into out. */
int hs_password_hash(const hs_config *cfg, const char *password, char out[128], hs_error *err);
/* Blocking. Returns 1 when password matches the stored hash, else 0. */
int hs_password_verify(const char *hash, const char *password);

/* Makes a fresh token for user_id (written to out, NUL-terminated) and its SHA-256. */
void hs_token_new(uint64_t user_id, char out[HS_TOKEN_MAX], unsigned char hash[32]);
/* Reads the user id a token claims; -1 when it is not of token form. */
int hs_token_user_id(const char *token, uint64_t *user_id);

/*
 * Checks a presented token. bot_prefix says whether it came as "Bot <token>": a bot's
 * token must and a user's token must not; -1 accepts either (the gateway's IDENTIFY carries
 * the bare token). Fills *out and returns 0, or HS_EAUTH.
 */
int hs_auth_token(hs_db *db, const char *token, int bot_prefix, struct hs_user *out, hs_error *err);

/* The user object (spec/client-api.md "Accounts"); private adds the fields only the user
 * sees about themself. Returns new JSON, or NULL when the user does not exist. */
json_t *hs_user_json(hs_db *db, uint64_t user_id, int private_fields);

/*
 * Blocking. Registers an account (validates, hashes, writes) and issues a first token.
 * Errors: HS_R_FORM on username/password (USERNAME_ALREADY_TAKEN when taken).
 */
int hs_account_register(hs_core *core, const char *username, const char *password,
                        const char *global_name, char token[HS_TOKEN_MAX], uint64_t *user_id,
                        hs_error *err);
/*
 * Blocking. Checks login/password and issues a new token. A wrong name or password is
 * HS_EAUTH with HS_R_FORM on "login", INVALID_LOGIN; both cost one argon2id verification.
 */
int hs_account_login(hs_core *core, const char *login, const char *password,
                     char token[HS_TOKEN_MAX], uint64_t *user_id, hs_error *err);

/* Write: creates an application with its bot user. owner_id 0 means none (hearthctl). */
struct hs_app_create {
    uint64_t owner_id;
    const char *name;
    json_t *app;     /* out: new reference */
    uint64_t app_id; /* out */
};
int hs_app_create_fn(hs_txn *txn, void *arg, hs_error *err);

/* Write: replaces every token of an application's bot with a new one. actor_id 0 skips the
 * ownership check (hearthctl, which acts with the operator's authority). */
struct hs_app_reset {
    uint64_t app_id;
    uint64_t actor_id;
    char token[HS_TOKEN_MAX]; /* out */
};
int hs_app_reset_fn(hs_txn *txn, void *arg, hs_error *err);

/* Application flags that allow privileged gateway intents (Discord's values). New
 * applications get the three non-LIMITED ones: on a self-hosted server the operator who
 * creates a bot is the one who would approve it. */
#define HS_APP_FLAG_GATEWAY_PRESENCE (1u << 12)
#define HS_APP_FLAG_GATEWAY_PRESENCE_LIMITED (1u << 13)
#define HS_APP_FLAG_GATEWAY_GUILD_MEMBERS (1u << 14)
#define HS_APP_FLAG_GATEWAY_GUILD_MEMBERS_LIMITED (1u << 15)
#define HS_APP_FLAG_GATEWAY_MESSAGE_CONTENT (1u << 18)
#define HS_APP_FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED (1u << 19)
#define HS_APP_FLAGS_EDITABLE                                                                      \
    (HS_APP_FLAG_GATEWAY_PRESENCE | HS_APP_FLAG_GATEWAY_PRESENCE_LIMITED |                         \
     HS_APP_FLAG_GATEWAY_GUILD_MEMBERS | HS_APP_FLAG_GATEWAY_GUILD_MEMBERS_LIMITED |               \
     HS_APP_FLAG_GATEWAY_MESSAGE_CONTENT | HS_APP_FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED)

/* An application's flags; 0 when unknown. */
uint64_t hs_app_flags(hs_db *db, uint64_t app_id);

/* Write: sets the editable flags of an application (the owner only). */
struct hs_app_edit {
    uint64_t app_id, actor_id;
    uint64_t flags;
    json_t *app; /* out: new reference */
};
int hs_app_edit_fn(hs_txn *txn, void *arg, hs_error *err);

struct hs_app {
    uint64_t id, owner_id, bot_user_id;
    int bot_public;
};
/* Reads an application; HS_ENOTFOUND / HS_R_UNKNOWN_APPLICATION when unknown. */
int hs_app_get(hs_db *db, uint64_t app_id, struct hs_app *out, hs_error *err);
/* The application whose bot is bot_user_id; HS_ENOTFOUND when none. */
int hs_app_of_bot(hs_db *db, uint64_t bot_user_id, struct hs_app *out, hs_error *err);
/* The application object; new JSON or NULL when unknown. */
json_t *hs_app_json(hs_db *db, uint64_t app_id);

#endif
