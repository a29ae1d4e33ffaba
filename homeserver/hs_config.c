#include "hs_config.h"
#include "hs_log.h"
#include "hs_util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum cfg_type { CFG_STR, CFG_INT };

struct cfg_row {
    const char *name;
    enum cfg_type type;
    size_t offset;
    const char *def;
    long min, max; /* CFG_INT range; CFG_STR length range */
    int (*check)(const char *value, hs_error *err);
    const char *help;
};

static int check_listen(const char *value, hs_error *err);
static int check_log_level(const char *value, hs_error *err);
static int check_server_name(const char *value, hs_error *err);

#define OFF(f) offsetof(hs_config, f)

/* The one table. Keep it in the order --help shows it. */
static const struct cfg_row rows[] = {
    {"data-dir", CFG_STR, OFF(data_dir), "./data", 1, 4096, NULL,
     "directory holding the SQLite database and attachments"},
    {"listen", CFG_STR, OFF(listen), "127.0.0.1:8080", 3, 300, check_listen,
     "HOST:PORT of the client HTTP listener (use [::1]:PORT for IPv6)"},
    {"server-name", CFG_STR, OFF(server_name), "localhost", 1, 255, check_server_name,
     "this homeserver's public name (its federation identity)"},
    {"log-level", CFG_STR, OFF(log_level), "info", 1, 16, check_log_level,
     "debug, info, warn or error"},
    {"worker-id", CFG_INT, OFF(worker_id), "0", 0, 31, NULL, "snowflake worker id (0-31)"},
    {"process-id", CFG_INT, OFF(process_id), "0", 0, 31, NULL, "snowflake process id (0-31)"},
    {"http-threads", CFG_INT, OFF(http_threads), "2", 1, 64, NULL, "threads serving HTTP requests"},
    {"max-body-bytes", CFG_INT, OFF(max_body_bytes), "1048576", 1024, 64 << 20, NULL,
     "largest JSON request body accepted, in bytes"},
    {"max-upload-bytes", CFG_INT, OFF(max_upload_bytes), "26214400", 1024, 1 << 30, NULL,
     "largest multipart/form-data request (a message with files) accepted, in bytes"},
    {"max-buffered-bytes", CFG_INT, OFF(max_buffered_bytes), "268435456", 1 << 20, 1 << 30, NULL,
     "request bodies held in memory at once, all connections together (413 beyond)"},
    {"max-connections", CFG_INT, OFF(max_connections), "16000", 16, 1000000, NULL,
     "most client HTTP connections held at once"},
    {"per-ip-connections", CFG_INT, OFF(per_ip_connections), "0", 0, 1000000, NULL,
     "most connections from one IP address (0: no limit)"},
    {"connection-timeout", CFG_INT, OFF(connection_timeout), "60", 1, 3600, NULL,
     "seconds an idle HTTP connection is kept"},
    {"message-max-chars", CFG_INT, OFF(message_max_chars), "2000", 1, 100000, NULL,
     "longest message content, in Unicode code points"},
    {"commit-max-batch", CFG_INT, OFF(commit_max_batch), "512", 1, 100000, NULL,
     "most writes committed in one transaction (group commit)"},
    {"argon2-ops", CFG_INT, OFF(argon2_ops), "2", 1, 20, NULL,
     "argon2id passes when hashing passwords"},
    {"argon2-mem-kib", CFG_INT, OFF(argon2_mem_kib), "65536", 8, 4 << 20, NULL,
     "argon2id memory per password hash, in KiB"},
    {"gateway-heartbeat-ms", CFG_INT, OFF(gateway_heartbeat_ms), "41250", 500, 600000, NULL,
     "heartbeat_interval sent in HELLO; a session silent for 1.5 times it is closed"},
    {"gateway-resume-seconds", CFG_INT, OFF(gateway_resume_seconds), "180", 1, 86400, NULL,
     "how long a disconnected gateway session stays resumable"},
    {"housekeeping-ms", CFG_INT, OFF(housekeeping_ms), "60000", 10, 3600000, NULL,
     "how often timed housekeeping runs (archiving idle threads)"},
    {"thread-archive-minute-ms", CFG_INT, OFF(thread_archive_minute_ms), "60000", 1, 60000, NULL,
     "the minute a thread's auto_archive_duration counts in (tests shorten it)"},
    {"gateway-writers", CFG_INT, OFF(gateway_writers), "0", 0, 64, NULL,
     "threads that write gateway output, the gateway thread included (0: one per CPU, up to 8)"},
    {"gateway-writer-min", CFG_INT, OFF(gateway_writer_min), "256", 1, 1 << 20, NULL,
     "connections with output in one flush from which the writer threads share it"},
    {"gateway-sndbuf", CFG_INT, OFF(gateway_sndbuf), "262144", 0, 1 << 26, NULL,
     "kernel send buffer per gateway socket, in bytes (0: the kernel's autotuning, up to "
     "net.ipv4.tcp_wmem's maximum)"},
    {"gateway-replay-events", CFG_INT, OFF(gateway_replay_events), "1000", 1, 1000000, NULL,
     "dispatches kept per gateway session for RESUME"},
    {"gateway-max-queued-bytes", CFG_INT, OFF(gateway_max_queued_bytes), "4194304", 65536, 1 << 30,
     NULL,
     "bytes of dispatches a gateway session keeps (for RESUME and for a slow reader); a "
     "client that has not been sent what would drop out is closed"},
    /* HTTP rate limits (spec/rest-ratelimits.md); a limit of 0 means none. */
    {"ratelimit-enabled", CFG_INT, OFF(ratelimit_enabled), "1", 0, 1, NULL,
     "1: apply the HTTP rate limits below; 0: none at all"},
    {"ratelimit-global-per-second", CFG_INT, OFF(ratelimit_global_per_second), "50", 0, 1000000,
     NULL, "requests per second one token may make, all routes together"},
    {"ratelimit-ip-per-second", CFG_INT, OFF(ratelimit_ip_per_second), "50", 0, 1000000, NULL,
     "requests per second one IP address may make without a token"},
    {"ratelimit-window-ms", CFG_INT, OFF(ratelimit_window_ms), "5000", 100, 3600000, NULL,
     "length of a per-route rate limit window, in milliseconds"},
    {"ratelimit-messages-per-window", CFG_INT, OFF(ratelimit_messages_per_window), "5", 0, 1000000,
     NULL, "messages one token may post to one channel per window"},
    {"ratelimit-default-per-window", CFG_INT, OFF(ratelimit_default_per_window), "10", 0, 1000000,
     NULL, "requests per window to one route and top-level resource (any other route)"},
    {"ratelimit-max-buckets", CFG_INT, OFF(ratelimit_max_buckets), "100000", 64, 10000000, NULL,
     "rate-limit buckets kept in memory; the least recently used are dropped first"},
    {"web-dir", CFG_STR, OFF(web_dir), "", 0, 4096, NULL,
     "directory of the web client's files served at / (empty: the source tree's web/ for a "
     "build-tree hearthd, else share/hearth/web beside the installed one)"},
    {"automod-max-keyword-rules", CFG_INT, OFF(automod_max_keyword_rules), "6", 1, 1000, NULL,
     "AutoMod keyword rules a guild may have (Discord allows 6)"},
};

static const struct cfg_row *find_row(const char *name, size_t len)
{
    for (size_t i = 0; i < HS_ARRAY_LEN(rows); i++)
        if (strlen(rows[i].name) == len && memcmp(rows[i].name, name, len) == 0)
            return &rows[i];
    return NULL;
}

static int set_row(hs_config *cfg, const struct cfg_row *r, const char *value, hs_error *err)
{
    char *base = (char *)cfg;
    if (r->type == CFG_INT) {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end)
            return hs_error_set(err, HS_EINVAL, "%s: '%s' is not an integer", r->name, value);
        if (v < r->min || v > r->max)
            return hs_error_set(err, HS_EINVAL, "%s: %ld is outside %ld..%ld", r->name, v, r->min,
                                r->max);
        *(int *)(base + r->offset) = (int)v;
        return 0;
    }
    size_t len = strlen(value);
    if ((long)len < r->min || (long)len > r->max)
        return hs_error_set(err, HS_EINVAL, "%s: length must be %ld..%ld", r->name, r->min, r->max);
    if (r->check && r->check(value, err) < 0)
        return HS_EINVAL;
    char **slot = (char **)(base + r->offset);
    free(*slot);
    *slot = hs_xstrdup(value);
    return 0;
}

void hs_config_init(hs_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < HS_ARRAY_LEN(rows); i++) {
        int rc = set_row(cfg, &rows[i], rows[i].def, NULL);
        HS_ASSERT(rc == 0);
    }
}

void hs_config_release(hs_config *cfg)
{
    for (size_t i = 0; i < HS_ARRAY_LEN(rows); i++) {
        if (rows[i].type == CFG_STR) {
            char **slot = (char **)((char *)cfg + rows[i].offset);
            free(*slot);
            *slot = NULL;
        }
    }
}

int hs_config_set(hs_config *cfg, const char *name, const char *value, hs_error *err)
{
    const struct cfg_row *r = find_row(name, strlen(name));
    if (!r)
        return hs_error_set(err, HS_EINVAL, "unknown setting '%s'", name);
    return set_row(cfg, r, value, err);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int hs_config_load_file(hs_config *cfg, const char *path, hs_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return hs_error_set(err, HS_EIO, "cannot open config '%s': %s", path, strerror(errno));
    char line[8192];
    int lineno = 0, rc = 0;
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = hs_error_set(err, HS_EIO, "config '%s' is not a regular file", path);
        goto out;
    }
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            rc = hs_error_set(err, HS_EINVAL, "%s:%d: line too long", path, lineno);
            goto out;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = hs_error_set(err, HS_EINVAL, "%s:%d: expected 'name = value'", path, lineno);
            goto out;
        }
        *eq = '\0';
        hs_error sub;
        if (hs_config_set(cfg, trim(s), trim(eq + 1), &sub) < 0) {
            rc = hs_error_set(err, HS_EINVAL, "%s:%d: %s", path, lineno, sub.msg);
            goto out;
        }
    }
    if (ferror(f))
        rc = hs_error_set(err, HS_EIO, "cannot read config '%s': %s", path, strerror(errno));
out:
    fclose(f);
    return rc;
}

int hs_config_parse_args(hs_config *cfg, int argc, char **argv, int *want_help, int *want_sample,
                         hs_error *err)
{
    *want_help = *want_sample = 0;
    /* The file comes first so that options given beside it override it. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc)
                return hs_error_set(err, HS_EINVAL, "--config needs a file name");
            int rc = hs_config_load_file(cfg, argv[i + 1], err);
            if (rc < 0)
                return rc;
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            int rc = hs_config_load_file(cfg, argv[i] + 9, err);
            if (rc < 0)
                return rc;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *want_help = 1;
            continue;
        }
        if (strcmp(a, "--print-config") == 0) {
            *want_sample = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0)
            return hs_error_set(err, HS_EINVAL, "unexpected argument '%s'", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const char *value;
        if (eq) {
            value = eq + 1;
        } else {
            if (i + 1 >= argc)
                return hs_error_set(err, HS_EINVAL, "--%.*s needs a value", (int)nlen, name);
            value = argv[++i];
        }
        if (nlen == 6 && memcmp(name, "config", 6) == 0)
            continue;
        const struct cfg_row *r = find_row(name, nlen);
        if (!r)
            return hs_error_set(err, HS_EINVAL, "unknown option '--%.*s' (see --help)", (int)nlen,
                                name);
        int rc = set_row(cfg, r, value, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int split_listen(const char *value, char *host, size_t hostlen, int *port, hs_error *err)
{
    const char *colon;
    const char *h = value;
    size_t hlen;
    if (value[0] == '[') {
        const char *close = strchr(value, ']');
        if (!close || close[1] != ':')
            return hs_error_set(err, HS_EINVAL, "listen: '%s' is not [HOST]:PORT", value);
        h = value + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(value, ':');
        if (!colon)
            return hs_error_set(err, HS_EINVAL, "listen: '%s' is not HOST:PORT", value);
        hlen = (size_t)(colon - value);
    }
    if (hlen == 0 || hlen >= hostlen)
        return hs_error_set(err, HS_EINVAL, "listen: bad host in '%s'", value);
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p < 1 || p > 65535)
        return hs_error_set(err, HS_EINVAL, "listen: bad port in '%s' (1-65535)", value);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return 0;
}

static int check_listen(const char *value, hs_error *err)
{
    char host[256];
    int port;
    return split_listen(value, host, sizeof(host), &port, err);
}

static int check_log_level(const char *value, hs_error *err)
{
    if (hs_log_parse_level(value) < 0)
        return hs_error_set(err, HS_EINVAL, "log-level: '%s' is not debug, info, warn or error",
                            value);
    return 0;
}

static int check_server_name(const char *value, hs_error *err)
{
    for (const char *p = value; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(".-:[]", *p))
            return hs_error_set(err, HS_EINVAL,
                                "server-name: '%s' may hold only letters, digits, '.', '-', ':'",
                                value);
    return 0;
}

int hs_config_listen_addr(const hs_config *cfg, char *host, size_t hostlen, int *port,
                          hs_error *err)
{
    return split_listen(cfg->listen, host, hostlen, port, err);
}

void hs_config_usage(FILE *out, const char *prog)
{
    fprintf(out,
            "usage: %s [--config FILE] [--OPTION VALUE ...]\n\n"
            "Hearth homeserver. Options (also settable as 'name = value' in the config file):\n\n",
            prog);
    for (size_t i = 0; i < HS_ARRAY_LEN(rows); i++) {
        char arg[64];
        snprintf(arg, sizeof(arg), "--%s %s", rows[i].name, rows[i].type == CFG_INT ? "N" : "S");
        fprintf(out, "  %-28s %s (default %s)\n", arg, rows[i].help, rows[i].def);
    }
    fprintf(out, "  %-28s %s\n  %-28s %s\n  %-28s %s\n", "--config FILE",
            "read settings from FILE first", "--print-config",
            "print a sample config file and exit", "--help", "show this help and exit");
}

void hs_config_write_sample(FILE *out)
{
    fprintf(out, "# hearthd configuration. Every setting is shown at its default.\n");
    for (size_t i = 0; i < HS_ARRAY_LEN(rows); i++) {
        fprintf(out, "\n# %s", rows[i].help);
        if (rows[i].type == CFG_INT)
            fprintf(out, " (%ld-%ld)", rows[i].min, rows[i].max);
        fprintf(out, "\n# %s = %s\n", rows[i].name, rows[i].def);
    }
}
