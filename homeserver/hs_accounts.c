#include "hs_accounts.h"
#include "hs_log.h"
#include "hs_util.h"

#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hs_username_check(const char *in, char out[HS_USERNAME_MAX + 1], hs_error *err)
{
    size_t len = strlen(in);
    if (len < 2 || len > HS_USERNAME_MAX)
        return hs_error_form(err, "username", "BASE_TYPE_BAD_LENGTH",
                             "Must be between 2 and 32 in length.");
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
            return hs_error_form(err, "username", "USERNAME_INVALID_CHARACTERS",
                                 "Username can only contain letters, numbers, '_' and '.'");
        out[i] = c;
    }
    out[len] = '\0';
    return 0;
}

int hs_password_check(const char *password, hs_error *err)
{
    size_t n = hs_utf8_len(password, strlen(password));
    if (n < 8 || n > 128)
        return hs_error_form(err, "password", "BASE_TYPE_BAD_LENGTH",
                             "Must be between 8 and 128 in length.");
    return 0;
}

int hs_password_hash(const hs_config *cfg, const char *password, char out[128], hs_error *err)
{
    HS_ASSERT(crypto_pwhash_STRBYTES <= 128);
    if (crypto_pwhash_str_alg(out, password, strlen(password), (unsigned long long)cfg->argon2_ops,
                              (size_t)cfg->argon2_mem_kib * 1024,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return hs_error_set(err, HS_EIO, "password hashing ran out of memory");
    return 0;
}

int hs_password_verify(const char *hash, const char *password)
{
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

void hs_token_new(uint64_t user_id, char out[HS_TOKEN_MAX], unsigned char hash[32])
{
    char idtext[24];
    unsigned char rnd[24];
    int n = snprintf(idtext, sizeof(idtext), "%" PRIu64, user_id);
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2base64(out, HS_TOKEN_MAX, (const unsigned char *)idtext, (size_t)n,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    size_t len = strlen(out);
    out[len++] = '.';
    sodium_bin2base64(out + len, HS_TOKEN_MAX - len, rnd, sizeof(rnd),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    crypto_hash_sha256(hash, (const unsigned char *)out, strlen(out));
}

int hs_token_user_id(const char *token, uint64_t *user_id)
{
    const char *dot = strchr(token, '.');
    unsigned char idtext[24];
    size_t idlen = 0;
    if (!dot || dot == token || dot - token > 32)
        return -1;
    if (sodium_base642bin(idtext, sizeof(idtext) - 1, token, (size_t)(dot - token), NULL, &idlen,
                          NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return -1;
    idtext[idlen] = '\0';
    return hs_parse_u64((const char *)idtext, user_id);
}

int hs_auth_token(hs_db *db, const char *token, int bot_prefix, struct hs_user *out, hs_error *err)
{
    uint64_t uid;
    unsigned char hash[32];
    size_t len = strlen(token);
    if (len == 0 || len >= HS_TOKEN_MAX || hs_token_user_id(token, &uid) < 0)
        return hs_error_set(err, HS_EAUTH, "malformed token");
    crypto_hash_sha256(hash, (const unsigned char *)token, len);

    int found = 0;
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT hash FROM tokens WHERE user_id = ?");
    hs_bind_id(s, 1, uid);
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (sqlite3_column_bytes(s, 0) == 32 &&
            sodium_memcmp(sqlite3_column_blob(s, 0), hash, 32) == 0)
            found = 1;
    }
    sqlite3_reset(s);
    if (!found)
        return hs_error_set(err, HS_EAUTH, "unknown token");

    s = hs_db_stmt(db, "SELECT username, bot FROM users WHERE id = ?");
    hs_bind_id(s, 1, uid);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_reset(s);
        return hs_error_set(err, HS_EAUTH, "token of a missing user");
    }
    out->id = uid;
    snprintf(out->username, sizeof(out->username), "%s", hs_col_text(s, 0));
    out->bot = sqlite3_column_int(s, 1);
    sqlite3_reset(s);
    if (bot_prefix >= 0 && out->bot != !!bot_prefix)
        return hs_error_set(err, HS_EAUTH, "token type does not match its prefix");
    return 0;
}

json_t *hs_user_json(hs_db *db, uint64_t user_id, int private_fields)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT username, global_name, bot FROM users WHERE id = ?");
    hs_bind_id(s, 1, user_id);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_reset(s);
        return NULL;
    }
    const char *gn = hs_col_text(s, 1);
    json_t *u = json_pack("{s:o, s:s, s:s, s:o, s:n, s:b, s:b, s:i, s:i, s:n, s:n, s:i}", "id",
                          hs_json_id(user_id), "username", hs_col_text(s, 0), "discriminator", "0",
                          "global_name", gn ? json_string(gn) : json_null(), "avatar", "bot",
                          sqlite3_column_int(s, 2), "system", 0, "flags", 0, "public_flags", 0,
                          "banner", "accent_color", "premium_type", 0);
    sqlite3_reset(s);
    HS_ASSERT(u);
    if (private_fields) {
        json_object_set_new(u, "mfa_enabled", json_false());
        json_object_set_new(u, "locale", json_string("en-US"));
        json_object_set_new(u, "verified", json_true());
        json_object_set_new(u, "email", json_null());
    }
    return u;
}

/* Write: a new account with its first token. */
struct register_op {
    const char *username;
    const char *global_name;
    const char *hash;
    uint64_t user_id;
    char token[HS_TOKEN_MAX];
};

static int insert_token(hs_txn *txn, uint64_t user_id, char token[HS_TOKEN_MAX], hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    unsigned char hash[32];
    hs_token_new(user_id, token, hash);
    sqlite3_stmt *s =
        hs_db_stmt(db, "INSERT INTO tokens (user_id, hash, created_at) VALUES (?, ?, ?)");
    hs_bind_id(s, 1, user_id);
    sqlite3_bind_blob(s, 2, hash, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)hs_txn_now_ms(txn));
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : hs_db_error(db, err, "storing a token");
}

static int insert_user(hs_txn *txn, uint64_t id, const char *username, const char *global_name,
                       const char *hash, int bot, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    sqlite3_stmt *s = hs_db_stmt(db, "INSERT INTO users (id, username, global_name, "
                                     "password_hash, bot, created_at) VALUES (?, ?, ?, ?, ?, ?)");
    hs_bind_id(s, 1, id);
    hs_bind_text(s, 2, username);
    hs_bind_text(s, 3, global_name);
    hs_bind_text(s, 4, hash);
    sqlite3_bind_int(s, 5, bot);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)hs_txn_now_ms(txn));
    int rc = sqlite3_step(s);
    int ext = sqlite3_extended_errcode(hs_db_handle(db));
    sqlite3_reset(s);
    if (rc == SQLITE_DONE)
        return 0;
    if (ext == SQLITE_CONSTRAINT_UNIQUE)
        return hs_error_form(err, "username", "USERNAME_ALREADY_TAKEN",
                             "Username is unavailable. Try adding numbers, letters, "
                             "underscores _ , or periods.");
    return hs_db_error(db, err, "storing a user");
}

static int register_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct register_op *op = arg;
    op->user_id = hs_txn_new_id(txn);
    int rc = insert_user(txn, op->user_id, op->username, op->global_name, op->hash, 0, err);
    if (rc == 0)
        rc = insert_token(txn, op->user_id, op->token, err);
    if (rc == 0)
        rc = hs_txn_event(txn, "USER_CREATE", 0, 0, op->user_id,
                          hs_user_json(hs_txn_db(txn), op->user_id, 0), err);
    return rc;
}

int hs_account_register(hs_core *core, const char *username, const char *password,
                        const char *global_name, char token[HS_TOKEN_MAX], uint64_t *user_id,
                        hs_error *err)
{
    char folded[HS_USERNAME_MAX + 1];
    char hash[128];
    int rc = hs_username_check(username, folded, err);
    if (rc == 0)
        rc = hs_password_check(password, err);
    if (rc == 0)
        rc = hs_password_hash(hs_core_config(core), password, hash, err);
    if (rc < 0)
        return rc;
    struct register_op op = {.username = folded, .global_name = global_name, .hash = hash};
    rc = hs_writer_run(hs_core_writer(core), register_fn, &op, err);
    if (rc == 0) {
        memcpy(token, op.token, HS_TOKEN_MAX);
        *user_id = op.user_id;
    }
    sodium_memzero(&op.token, sizeof(op.token));
    return rc;
}

/* A hash to verify against when the login names nobody, so that a wrong name costs the
 * same time as a wrong password. Made once, with the configured cost. */
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[128];
static const hs_config *dummy_cfg;

static void make_dummy(void)
{
    unsigned char rnd[16];
    char pw[40];
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(pw, sizeof(pw), rnd, sizeof(rnd));
    if (hs_password_hash(dummy_cfg, pw, dummy_hash, NULL) < 0)
        dummy_hash[0] = '\0';
}

struct login_op {
    uint64_t user_id;
    char token[HS_TOKEN_MAX];
};

static int login_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct login_op *op = arg;
    return insert_token(txn, op->user_id, op->token, err);
}

int hs_account_login(hs_core *core, const char *login, const char *password,
                     char token[HS_TOKEN_MAX], uint64_t *user_id, hs_error *err)
{
    char folded[HS_USERNAME_MAX + 1];
    char hash[128] = "";
    uint64_t uid = 0;
    hs_db *db = hs_core_read_db(core, err);
    if (!db)
        return HS_EIO;
    if (hs_username_check(login, folded, NULL) == 0) {
        sqlite3_stmt *s =
            hs_db_stmt(db, "SELECT id, password_hash FROM users WHERE username = ? AND bot = 0");
        hs_bind_text(s, 1, folded);
        if (sqlite3_step(s) == SQLITE_ROW && hs_col_text(s, 1)) {
            uid = hs_col_id(s, 0);
            snprintf(hash, sizeof(hash), "%s", hs_col_text(s, 1));
        }
        sqlite3_reset(s);
    }
    int ok;
    if (uid) {
        ok = hs_password_verify(hash, password);
    } else {
        dummy_cfg = hs_core_config(core);
        pthread_once(&dummy_once, make_dummy);
        hs_password_verify(dummy_hash, password);
        ok = 0;
    }
    if (!ok) {
        hs_error_form(err, "login", "INVALID_LOGIN", "Login or password is invalid.");
        if (err)
            err->code = HS_EAUTH;
        return HS_EAUTH;
    }
    struct login_op op = {.user_id = uid};
    int rc = hs_writer_run(hs_core_writer(core), login_fn, &op, err);
    if (rc == 0) {
        memcpy(token, op.token, HS_TOKEN_MAX);
        *user_id = uid;
    }
    sodium_memzero(&op.token, sizeof(op.token));
    return rc;
}

/* Folds an application name into a free bot username: lower case, other characters to
 * '_', then a number appended until it is unique. */
static int bot_username(hs_db *db, const char *name, char out[HS_USERNAME_MAX + 1])
{
    char base[HS_USERNAME_MAX + 1];
    size_t n = 0;
    for (const char *p = name; *p && n < 24; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_'))
            c = '_';
        base[n++] = (char)c;
    }
    while (n < 2)
        base[n++] = '_';
    base[n] = '\0';
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT 1 FROM users WHERE username = ?");
    for (int i = 0; i < 100000; i++) {
        char cand[48];
        if (i == 0)
            snprintf(cand, sizeof(cand), "%s", base);
        else
            snprintf(cand, sizeof(cand), "%s%d", base, i);
        memcpy(out, cand, HS_USERNAME_MAX);
        out[HS_USERNAME_MAX] = '\0';
        sqlite3_reset(s);
        hs_bind_text(s, 1, out);
        int taken = sqlite3_step(s) == SQLITE_ROW;
        sqlite3_reset(s);
        if (!taken)
            return 0;
    }
    return -1;
}

int hs_app_create_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_app_create *op = arg;
    hs_db *db = hs_txn_db(txn);
    size_t len = hs_utf8_len(op->name, strlen(op->name));
    if (len < 1 || len > 32)
        return hs_error_form(err, "name", "BASE_TYPE_BAD_LENGTH",
                             "Must be between 1 and 32 in length.");
    char uname[HS_USERNAME_MAX + 1];
    if (bot_username(db, op->name, uname) < 0)
        return hs_error_form(err, "name", "USERNAME_ALREADY_TAKEN", "No free bot username.");
    uint64_t app_id = hs_txn_new_id(txn);
    uint64_t bot_id = hs_txn_new_id(txn);
    int rc = insert_user(txn, bot_id, uname, op->name, NULL, 1, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s = hs_db_stmt(db, "INSERT INTO applications (id, name, owner_id, bot_user_id, "
                                     "created_at) VALUES (?, ?, ?, ?, ?)");
    hs_bind_id(s, 1, app_id);
    hs_bind_text(s, 2, op->name);
    if (op->owner_id)
        hs_bind_id(s, 3, op->owner_id);
    hs_bind_id(s, 4, bot_id);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)hs_txn_now_ms(txn));
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return hs_db_error(db, err, "storing an application");
    op->app_id = app_id;
    op->app = hs_app_json(db, app_id);
    return hs_txn_event(txn, "APPLICATION_CREATE", 0, 0, op->owner_id, json_incref(op->app), err);
}

int hs_app_get(hs_db *db, uint64_t app_id, struct hs_app *out, hs_error *err)
{
    sqlite3_stmt *s =
        hs_db_stmt(db, "SELECT owner_id, bot_user_id, bot_public FROM applications WHERE id = ?");
    hs_bind_id(s, 1, app_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->id = app_id;
        out->owner_id = hs_col_id(s, 0);
        out->bot_user_id = hs_col_id(s, 1);
        out->bot_public = sqlite3_column_int(s, 2);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_APPLICATION, "Unknown Application");
    return 0;
}

int hs_app_of_bot(hs_db *db, uint64_t bot_user_id, struct hs_app *out, hs_error *err)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT id FROM applications WHERE bot_user_id = ?");
    hs_bind_id(s, 1, bot_user_id);
    uint64_t id = sqlite3_step(s) == SQLITE_ROW ? hs_col_id(s, 0) : 0;
    sqlite3_reset(s);
    if (!id)
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_APPLICATION, "Unknown Application");
    return hs_app_get(db, id, out, err);
}

json_t *hs_app_json(hs_db *db, uint64_t app_id)
{
    sqlite3_stmt *s = hs_db_stmt(
        db, "SELECT name, owner_id, bot_user_id, bot_public, flags FROM applications WHERE id = ?");
    hs_bind_id(s, 1, app_id);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_reset(s);
        return NULL;
    }
    char *name = hs_xstrdup(hs_col_text(s, 0));
    uint64_t owner = hs_col_id(s, 1), bot = hs_col_id(s, 2);
    int pub = sqlite3_column_int(s, 3);
    json_int_t flags = sqlite3_column_int64(s, 4);
    sqlite3_reset(s);
    json_t *owner_json = owner ? hs_user_json(db, owner, 0) : NULL;
    json_t *app = json_pack("{s:o, s:s, s:s, s:n, s:b, s:b, s:I, s:o, s:o}", "id",
                            hs_json_id(app_id), "name", name, "description", "", "icon",
                            "bot_public", pub, "bot_require_code_grant", 0, "flags", flags, "owner",
                            owner_json ? owner_json : json_null(), "bot", hs_user_json(db, bot, 0));
    free(name);
    HS_ASSERT(app);
    return app;
}

int hs_app_reset_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_app_reset *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct hs_app app;
    int rc = hs_app_get(db, op->app_id, &app, err);
    if (rc < 0)
        return rc;
    if (op->actor_id && app.owner_id != op->actor_id)
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    sqlite3_stmt *s = hs_db_stmt(db, "DELETE FROM tokens WHERE user_id = ?");
    hs_bind_id(s, 1, app.bot_user_id);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return hs_db_error(db, err, "revoking bot tokens");
    return insert_token(txn, app.bot_user_id, op->token, err);
}

uint64_t hs_app_flags(hs_db *db, uint64_t app_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT flags FROM applications WHERE id = ?");
    hs_bind_id(s, 1, app_id);
    uint64_t flags = sqlite3_step(s) == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return flags;
}

int hs_app_edit_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_app_edit *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct hs_app app;
    int rc = hs_app_get(db, op->app_id, &app, err);
    if (rc < 0)
        return rc;
    if (app.owner_id != op->actor_id)
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    if (op->flags & ~(uint64_t)HS_APP_FLAGS_EDITABLE)
        return hs_error_form(err, "flags", "APPLICATION_FLAGS_INVALID",
                             "Only the gateway intent flags may be changed.");
    sqlite3_stmt *s = hs_db_stmt(db, "UPDATE applications SET flags = ? WHERE id = ?");
    sqlite3_bind_int64(s, 1, (sqlite3_int64)op->flags);
    hs_bind_id(s, 2, op->app_id);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return hs_db_error(db, err, "updating an application");
    op->app = hs_app_json(db, op->app_id);
    return hs_txn_event(txn, "APPLICATION_UPDATE", 0, 0, op->actor_id, json_incref(op->app), err);
}
