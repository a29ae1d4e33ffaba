/*
 * hearthctl: operate on a homeserver's data directory from the shell.
 *
 *   hearthctl --data-dir DIR bot create NAME [--owner USERNAME]   prints the bot's token
 *   hearthctl --data-dir DIR bot reset APP_ID                     prints a new token
 *   hearthctl --data-dir DIR seed messages --channel ID --author ID --count N
 *             [--vocab zipf [--seed S]] [--batch N]
 *   hearthctl --data-dir DIR search reindex                       rebuilds the search index
 *
 * It opens the database through the core, as hearthd does, and may run beside a running
 * hearthd (SQLite serialises the two writers). Its ids use snowflake process id 31 so they
 * never collide with the server's (which defaults to 0).
 */
#include "hs_accounts.h"
#include "hs_core.h"
#include "hs_messages.h"
#include "hs_search.h"
#include "hs_time.h"
#include "hs_util.h"

#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr,
            "usage: hearthctl --data-dir DIR bot create NAME [--owner USERNAME]\n"
            "       hearthctl --data-dir DIR bot reset APP_ID\n"
            "       hearthctl --data-dir DIR seed messages --channel ID --author ID --count N\n"
            "                 [--vocab zipf [--seed S]] [--batch N]\n"
            "       hearthctl --data-dir DIR search reindex\n");
    return 2;
}

static const char *opt(int argc, char **argv, const char *name)
{
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

static int fail(const hs_error *err)
{
    fprintf(stderr, "hearthctl: %s\n", err->msg[0] ? err->msg : hs_strerror(err->code));
    return 1;
}

static int bot_create(hs_core *core, const char *name, const char *owner_name)
{
    hs_error err;
    struct hs_app_create op = {.name = name};
    if (owner_name) {
        hs_db *db = hs_core_read_db(core, &err);
        if (!db)
            return fail(&err);
        sqlite3_stmt *s = hs_db_stmt(db, "SELECT id FROM users WHERE username = ? AND bot = 0");
        hs_bind_text(s, 1, owner_name);
        op.owner_id = sqlite3_step(s) == SQLITE_ROW ? hs_col_id(s, 0) : 0;
        sqlite3_reset(s);
        if (!op.owner_id) {
            fprintf(stderr, "hearthctl: no user named '%s'\n", owner_name);
            return 1;
        }
    }
    if (hs_writer_run(hs_core_writer(core), hs_app_create_fn, &op, &err) < 0)
        return fail(&err);
    json_decref(op.app);
    struct hs_app_reset reset = {.app_id = op.app_id};
    if (hs_writer_run(hs_core_writer(core), hs_app_reset_fn, &reset, &err) < 0)
        return fail(&err);
    fprintf(stderr, "application %" PRIu64 " created\n", op.app_id);
    printf("%s\n", reset.token);
    sodium_memzero(&reset, sizeof(reset));
    return 0;
}

static int bot_reset(hs_core *core, const char *app)
{
    hs_error err;
    struct hs_app_reset reset = {0};
    if (hs_parse_u64(app, &reset.app_id) < 0)
        return usage();
    if (hs_writer_run(hs_core_writer(core), hs_app_reset_fn, &reset, &err) < 0)
        return fail(&err);
    printf("%s\n", reset.token);
    sodium_memzero(&reset, sizeof(reset));
    return 0;
}

/*
 * --vocab zipf, for the search benchmark (bench/search.sh): messages of 6-14 words drawn
 * from a vocabulary of SEED_VOCAB made-up words with Zipf's law (the word of rank r has
 * probability ~ 1/r), so that rank 1 is in about half the messages and ranks past 30,000
 * in a few dozen per million; one message in 20 also carries a link. The word of rank r
 * (1-based) spells r - 1 in base 20 with the syllables below, least significant first:
 * bench/search.sh computes the same words.
 */
#define SEED_VOCAB 50000
static const char *const seed_syllables[20] = {"ka", "lo", "mi", "nu", "pe", "ra", "so",
                                               "ti", "vu", "ze", "ba", "do", "fi", "gu",
                                               "he", "ja", "ko", "li", "mo", "ne"};
static double seed_cdf[SEED_VOCAB];

static void seed_word(unsigned rank, char *out, size_t n)
{
    unsigned v = rank - 1;
    size_t len = 0;
    do {
        len += (size_t)snprintf(out + len, n - len, "%s", seed_syllables[v % 20]);
        v /= 20;
    } while (v && len + 3 < n);
}

static uint64_t seed_rand(uint64_t *s)
{
    /* splitmix64: deterministic per message, whatever the batch size. */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void seed_zipf_text(uint64_t n, uint64_t seed, char *out, size_t size)
{
    if (seed_cdf[SEED_VOCAB - 1] == 0) {
        double sum = 0;
        for (unsigned r = 1; r <= SEED_VOCAB; r++)
            seed_cdf[r - 1] = (sum += 1.0 / r);
        for (unsigned r = 0; r < SEED_VOCAB; r++)
            seed_cdf[r] /= sum;
    }
    uint64_t s = seed * 1000003ULL + n;
    int words = 6 + (int)(seed_rand(&s) % 9);
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < words && len + 16 < size; i++) {
        double u = (double)(seed_rand(&s) >> 11) / 9007199254740992.0;
        unsigned lo = 0, hi = SEED_VOCAB - 1;
        while (lo < hi) {
            unsigned mid = (lo + hi) / 2;
            if (seed_cdf[mid] < u)
                lo = mid + 1;
            else
                hi = mid;
        }
        char w[32];
        seed_word(lo + 1, w, sizeof(w));
        len += (size_t)snprintf(out + len, size - len, "%s%s", i ? " " : "", w);
    }
    if (seed_rand(&s) % 20 == 0 && len + 40 < size)
        snprintf(out + len, size - len, " https://example.com/%" PRIu64, n);
}

/*
 * Seeding submits one write per message, exactly the write of POST .../messages, and lets
 * the writer group them as it groups a busy server's (up to commit-max-batch writes a
 * transaction, each in its own SAVEPOINT; seed_messages raises the batch to --batch).
 * One write of thousands of messages would not measure the real path: SQLite's in-memory
 * statement journal grows with everything the enclosing savepoint touched and is walked
 * from its start at the end of every statement that has triggers, which made a bulk seed
 * with the search index quadratic in the batch (BENCHMARKS.md, Search).
 *
 * A ring of 2 * batch slots is in flight; the writer completes writes in order, so slot
 * i % ring is free once `completed` passed i - ring.
 */
struct seed_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t completed;
    int rc;
    hs_error err;
};

struct seed_slot {
    struct seed_state *st;
    struct hs_msg_create m;
    char content[256];
};

static int seed_write(hs_txn *txn, void *arg, hs_error *err)
{
    struct seed_slot *slot = arg;
    return hs_msg_create_fn(txn, &slot->m, err);
}

static void seed_done(void *arg, int rc, const hs_error *err)
{
    struct seed_slot *slot = arg;
    struct seed_state *st = slot->st;
    json_decref(slot->m.message);
    slot->m.message = NULL;
    pthread_mutex_lock(&st->mu);
    if (rc < 0 && st->rc == 0) {
        st->rc = rc;
        st->err = *err;
    }
    st->completed++;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

/* Waits until at least n writes completed; returns the first failure's code or 0. */
static int seed_wait(struct seed_state *st, uint64_t n)
{
    pthread_mutex_lock(&st->mu);
    while (st->completed < n)
        pthread_cond_wait(&st->cv, &st->mu);
    int rc = st->rc;
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static int seed_messages(hs_core *core, int argc, char **argv)
{
    const char *ch = opt(argc, argv, "--channel"), *au = opt(argc, argv, "--author");
    const char *cnt = opt(argc, argv, "--count");
    const char *vocab = opt(argc, argv, "--vocab"), *seed = opt(argc, argv, "--seed");
    uint64_t channel_id, author_id, total, seed_v = 0;
    if (!ch || !au || !cnt || hs_parse_u64(ch, &channel_id) < 0 ||
        hs_parse_u64(au, &author_id) < 0 || hs_parse_u64(cnt, &total) < 0 ||
        (vocab && strcmp(vocab, "zipf") != 0) || (seed && hs_parse_u64(seed, &seed_v) < 0))
        return usage();
    int max_chars = hs_core_config(core)->message_max_chars;
    size_t ring = 2 * (size_t)hs_core_config(core)->commit_max_batch;
    struct seed_slot *slots = hs_xcalloc(ring, sizeof(*slots));
    struct seed_state st = {.rc = 0};
    pthread_mutex_init(&st.mu, NULL);
    pthread_cond_init(&st.cv, NULL);
    uint64_t start = hs_mono_ns(), i;
    int rc = 0;
    for (i = 0; i < total; i++) {
        if (i >= ring && (rc = seed_wait(&st, i - ring + 1)) < 0)
            break;
        struct seed_slot *slot = &slots[i % ring];
        if (vocab)
            seed_zipf_text(i, seed_v, slot->content, sizeof(slot->content));
        else
            snprintf(slot->content, sizeof(slot->content),
                     "seed message %" PRIu64 " of the benchmark corpus", i);
        slot->st = &st;
        slot->m = (struct hs_msg_create){.channel_id = channel_id,
                                         .author_id = author_id,
                                         .content = slot->content,
                                         .max_chars = max_chars};
        hs_writer_submit(hs_core_writer(core), seed_write, seed_done, slot);
    }
    /* Every submitted write must complete before the slots go away. */
    int last = seed_wait(&st, i);
    rc = rc < 0 ? rc : last;
    double secs = (double)(hs_mono_ns() - start) / 1e9;
    if (rc == 0)
        fprintf(stderr, "seeded %" PRIu64 " messages in %.1f s\n", total, secs);
    else
        fail(&st.err);
    pthread_cond_destroy(&st.cv);
    pthread_mutex_destroy(&st.mu);
    free(slots);
    return rc < 0 ? 1 : 0;
}

static int search_reindex(hs_core *core)
{
    hs_error err;
    int64_t n = 0;
    uint64_t start = hs_mono_ns();
    if (hs_writer_run(hs_core_writer(core), hs_search_reindex_fn, &n, &err) < 0)
        return fail(&err);
    fprintf(stderr, "indexed %" PRId64 " messages in %.1f s\n", n,
            (double)(hs_mono_ns() - start) / 1e9);
    return 0;
}

int main(int argc, char **argv)
{
    hs_config cfg;
    hs_error err;
    hs_core *core = NULL;
    const char *dir = opt(argc, argv, "--data-dir");
    int first = 1, rc;

    while (first < argc && strncmp(argv[first], "--", 2) == 0)
        first += 2;
    if (!dir || first + 1 >= argc)
        return usage();
    if (sodium_init() < 0)
        return 1;
    hs_config_init(&cfg);
    if (hs_config_set(&cfg, "data-dir", dir, &err) < 0 ||
        hs_config_set(&cfg, "process-id", "31", &err) < 0 ||
        /* Seeding: transactions of up to --batch messages (seed_messages). */
        (strcmp(argv[first], "seed") == 0 &&
         hs_config_set(&cfg, "commit-max-batch",
                       opt(argc, argv, "--batch") ? opt(argc, argv, "--batch") : "10000",
                       &err) < 0)) {
        hs_config_release(&cfg);
        return fail(&err);
    }
    if (hs_core_open(&core, &cfg, &err) < 0) {
        hs_config_release(&cfg);
        return fail(&err);
    }
    const char *noun = argv[first], *verb = argv[first + 1];
    if (strcmp(noun, "bot") == 0 && strcmp(verb, "create") == 0 && first + 2 < argc)
        rc = bot_create(core, argv[first + 2], opt(argc, argv, "--owner"));
    else if (strcmp(noun, "bot") == 0 && strcmp(verb, "reset") == 0 && first + 2 < argc)
        rc = bot_reset(core, argv[first + 2]);
    else if (strcmp(noun, "seed") == 0 && strcmp(verb, "messages") == 0)
        rc = seed_messages(core, argc, argv);
    else if (strcmp(noun, "search") == 0 && strcmp(verb, "reindex") == 0)
        rc = search_reindex(core);
    else
        rc = usage();
    hs_core_close(core);
    hs_config_release(&cfg);
    return rc;
}
