/*
 * Unit tests for hs_accounts.h: username and password rules, argon2id hashing, the token
 * format, and, through a real core on a temporary data directory, registration, login,
 * token checks (spec/client-api.md §2) and bot tokens.
 *
 * argon2id runs at its cheapest (1 pass, 8 KiB) so the suite stays fast.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <inttypes.h>
#include <sodium.h>

#include "hs_accounts.h"
#include "hs_core.h"
#include "hs_util.h"

#include "testkit.h"

/* An id that names nothing in these tests (real ids are snowflakes of today). */
#define UNKNOWN_ID ((uint64_t)424242)

/* ---- fixtures ---- */

struct fx {
    char dir[TK_DIR_MAX];
    hs_config cfg;
    hs_core *core;
};

static void cheap_config(hs_config *cfg)
{
    hs_config_init(cfg);
    hs_error err;
    if (hs_config_set(cfg, "argon2-ops", "1", &err) < 0 ||
        hs_config_set(cfg, "argon2-mem-kib", "8", &err) < 0)
        fail_msg("%s", err.msg);
}

/* A config only (for the hashing tests). */
static int setup_cfg(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    cheap_config(&fx->cfg);
    *state = fx;
    return 0;
}

static int teardown_cfg(void **state)
{
    struct fx *fx = *state;
    hs_config_release(&fx->cfg);
    free(fx);
    return 0;
}

/* A running core on a fresh data directory. */
static int setup_core(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    fx->core = tk_core_open(fx->dir, &fx->cfg, "accounts");
    *state = fx;
    return 0;
}

static int teardown_core(void **state)
{
    struct fx *fx = *state;
    tk_core_close(fx->core, &fx->cfg, fx->dir);
    free(fx);
    return 0;
}

static void assert_form(const hs_error *err, int code, const char *field, const char *form_code)
{
    assert_int_equal(err->code, code);
    assert_int_equal(err->reason, HS_R_FORM);
    assert_string_equal(err->field, field);
    assert_string_equal(err->form_code, form_code);
}

static long long count_rows(struct fx *fx, const char *sql)
{
    sqlite3_stmt *s = NULL;
    sqlite3 *db = hs_db_handle(tk_rdb(fx->core));
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    long long n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

static uint64_t must_register(struct fx *fx, const char *name, const char *pw,
                              char token[HS_TOKEN_MAX])
{
    uint64_t uid = 0;
    hs_error err;
    hs_error_clear(&err);
    if (hs_account_register(fx->core, name, pw, NULL, token, &uid, &err) != 0)
        fail_msg("register %s: %s", name, err.msg);
    assert_true(uid != 0);
    return uid;
}

static int auth(struct fx *fx, const char *token, int bot_prefix, struct hs_user *u)
{
    hs_error err;
    struct hs_user tmp;
    hs_error_clear(&err);
    int rc = hs_auth_token(tk_rdb(fx->core), token, bot_prefix, u ? u : &tmp, &err);
    if (rc < 0)
        assert_int_equal(err.code, rc);
    return rc;
}

/* ---- usernames and passwords ---- */

static void assert_username_ok(const char *in, const char *folded)
{
    char out[HS_USERNAME_MAX + 1];
    hs_error err;
    hs_error_clear(&err);
    if (hs_username_check(in, out, &err) != 0)
        fail_msg("username '%s' rejected: %s", in, err.msg);
    assert_string_equal(out, folded);
}

static void assert_username_bad(const char *in, const char *form_code)
{
    char out[HS_USERNAME_MAX + 1];
    hs_error err;
    hs_error_clear(&err);
    if (hs_username_check(in, out, &err) != HS_EINVAL)
        fail_msg("username '%s' accepted", in);
    assert_form(&err, HS_EINVAL, "username", form_code);
}

static void test_username_check(void **state)
{
    (void)state;
    assert_username_ok("alice", "alice");
    assert_username_ok("Alice", "alice");
    assert_username_ok("ALICE_BOB.99", "alice_bob.99");
    assert_username_ok("a_.z09", "a_.z09");
    assert_username_ok("..", "..");
    assert_username_ok("__", "__");
    /* Lengths: 2 and 32 are in, 1 and 33 are out. */
    assert_username_ok("ab", "ab");
    assert_username_ok("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", "abcdefghijklmnopqrstuvwxyz012345");
    assert_username_bad("", "BASE_TYPE_BAD_LENGTH");
    assert_username_bad("a", "BASE_TYPE_BAD_LENGTH");
    assert_username_bad("abcdefghijklmnopqrstuvwxyz0123456", "BASE_TYPE_BAD_LENGTH");
    /* Characters outside a-z 0-9 _ . (after folding). */
    assert_username_bad("al ice", "USERNAME_INVALID_CHARACTERS");
    assert_username_bad("al-ice", "USERNAME_INVALID_CHARACTERS");
    assert_username_bad("alice!", "USERNAME_INVALID_CHARACTERS");
    assert_username_bad("@alice", "USERNAME_INVALID_CHARACTERS");
    assert_username_bad("ali#ce", "USERNAME_INVALID_CHARACTERS");
    assert_username_bad("ali\tce", "USERNAME_INVALID_CHARACTERS");
    assert_username_bad("\xc3\xa9lise", "USERNAME_INVALID_CHARACTERS"); /* élise */
    assert_username_bad("\xc3\x89LISE", "USERNAME_INVALID_CHARACTERS"); /* ÉLISE */
    assert_username_bad("al'ice", "USERNAME_INVALID_CHARACTERS");
    /* NULL err is allowed. */
    char out[HS_USERNAME_MAX + 1];
    assert_int_equal(hs_username_check("a", out, NULL), HS_EINVAL);
}

static int password_ok(const char *pw)
{
    hs_error err;
    hs_error_clear(&err);
    int rc = hs_password_check(pw, &err);
    if (rc < 0)
        assert_form(&err, HS_EINVAL, "password", "BASE_TYPE_BAD_LENGTH");
    return rc == 0;
}

/* n copies of s. */
static char *repeat(const char *s, int n)
{
    size_t k = strlen(s);
    char *out = malloc(k * (size_t)n + 1);
    assert_non_null(out);
    for (int i = 0; i < n; i++)
        memcpy(out + k * (size_t)i, s, k);
    out[k * (size_t)n] = '\0';
    return out;
}

static void test_password_check(void **state)
{
    (void)state;
    const char *units[] = {"x", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x94\x91"}; /* x é 日 🔑 */
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        /* Code points count, not bytes: 7 and 129 are out, 8 and 128 are in. */
        const int lens[] = {0, 1, 7, 8, 9, 127, 128, 129, 300};
        const int good[] = {0, 0, 0, 1, 1, 1, 1, 0, 0};
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            char *pw = repeat(units[u], lens[i]);
            if (password_ok(pw) != good[i])
                fail_msg("password of %d x '%s' (%zu bytes): expected %s", lens[i], units[u],
                         strlen(pw), good[i] ? "ok" : "rejected");
            free(pw);
        }
    }
    assert_true(password_ok("a long password"));
    assert_int_equal(hs_password_check("short", NULL), HS_EINVAL);
}

static void test_password_hash_verify(void **state)
{
    struct fx *fx = *state;
    char h1[128], h2[128];
    hs_error err;
    assert_int_equal(hs_password_hash(&fx->cfg, "correct horse", h1, &err), 0);
    assert_int_equal(strncmp(h1, "$argon2id$", 10), 0);
    assert_true(strlen(h1) < sizeof(h1));
    /* The configured cost is the one used. */
    assert_non_null(strstr(h1, "m=8,t=1,"));
    assert_int_equal(hs_password_verify(h1, "correct horse"), 1);
    assert_int_equal(hs_password_verify(h1, "correct horsE"), 0);
    assert_int_equal(hs_password_verify(h1, "correct horse "), 0);
    assert_int_equal(hs_password_verify(h1, ""), 0);
    /* A fresh salt each time: a different hash that still verifies. */
    assert_int_equal(hs_password_hash(&fx->cfg, "correct horse", h2, &err), 0);
    assert_string_not_equal(h1, h2);
    assert_int_equal(hs_password_verify(h2, "correct horse"), 1);
    /* Multi-byte passwords. */
    const char *mb = "p\xc3\xa4ssw\xc3\xb6rd \xf0\x9f\x94\x91";
    assert_int_equal(hs_password_hash(&fx->cfg, mb, h1, &err), 0);
    assert_int_equal(hs_password_verify(h1, mb), 1);
    assert_int_equal(hs_password_verify(h1, "p\xc3\xa4ssw\xc3\xb6rd"), 0);
    /* Something that is not a hash never verifies. */
    assert_int_equal(hs_password_verify("", "x"), 0);
    assert_int_equal(hs_password_verify("$argon2id$garbage", "x"), 0);
    assert_int_equal(hs_password_verify("plaintext", "plaintext"), 0);
}

/* ---- tokens ---- */

static int is_b64url(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

static void test_token_round_trip(void **state)
{
    (void)state;
    const uint64_t ids[] = {0, 1, 42, 175928847299117063ULL, (uint64_t)INT64_MAX, UINT64_MAX};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        char tok[HS_TOKEN_MAX], tok2[HS_TOKEN_MAX];
        unsigned char hash[32], want[32], hash2[32];
        memset(tok, 'Q', sizeof(tok));
        hs_token_new(ids[i], tok, hash);
        assert_true(strlen(tok) < HS_TOKEN_MAX);
        /* base64url(decimal id) "." base64url(24 random bytes), no padding. */
        const char *dot = strchr(tok, '.');
        assert_non_null(dot);
        assert_null(strchr(dot + 1, '.'));
        assert_true(is_b64url(tok, (size_t)(dot - tok)));
        assert_int_equal(strlen(dot + 1), 32);
        assert_true(is_b64url(dot + 1, 32));
        char idtext[24];
        snprintf(idtext, sizeof(idtext), "%" PRIu64, ids[i]);
        unsigned char bin[32];
        size_t binlen = 0;
        assert_int_equal(sodium_base642bin(bin, sizeof(bin), tok, (size_t)(dot - tok), NULL,
                                           &binlen, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                         0);
        assert_int_equal(binlen, strlen(idtext));
        assert_memory_equal(bin, idtext, binlen);
        /* The hash is SHA-256 of the token text. */
        crypto_hash_sha256(want, (const unsigned char *)tok, strlen(tok));
        assert_memory_equal(hash, want, 32);

        uint64_t back = 12345;
        assert_int_equal(hs_token_user_id(tok, &back), 0);
        assert_int_equal(back, ids[i]);

        /* Two tokens for one user differ. */
        hs_token_new(ids[i], tok2, hash2);
        assert_string_not_equal(tok, tok2);
        assert_memory_not_equal(hash, hash2, 32);
    }
}

static void test_token_user_id_garbage(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        ".",
        "nodot",
        "MTIz",                            /* base64url("123") without the dot */
        ".abcdef",                         /* empty id part */
        "MTIz=.abc",                       /* padding is not base64url-without-padding */
        "MT!z.abc",                        /* not base64 */
        "MT Iz.abc",                       /* a space */
        "YWJj.abc",                        /* base64url("abc"): not a number */
        "LTE.abc",                         /* base64url("-1") */
        "KzE.abc",                         /* base64url("+1") */
        "IDE.abc",                         /* base64url(" 1") */
        "MTg0NDY3NDQwNzM3MDk1NTE2MTY.abc", /* base64url("18446744073709551616"): overflow */
        "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkw.abc", /* a 30-digit id */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t id = 0;
        if (hs_token_user_id(bad[i], &id) != -1)
            fail_msg("token '%s' was read as user %" PRIu64, bad[i], id);
    }
    uint64_t id = 0;
    /* Only the part before the first dot is the id; what follows is not checked here. */
    assert_int_equal(hs_token_user_id("MTIz.", &id), 0);
    assert_int_equal(id, 123);
    assert_int_equal(hs_token_user_id("MTIz.x.y", &id), 0);
    assert_int_equal(id, 123);
}

/* ---- through a core: register, tokens, login ---- */

static void test_register_and_auth(void **state)
{
    struct fx *fx = *state;
    char tok[HS_TOKEN_MAX];
    uint64_t uid = 0;
    hs_error err;
    hs_error_clear(&err);
    int rc =
        hs_account_register(fx->core, "Alice.B", "a long password", "Alice B", tok, &uid, &err);
    if (rc != 0)
        fail_msg("%s", err.msg);
    uint64_t tid;
    assert_int_equal(hs_token_user_id(tok, &tid), 0);
    assert_int_equal(tid, uid);
    /* The id is a snowflake of this process. */
    assert_int_equal(hs_snowflake_worker(uid), (unsigned)fx->cfg.worker_id);

    struct hs_user u;
    memset(&u, 0, sizeof(u));
    assert_int_equal(auth(fx, tok, 0, &u), 0);
    assert_int_equal(u.id, uid);
    assert_int_equal(u.bot, 0);
    assert_string_equal(u.username, "alice.b"); /* stored folded */

    json_t *j = hs_user_json(tk_rdb(fx->core), uid, 1);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "username")), "alice.b");
    assert_string_equal(json_string_value(json_object_get(j, "global_name")), "Alice B");
    assert_true(json_is_false(json_object_get(j, "bot")));
    json_decref(j);

    /* Only the hash of the token is stored. */
    assert_int_equal(count_rows(fx, "SELECT count(*) FROM tokens"), 1);
    unsigned char hash[32];
    crypto_hash_sha256(hash, (const unsigned char *)tok, strlen(tok));
    sqlite3_stmt *s = hs_db_stmt(tk_rdb(fx->core), "SELECT hash FROM tokens WHERE user_id = ?");
    hs_bind_id(s, 1, uid);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_bytes(s, 0), 32);
    assert_memory_equal(sqlite3_column_blob(s, 0), hash, 32);
    sqlite3_reset(s);
    /* The password is stored as an argon2id hash, not as text. */
    s = hs_db_stmt(tk_rdb(fx->core), "SELECT password_hash FROM users WHERE id = ?");
    hs_bind_id(s, 1, uid);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(strncmp(hs_col_text(s, 0), "$argon2id$", 10), 0);
    assert_null(strstr(hs_col_text(s, 0), "a long password"));
    sqlite3_reset(s);
}

static void test_auth_rejects(void **state)
{
    struct fx *fx = *state;
    char tok[HS_TOKEN_MAX], other[HS_TOKEN_MAX];
    uint64_t uid = must_register(fx, "alice", "a long password", tok);
    uint64_t uid2 = must_register(fx, "bob", "another password", other);
    assert_int_equal(auth(fx, tok, 0, NULL), 0);
    assert_int_equal(auth(fx, other, 0, NULL), 0);

    /* The last character changed. */
    char bad[HS_TOKEN_MAX];
    snprintf(bad, sizeof(bad), "%s", tok);
    size_t n = strlen(bad);
    bad[n - 1] = bad[n - 1] == 'A' ? 'B' : 'A';
    assert_int_equal(auth(fx, bad, 0, NULL), HS_EAUTH);
    /* Truncated, extended. */
    snprintf(bad, sizeof(bad), "%s", tok);
    bad[n - 1] = '\0';
    assert_int_equal(auth(fx, bad, 0, NULL), HS_EAUTH);
    snprintf(bad, sizeof(bad), "%s", tok);
    bad[n] = 'A';
    bad[n + 1] = '\0';
    assert_int_equal(auth(fx, bad, 0, NULL), HS_EAUTH);
    /* A user token presented with the "Bot " prefix. */
    assert_int_equal(auth(fx, tok, 1, NULL), HS_EAUTH);
    /* Bob's secret under Alice's id. */
    const char *dot_a = strchr(tok, '.'), *dot_b = strchr(other, '.');
    snprintf(bad, sizeof(bad), "%.*s%s", (int)(dot_a - tok), tok, dot_b);
    assert_int_equal(auth(fx, bad, 0, NULL), HS_EAUTH);
    /* A well-formed token nobody was given, for an existing and a missing user. */
    unsigned char h[32];
    hs_token_new(uid, bad, h);
    assert_int_equal(auth(fx, bad, 0, NULL), HS_EAUTH);
    hs_token_new(uid + uid2, bad, h);
    assert_int_equal(auth(fx, bad, 0, NULL), HS_EAUTH);
    /* Malformed ones. */
    assert_int_equal(auth(fx, "", 0, NULL), HS_EAUTH);
    assert_int_equal(auth(fx, "garbage", 0, NULL), HS_EAUTH);
    assert_int_equal(auth(fx, ".", 0, NULL), HS_EAUTH);
    char *longtok = repeat("A", 200);
    longtok[20] = '.';
    assert_int_equal(auth(fx, longtok, 0, NULL), HS_EAUTH);
    free(longtok);
    /* The good ones still work. */
    assert_int_equal(auth(fx, tok, 0, NULL), 0);
}

static void test_register_errors(void **state)
{
    struct fx *fx = *state;
    char tok[HS_TOKEN_MAX];
    uint64_t uid = 0;
    hs_error err;
    must_register(fx, "alice", "a long password", tok);

    /* The same name in another case is taken: names are folded before the check. */
    hs_error_clear(&err);
    assert_int_equal(
        hs_account_register(fx->core, "ALICE", "a long password", NULL, tok, &uid, &err),
        HS_EINVAL);
    assert_form(&err, HS_EINVAL, "username", "USERNAME_ALREADY_TAKEN");
    hs_error_clear(&err);
    assert_int_equal(
        hs_account_register(fx->core, "alice", "different password", NULL, tok, &uid, &err),
        HS_EINVAL);
    assert_form(&err, HS_EINVAL, "username", "USERNAME_ALREADY_TAKEN");

    hs_error_clear(&err);
    assert_int_equal(hs_account_register(fx->core, "b", "a long password", NULL, tok, &uid, &err),
                     HS_EINVAL);
    assert_form(&err, HS_EINVAL, "username", "BASE_TYPE_BAD_LENGTH");
    hs_error_clear(&err);
    assert_int_equal(
        hs_account_register(fx->core, "bo b", "a long password", NULL, tok, &uid, &err), HS_EINVAL);
    assert_form(&err, HS_EINVAL, "username", "USERNAME_INVALID_CHARACTERS");
    hs_error_clear(&err);
    assert_int_equal(hs_account_register(fx->core, "bob", "short", NULL, tok, &uid, &err),
                     HS_EINVAL);
    assert_form(&err, HS_EINVAL, "password", "BASE_TYPE_BAD_LENGTH");

    /* A request that fails validation changes nothing (spec/client-api.md §3). */
    assert_int_equal(count_rows(fx, "SELECT count(*) FROM users"), 1);
    assert_int_equal(count_rows(fx, "SELECT count(*) FROM tokens"), 1);
    assert_int_equal(count_rows(fx, "SELECT count(*) FROM events WHERE type = 'USER_CREATE'"), 1);
}

static void assert_invalid_login(struct fx *fx, const char *login, const char *pw)
{
    char tok[HS_TOKEN_MAX] = "untouched";
    uint64_t uid = 777;
    hs_error err;
    hs_error_clear(&err);
    int rc = hs_account_login(fx->core, login, pw, tok, &uid, &err);
    if (rc != HS_EAUTH)
        fail_msg("login '%s' gave %d", login, rc);
    assert_form(&err, HS_EAUTH, "login", "INVALID_LOGIN");
    assert_string_equal(tok, "untouched");
    assert_int_equal(uid, 777);
}

static void test_login(void **state)
{
    struct fx *fx = *state;
    char tok0[HS_TOKEN_MAX], tok1[HS_TOKEN_MAX], tok2[HS_TOKEN_MAX];
    uint64_t uid = must_register(fx, "alice", "a long password", tok0);
    uint64_t got = 0;
    hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_account_login(fx->core, "alice", "a long password", tok1, &got, &err), 0);
    assert_int_equal(got, uid);
    /* Each login issues a new token... */
    assert_string_not_equal(tok1, tok0);
    struct hs_user u;
    assert_int_equal(auth(fx, tok1, 0, &u), 0);
    assert_int_equal(u.id, uid);
    /* ...and older tokens stay valid. */
    assert_int_equal(auth(fx, tok0, 0, NULL), 0);
    /* The login name is folded like the username. */
    got = 0;
    assert_int_equal(hs_account_login(fx->core, "ALICE", "a long password", tok2, &got, &err), 0);
    assert_int_equal(got, uid);
    assert_string_not_equal(tok2, tok1);
    assert_int_equal(auth(fx, tok0, 0, NULL), 0);
    assert_int_equal(auth(fx, tok1, 0, NULL), 0);
    assert_int_equal(auth(fx, tok2, 0, NULL), 0);
    assert_int_equal(count_rows(fx, "SELECT count(*) FROM tokens"), 3);

    /* Wrong password, unknown user, a name that cannot exist: the same answer. */
    assert_invalid_login(fx, "alice", "a wrong password");
    assert_invalid_login(fx, "alice", "");
    assert_invalid_login(fx, "alice", "a long password ");
    assert_invalid_login(fx, "nobody", "a long password");
    assert_invalid_login(fx, "no body!", "a long password");
    assert_invalid_login(fx, "", "a long password");
    assert_int_equal(count_rows(fx, "SELECT count(*) FROM tokens"), 3);
}

/* ---- bots ---- */

static uint64_t create_app(struct fx *fx, uint64_t owner, const char *name, uint64_t *bot_id)
{
    struct hs_app_create op = {.owner_id = owner, .name = name};
    hs_error err;
    hs_error_clear(&err);
    int rc = hs_writer_run(hs_core_writer(fx->core), hs_app_create_fn, &op, &err);
    if (rc != 0)
        fail_msg("app '%s': %s", name, err.msg);
    assert_non_null(op.app);
    assert_true(op.app_id != 0);
    json_t *bot = json_object_get(op.app, "bot");
    assert_true(json_is_true(json_object_get(bot, "bot")));
    assert_string_equal(json_string_value(json_object_get(op.app, "name")), name);
    uint64_t id = 0;
    assert_int_equal(hs_parse_u64(json_string_value(json_object_get(op.app, "id")), &id), 0);
    assert_int_equal(id, op.app_id);
    if (bot_id)
        assert_int_equal(hs_parse_u64(json_string_value(json_object_get(bot, "id")), bot_id), 0);
    json_decref(op.app);
    return op.app_id;
}

static int reset_app(struct fx *fx, uint64_t app_id, uint64_t actor, char token[HS_TOKEN_MAX],
                     hs_error *err)
{
    struct hs_app_reset op = {.app_id = app_id, .actor_id = actor};
    hs_error_clear(err);
    int rc = hs_writer_run(hs_core_writer(fx->core), hs_app_reset_fn, &op, err);
    if (rc == 0)
        memcpy(token, op.token, HS_TOKEN_MAX);
    return rc;
}

static void test_bot_tokens(void **state)
{
    struct fx *fx = *state;
    char utok[HS_TOKEN_MAX], b1[HS_TOKEN_MAX], b2[HS_TOKEN_MAX];
    uint64_t owner = must_register(fx, "owner", "a long password", utok);
    uint64_t bot_id = 0;
    uint64_t app = create_app(fx, owner, "My Bot", &bot_id);
    assert_true(bot_id != 0 && bot_id != owner && bot_id != app);

    struct hs_app a;
    hs_error err;
    assert_int_equal(hs_app_get(tk_rdb(fx->core), app, &a, &err), 0);
    assert_int_equal(a.owner_id, owner);
    assert_int_equal(a.bot_user_id, bot_id);
    assert_int_equal(a.bot_public, 1);
    memset(&a, 0, sizeof(a));
    assert_int_equal(hs_app_of_bot(tk_rdb(fx->core), bot_id, &a, &err), 0);
    assert_int_equal(a.id, app);

    assert_int_equal(reset_app(fx, app, owner, b1, &err), 0);
    uint64_t tid = 0;
    assert_int_equal(hs_token_user_id(b1, &tid), 0);
    assert_int_equal(tid, bot_id);
    /* A bot token works only with the "Bot " prefix. */
    struct hs_user u;
    memset(&u, 0, sizeof(u));
    assert_int_equal(auth(fx, b1, 1, &u), 0);
    assert_int_equal(u.id, bot_id);
    assert_int_equal(u.bot, 1);
    assert_int_equal(auth(fx, b1, 0, NULL), HS_EAUTH);
    /* The owner's own token is unaffected. */
    assert_int_equal(auth(fx, utok, 0, NULL), 0);

    /* A second reset: the first token stops working, the new one works. */
    assert_int_equal(reset_app(fx, app, owner, b2, &err), 0);
    assert_string_not_equal(b1, b2);
    assert_int_equal(auth(fx, b1, 1, NULL), HS_EAUTH);
    assert_int_equal(auth(fx, b2, 1, NULL), 0);
    /* actor 0 (hearthctl) may reset any application. */
    assert_int_equal(reset_app(fx, app, 0, b1, &err), 0);
    assert_int_equal(auth(fx, b2, 1, NULL), HS_EAUTH);
    assert_int_equal(auth(fx, b1, 1, NULL), 0);
    assert_int_equal(auth(fx, utok, 0, NULL), 0);

    /* bot_prefix -1 (the gateway's IDENTIFY, a bare token) accepts either kind. */
    memset(&u, 0, sizeof(u));
    assert_int_equal(auth(fx, b1, -1, &u), 0);
    assert_int_equal(u.id, bot_id);
    assert_int_equal(u.bot, 1);
    memset(&u, 0, sizeof(u));
    assert_int_equal(auth(fx, utok, -1, &u), 0);
    assert_int_equal(u.id, owner);
    assert_int_equal(u.bot, 0);
    /* ...but still no revoked or malformed one. */
    assert_int_equal(auth(fx, b2, -1, NULL), HS_EAUTH);
    assert_int_equal(auth(fx, "garbage", -1, NULL), HS_EAUTH);
    hs_account_login(fx->core, "owner", "a long password", b2, &tid, &err);
    memset(&u, 0, sizeof(u));
    assert_int_equal(auth(fx, b2, -1, &u), 0);
    assert_int_equal(u.id, owner);

    /* A bot has no password: it cannot log in by name. */
    memset(&u, 0, sizeof(u));
    assert_int_equal(auth(fx, b1, 1, &u), 0);
    assert_invalid_login(fx, u.username, "a long password");
}

static void test_bot_reset_errors(void **state)
{
    struct fx *fx = *state;
    char tok[HS_TOKEN_MAX], other_tok[HS_TOKEN_MAX], b[HS_TOKEN_MAX];
    uint64_t owner = must_register(fx, "owner", "a long password", tok);
    uint64_t other = must_register(fx, "other", "a long password", other_tok);
    uint64_t app = create_app(fx, owner, "bot", NULL);
    hs_error err;
    assert_int_equal(reset_app(fx, app, owner, b, &err), 0);

    /* Somebody else's application. */
    char b2[HS_TOKEN_MAX];
    assert_int_equal(reset_app(fx, app, other, b2, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_PERMISSIONS);
    assert_int_equal(auth(fx, b, 1, NULL), 0); /* nothing was revoked */
    /* An unknown one. */
    assert_int_equal(reset_app(fx, UNKNOWN_ID, owner, b2, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_APPLICATION);
    struct hs_app a;
    assert_int_equal(hs_app_get(tk_rdb(fx->core), UNKNOWN_ID, &a, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_APPLICATION);
    assert_int_equal(hs_app_of_bot(tk_rdb(fx->core), owner, &a, &err), HS_ENOTFOUND);
    assert_null(hs_app_json(tk_rdb(fx->core), UNKNOWN_ID));
}

static void test_app_create_names(void **state)
{
    struct fx *fx = *state;
    char tok[HS_TOKEN_MAX], b[HS_TOKEN_MAX];
    uint64_t owner = must_register(fx, "my_bot", "a long password", tok);
    hs_error err;

    /* The bot's username is the name folded, made unique. */
    uint64_t bot1 = 0, bot2 = 0, bot3 = 0;
    uint64_t app1 = create_app(fx, owner, "My Bot", &bot1);
    uint64_t app2 = create_app(fx, owner, "My Bot", &bot2);
    uint64_t app3 = create_app(fx, 0, "\xc3\xa9", &bot3); /* "é", no owner (hearthctl) */
    const uint64_t apps[] = {app1, app2, app3};
    char names[3][HS_USERNAME_MAX + 1];
    for (int i = 0; i < 3; i++) {
        struct hs_user u;
        assert_int_equal(reset_app(fx, apps[i], 0, b, &err), 0);
        assert_int_equal(auth(fx, b, 1, &u), 0);
        char folded[HS_USERNAME_MAX + 1];
        if (hs_username_check(u.username, folded, &err) != 0)
            fail_msg("bot username '%s' is not a valid username", u.username);
        assert_string_equal(folded, u.username);
        snprintf(names[i], sizeof(names[i]), "%s", u.username);
    }
    assert_string_not_equal(names[0], "my_bot"); /* taken by the owner */
    assert_string_not_equal(names[0], names[1]);
    assert_string_not_equal(names[2], names[0]);
    json_t *j = hs_app_json(tk_rdb(fx->core), app3);
    assert_non_null(j);
    assert_true(json_is_null(json_object_get(j, "owner")));
    json_decref(j);

    /* Name length: 1..32 code points. */
    struct hs_app_create op = {.owner_id = owner, .name = ""};
    hs_error_clear(&err);
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_app_create_fn, &op, &err),
                     HS_EINVAL);
    assert_form(&err, HS_EINVAL, "name", "BASE_TYPE_BAD_LENGTH");
    char *n33 = repeat("\xc3\xa9", 33);
    op = (struct hs_app_create){.owner_id = owner, .name = n33};
    hs_error_clear(&err);
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_app_create_fn, &op, &err),
                     HS_EINVAL);
    assert_form(&err, HS_EINVAL, "name", "BASE_TYPE_BAD_LENGTH");
    free(n33);
    char *n32 = repeat("\xc3\xa9", 32);
    create_app(fx, owner, n32, NULL);
    free(n32);
    assert_int_equal(count_rows(fx, "SELECT count(*) FROM applications"), 4);
}

static int edit_flags(struct fx *fx, uint64_t app, uint64_t actor, uint64_t flags, hs_error *err)
{
    struct hs_app_edit op = {.app_id = app, .actor_id = actor, .flags = flags};
    hs_error_clear(err);
    int rc = hs_writer_run(hs_core_writer(fx->core), hs_app_edit_fn, &op, err);
    if (rc == 0)
        assert_int_equal(json_integer_value(json_object_get(op.app, "flags")), flags);
    json_decref(op.app);
    return rc;
}

static void test_app_flags(void **state)
{
    struct fx *fx = *state;
    char tok[HS_TOKEN_MAX];
    uint64_t owner = must_register(fx, "owner", "a long password", tok);
    uint64_t other = must_register(fx, "other", "a long password", tok);
    uint64_t app = create_app(fx, owner, "Flagged", NULL);
    hs_error err;

    /* New applications may use the three privileged intents (spec: 282624). */
    const uint64_t def = HS_APP_FLAG_GATEWAY_PRESENCE | HS_APP_FLAG_GATEWAY_GUILD_MEMBERS |
                         HS_APP_FLAG_GATEWAY_MESSAGE_CONTENT;
    assert_int_equal(def, 282624);
    assert_int_equal(hs_app_flags(tk_rdb(fx->core), app), def);
    json_t *j = hs_app_json(tk_rdb(fx->core), app);
    assert_int_equal(json_integer_value(json_object_get(j, "flags")), 282624);
    json_decref(j);

    /* The owner may set any combination of the intent flags. */
    const uint64_t f = HS_APP_FLAG_GATEWAY_PRESENCE_LIMITED | HS_APP_FLAG_GATEWAY_MESSAGE_CONTENT;
    assert_int_equal(edit_flags(fx, app, owner, f, &err), 0);
    assert_int_equal(hs_app_flags(tk_rdb(fx->core), app), f);
    assert_int_equal(edit_flags(fx, app, owner, HS_APP_FLAGS_EDITABLE, &err), 0);
    assert_int_equal(edit_flags(fx, app, owner, 0, &err), 0);
    assert_int_equal(hs_app_flags(tk_rdb(fx->core), app), 0);

    /* Other bits, other users, unknown applications: refused, nothing changes. */
    const uint64_t bad[] = {1, (uint64_t)1 << 16, (uint64_t)1 << 23, (uint64_t)1 << 40,
                            HS_APP_FLAGS_EDITABLE | 1};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(edit_flags(fx, app, owner, bad[i], &err), HS_EINVAL);
        assert_form(&err, HS_EINVAL, "flags", "APPLICATION_FLAGS_INVALID");
    }
    assert_int_equal(edit_flags(fx, app, other, def, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_PERMISSIONS);
    assert_int_equal(edit_flags(fx, UNKNOWN_ID, owner, def, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_APPLICATION);
    assert_int_equal(hs_app_flags(tk_rdb(fx->core), app), 0);
    assert_int_equal(hs_app_flags(tk_rdb(fx->core), UNKNOWN_ID), 0);
    assert_int_equal(count_rows(fx, "SELECT count(*) FROM events WHERE type = "
                                    "'APPLICATION_UPDATE'"),
                     3);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
#define TC(f) cmocka_unit_test_setup_teardown(f, setup_cfg, teardown_cfg)
#define TK(f) cmocka_unit_test_setup_teardown(f, setup_core, teardown_core)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_username_check),
        cmocka_unit_test(test_password_check),
        TC(test_password_hash_verify),
        cmocka_unit_test(test_token_round_trip),
        cmocka_unit_test(test_token_user_id_garbage),
        TK(test_register_and_auth),
        TK(test_auth_rejects),
        TK(test_register_errors),
        TK(test_login),
        TK(test_bot_tokens),
        TK(test_bot_reset_errors),
        TK(test_app_create_names),
        TK(test_app_flags),
    };
#undef TC
#undef TK
    return cmocka_run_group_tests(tests, NULL, NULL);
}
