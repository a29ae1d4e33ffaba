/*
 * hearth-automod-bench: what AutoMod costs per message, in process (bench/automod.sh).
 *
 * It opens a core on a fresh data directory, makes a guild with a member who is not exempt
 * (no MANAGE_GUILD), turns the spam heuristics off (the rules alone are measured), and gives
 * the guild --rules KEYWORD rules of --keywords keywords each: random words of 6 to 12
 * letters in Discord's four forms (word, word*, *word, *word*), which the benchmark text
 * (words of at most five letters) never matches, so every message is scanned to its end
 * and allowed. Then, inside one write transaction (no commit, no fsync, no HTTP):
 *
 *   check   hs_automod_check_message on the text, --iterations times: the guild's version
 *           lookup, the cached compilation, the normalisation and the scan;
 *   create  hs_msg_create_fn, --iterations times: a whole message write (permission checks,
 *           AutoMod, the row, the search index, the MESSAGE_CREATE event), rolled back at
 *           the end so every round starts from the same database.
 *
 * The first check compiles the rules (reported as compile_ms). A benchmark, not a test: it
 * prints one "result:" line of key=value pairs and exits 0, or 1 on a setup failure.
 */
#include "hs_accounts.h"
#include "hs_automod.h"
#include "hs_channels.h"
#include "hs_core.h"
#include "hs_guilds.h"
#include "hs_messages.h"
#include "hs_util.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char default_text[] =
    "hey all, just got back from the lake and the fish were huge this time. who is up for a "
    "game later? bring snack and the new map pack, we can play til dark";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A KEYWORD rule body with n random keywords. */
static json_t *rule_body(int index, int n, uint64_t *rng)
{
    json_t *kws = json_array();
    for (int i = 0; i < n; i++) {
        char w[16];
        int len = 6 + (int)(rng_next(rng) % 7), o = 0;
        if (i % 4 >= 2)
            w[o++] = '*';
        for (int j = 0; j < len; j++)
            w[o++] = (char)('a' + rng_next(rng) % 26);
        if (i % 4 == 1 || i % 4 == 3)
            w[o++] = '*';
        w[o] = '\0';
        json_array_append_new(kws, json_string(w));
    }
    char name[32];
    snprintf(name, sizeof(name), "bench %d", index);
    return json_pack("{s:s, s:i, s:i, s:{s:o}, s:[{s:i}], s:b}", "name", name, "event_type", 1,
                     "trigger_type", 1, "trigger_metadata", "keyword_filter", kws, "actions",
                     "type", 1, "enabled", 1);
}

struct sql_op {
    const char *sql;
    uint64_t a, b;
};

static int sql_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct sql_op *op = arg;
    sqlite3_stmt *s = hs_db_stmt(hs_txn_db(txn), op->sql);
    hs_bind_id(s, 1, op->a);
    hs_bind_id(s, 2, op->b);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : hs_error_set(err, HS_EIO, "%s", op->sql);
}

struct timing_op {
    uint64_t channel_id, member_id;
    const char *text;
    long iterations;
    double compile_s, check_s, create_s;
    long refused;
};

/* Measures inside one transaction, then fails on purpose so that it all rolls back. */
static int timing_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct timing_op *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct hs_channel ch;
    int rc = hs_channel_get(db, op->channel_id, &ch, err);
    if (rc < 0)
        return rc;
    struct hs_automod_msg m = {&ch, op->member_id, 0, 1, op->text, 0};
    double t0 = now_s();
    if (hs_automod_check_message(txn, &m, err) < 0)
        op->refused++;
    double t1 = now_s();
    for (long i = 0; i < op->iterations; i++)
        if (hs_automod_check_message(txn, &m, err) < 0)
            op->refused++;
    double t2 = now_s();
    for (long i = 0; i < op->iterations; i++) {
        struct hs_msg_create c = {.channel_id = op->channel_id,
                                  .author_id = op->member_id,
                                  .content = op->text,
                                  .max_chars = 4000};
        if (hs_msg_create_fn(txn, &c, err) < 0)
            op->refused++;
        json_decref(c.message);
    }
    double t3 = now_s();
    op->compile_s = t1 - t0;
    op->check_s = t2 - t1;
    op->create_s = t3 - t2;
    return hs_error_set(err, HS_EINVAL, "measured; rolled back");
}

static uint64_t json_id(json_t *o, const char *key)
{
    uint64_t id = 0;
    hs_parse_u64(json_string_value(json_object_get(o, key)), &id);
    return id;
}

int main(int argc, char **argv)
{
    const char *data_dir = NULL, *text = default_text;
    long rules = 0, keywords = 1000, iterations = 2000, rounds = 3;
    static const struct option longopts[] = {
        {"data-dir", required_argument, NULL, 'd'},
        {"rules", required_argument, NULL, 'r'},
        {"keywords", required_argument, NULL, 'k'},
        {"iterations", required_argument, NULL, 'i'},
        {"rounds", required_argument, NULL, 'n'},
        {"content", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            data_dir = optarg;
            break;
        case 'r':
            rules = strtol(optarg, NULL, 10);
            break;
        case 'k':
            keywords = strtol(optarg, NULL, 10);
            break;
        case 'i':
            iterations = strtol(optarg, NULL, 10);
            break;
        case 'n':
            rounds = strtol(optarg, NULL, 10);
            break;
        case 'c':
            text = optarg;
            break;
        default:
            fprintf(stderr, "usage: hearth-automod-bench --data-dir DIR [--rules N] [--keywords "
                            "K] [--iterations I] [--rounds R] [--content TEXT]\n");
            return 2;
        }
    }
    if (!data_dir || rules < 0 || rules > 1000 || keywords < 1 || keywords > 1000 ||
        iterations < 1 || rounds < 1) {
        fprintf(stderr, "hearth-automod-bench: --data-dir is required; 0 <= rules <= 1000, "
                        "1 <= keywords <= 1000\n");
        return 2;
    }
    hs_config cfg;
    hs_config_init(&cfg);
    hs_error err;
    hs_core *core = NULL;
    char tok[HS_TOKEN_MAX];
    uint64_t owner, member;
    if (hs_config_set(&cfg, "data-dir", data_dir, &err) < 0 ||
        hs_config_set(&cfg, "argon2-ops", "1", &err) < 0 ||
        hs_config_set(&cfg, "argon2-mem-kib", "8", &err) < 0 ||
        hs_core_open(&core, &cfg, &err) < 0 ||
        hs_account_register(core, "owner", "a long password", NULL, tok, &owner, &err) < 0 ||
        hs_account_register(core, "member", "a long password", NULL, tok, &member, &err) < 0) {
        fprintf(stderr, "hearth-automod-bench: %s\n", err.msg);
        return 1;
    }
    hs_writer *w = hs_core_writer(core);
    struct hs_guild_create g = {.owner_id = owner, .name = "AutoMod bench"};
    if (hs_writer_run(w, hs_guild_create_fn, &g, &err) < 0) {
        fprintf(stderr, "hearth-automod-bench: %s\n", err.msg);
        return 1;
    }
    uint64_t guild = json_id(g.guild, "id"), channel = json_id(g.guild, "system_channel_id");
    json_decref(g.guild);
    /* A member of long standing (not new to the heuristics, which are off anyway). */
    struct sql_op join = {"INSERT INTO members (guild_id, user_id, joined_at) VALUES (?, ?, 1)",
                          guild, member};
    json_t *off = json_pack("{s:b}", "enabled", 0);
    struct hs_automod_spam_edit spam = {.guild_id = guild, .actor_id = owner, .body = off};
    if (hs_writer_run(w, sql_fn, &join, &err) < 0 ||
        hs_writer_run(w, hs_automod_spam_edit_fn, &spam, &err) < 0) {
        fprintf(stderr, "hearth-automod-bench: %s\n", err.msg);
        return 1;
    }
    json_decref(off);
    json_decref(spam.settings);
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    double t0 = now_s();
    for (long i = 0; i < rules; i++) {
        json_t *body = rule_body((int)i, (int)keywords, &rng);
        struct hs_automod_rule_write op = {
            .guild_id = guild, .actor_id = owner, .body = body, .max_keyword_rules = (int)rules};
        int rc = hs_writer_run(w, hs_automod_rule_create_fn, &op, &err);
        json_decref(body);
        json_decref(op.rule);
        if (rc < 0) {
            fprintf(stderr, "hearth-automod-bench: rule %ld: %s\n", i, err.msg);
            return 1;
        }
    }
    double store_s = now_s() - t0;
    double best_check = 1e9, best_create = 1e9, compile = 0;
    long refused = 0;
    for (long r = 0; r < rounds; r++) {
        struct timing_op op = {channel, member, text, iterations, 0, 0, 0, 0};
        hs_writer_run(w, timing_fn, &op, &err);
        if (r == 0)
            compile = op.compile_s;
        refused += op.refused;
        if (op.check_s < best_check)
            best_check = op.check_s;
        if (op.create_s < best_create)
            best_create = op.create_s;
    }
    printf("result: rules=%ld keywords=%ld text_bytes=%zu iterations=%ld rounds=%ld "
           "store_rules_s=%.3f compile_ms=%.2f check_us=%.3f create_us=%.3f refused=%ld\n",
           rules, keywords, strlen(text), iterations, rounds, store_s, compile * 1e3,
           best_check / (double)iterations * 1e6, best_create / (double)iterations * 1e6, refused);
    hs_core_close(core);
    hs_config_release(&cfg);
    return refused ? 1 : 0;
}
