/*
 * Unit tests for hs_config.h: defaults, setting and validating one value, the config file,
 * the command line and its precedence (defaults < --config FILE < options, whatever their
 * order), listen addresses, and the sample file that --print-config writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <unistd.h>

#include "hs_config.h"
#include "hs_error.h"

#include "testkit.h"

/* The settings this test knows (hs_config.c's table); --help lists them all, and the
 * sample tests below also follow whatever --help lists, so a new setting is covered there
 * without editing this list. */
static const char *const setting_names[] = {
    "data-dir",
    "listen",
    "server-name",
    "log-level",
    "worker-id",
    "process-id",
    "http-threads",
    "max-body-bytes",
    "max-connections",
    "per-ip-connections",
    "connection-timeout",
    "message-max-chars",
    "commit-max-batch",
    "argon2-ops",
    "argon2-mem-kib",
    "gateway-heartbeat-ms",
    "gateway-resume-seconds",
    "gateway-replay-events",
    "gateway-max-queued-bytes",
};

/* ---- fixture: a fresh temporary directory and config per test ---- */

struct fx {
    char dir[TK_DIR_MAX];
    hs_config cfg;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    tk_tempdir(fx->dir, "config");
    hs_config_init(&fx->cfg);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    hs_config_release(&fx->cfg);
    tk_rmtree(fx->dir);
    free(fx);
    return 0;
}

/* Writes text to DIR/name and puts that path in path. */
static void write_file(struct fx *fx, const char *name, const char *text, char *path,
                       size_t pathlen)
{
    snprintf(path, pathlen, "%s/%s", fx->dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void assert_defaults(const hs_config *c)
{
    assert_string_equal(c->data_dir, "./data");
    assert_string_equal(c->listen, "127.0.0.1:8080");
    assert_string_equal(c->server_name, "localhost");
    assert_string_equal(c->log_level, "info");
    assert_int_equal(c->worker_id, 0);
    assert_int_equal(c->process_id, 0);
    assert_int_equal(c->http_threads, 2);
    assert_int_equal(c->max_body_bytes, 1048576);
    assert_int_equal(c->max_connections, 16000);
    assert_int_equal(c->per_ip_connections, 0);
    assert_int_equal(c->connection_timeout, 60);
    assert_int_equal(c->message_max_chars, 2000);
    assert_int_equal(c->commit_max_batch, 512);
    assert_int_equal(c->argon2_ops, 2);
    assert_int_equal(c->argon2_mem_kib, 65536);
    assert_int_equal(c->gateway_heartbeat_ms, 41250);
    assert_int_equal(c->gateway_resume_seconds, 180);
    assert_int_equal(c->gateway_replay_events, 1000);
    assert_int_equal(c->gateway_max_queued_bytes, 4194304);
}

/* Moves every setting away from its default. */
static void set_all_non_default(hs_config *c)
{
    static const char *const pairs[][2] = {
        {"data-dir", "/elsewhere"},
        {"listen", "[::1]:9999"},
        {"server-name", "example.org"},
        {"log-level", "error"},
        {"worker-id", "3"},
        {"process-id", "4"},
        {"http-threads", "8"},
        {"max-body-bytes", "2048"},
        {"max-connections", "100"},
        {"per-ip-connections", "5"},
        {"connection-timeout", "7"},
        {"message-max-chars", "4000"},
        {"commit-max-batch", "9"},
        {"argon2-ops", "1"},
        {"argon2-mem-kib", "8"},
        {"gateway-heartbeat-ms", "500"},
        {"gateway-resume-seconds", "1"},
        {"gateway-replay-events", "7"},
        {"gateway-max-queued-bytes", "65536"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        hs_error err;
        assert_int_equal(hs_config_set(c, pairs[i][0], pairs[i][1], &err), 0);
    }
    assert_string_equal(c->data_dir, "/elsewhere");
    assert_int_equal(c->argon2_mem_kib, 8);
}

/* ---- defaults and hs_config_set ---- */

static void test_defaults(void **state)
{
    struct fx *fx = *state;
    assert_defaults(&fx->cfg);
    /* init after release gives the defaults again. */
    set_all_non_default(&fx->cfg);
    hs_config_release(&fx->cfg);
    hs_config_init(&fx->cfg);
    assert_defaults(&fx->cfg);
}

static void test_set_int(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    assert_int_equal(hs_config_set(&fx->cfg, "worker-id", "31", &err), 0);
    assert_int_equal(fx->cfg.worker_id, 31);
    assert_int_equal(hs_config_set(&fx->cfg, "worker-id", "0", &err), 0);
    assert_int_equal(fx->cfg.worker_id, 0);
    assert_int_equal(hs_config_set(&fx->cfg, "process-id", "17", &err), 0);
    assert_int_equal(fx->cfg.process_id, 17);
    assert_int_equal(hs_config_set(&fx->cfg, "argon2-ops", "1", &err), 0);
    assert_int_equal(hs_config_set(&fx->cfg, "argon2-mem-kib", "8", &err), 0);
    assert_int_equal(fx->cfg.argon2_ops, 1);
    assert_int_equal(fx->cfg.argon2_mem_kib, 8);
    assert_int_equal(hs_config_set(&fx->cfg, "max-body-bytes", "67108864", &err), 0);
    assert_int_equal(fx->cfg.max_body_bytes, 64 << 20);
    assert_int_equal(hs_config_set(&fx->cfg, "message-max-chars", "007", &err), 0);
    assert_int_equal(fx->cfg.message_max_chars, 7);
}

static void test_set_int_range(void **state)
{
    struct fx *fx = *state;
    static const char *const bad[][2] = {
        {"worker-id", "32"},
        {"worker-id", "-1"},
        {"process-id", "32"},
        {"http-threads", "0"},
        {"http-threads", "65"},
        {"max-body-bytes", "1023"},
        {"max-body-bytes", "67108865"},
        {"max-connections", "15"},
        {"per-ip-connections", "-1"},
        {"connection-timeout", "0"},
        {"connection-timeout", "3601"},
        {"message-max-chars", "0"},
        {"message-max-chars", "100001"},
        {"commit-max-batch", "0"},
        {"argon2-ops", "0"},
        {"argon2-ops", "21"},
        {"argon2-mem-kib", "7"},
        {"argon2-mem-kib", "4194305"},
        {"worker-id", "2147483648"},
        {"worker-id", "99999999999999999999999"},
        {"worker-id", "-99999999999999999999999"},
        {"gateway-heartbeat-ms", "499"},
        {"gateway-max-queued-bytes", "1073741825"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hs_error err;
        hs_error_clear(&err);
        int rc = hs_config_set(&fx->cfg, bad[i][0], bad[i][1], &err);
        if (rc != HS_EINVAL)
            fail_msg("%s = %s was accepted", bad[i][0], bad[i][1]);
        assert_int_equal(err.code, HS_EINVAL);
        /* The message names the setting. */
        assert_non_null(strstr(err.msg, bad[i][0]));
    }
    /* Nothing was changed by the rejected values. */
    assert_defaults(&fx->cfg);
}

static void test_set_not_integer(void **state)
{
    struct fx *fx = *state;
    static const char *const bad[] = {"", "abc", "1.5", "5x", "x5", "0x10", "1e3", "5 5", "--1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hs_error err;
        int rc = hs_config_set(&fx->cfg, "http-threads", bad[i], &err);
        if (rc != HS_EINVAL)
            fail_msg("http-threads = '%s' was accepted", bad[i]);
        assert_non_null(strstr(err.msg, "http-threads"));
    }
    assert_int_equal(fx->cfg.http_threads, 2);
    /* NULL err is allowed. */
    assert_int_equal(hs_config_set(&fx->cfg, "http-threads", "many", NULL), HS_EINVAL);
}

static void test_set_strings(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    assert_int_equal(hs_config_set(&fx->cfg, "data-dir", "/var/lib/hearth", &err), 0);
    assert_string_equal(fx->cfg.data_dir, "/var/lib/hearth");
    /* A value with spaces is kept whole. */
    assert_int_equal(hs_config_set(&fx->cfg, "data-dir", "/srv/my data", &err), 0);
    assert_string_equal(fx->cfg.data_dir, "/srv/my data");
    assert_int_equal(hs_config_set(&fx->cfg, "data-dir", "", &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "data-dir"));
    assert_string_equal(fx->cfg.data_dir, "/srv/my data");

    char longdir[5000];
    memset(longdir, 'd', sizeof(longdir) - 1);
    longdir[sizeof(longdir) - 1] = '\0';
    assert_int_equal(hs_config_set(&fx->cfg, "data-dir", longdir, &err), HS_EINVAL);
    longdir[4096] = '\0';
    assert_int_equal(hs_config_set(&fx->cfg, "data-dir", longdir, &err), 0);

    assert_int_equal(hs_config_set(&fx->cfg, "server-name", "chat.example.org", &err), 0);
    assert_string_equal(fx->cfg.server_name, "chat.example.org");
    assert_int_equal(hs_config_set(&fx->cfg, "server-name", "host:8448", &err), 0);
    assert_int_equal(hs_config_set(&fx->cfg, "server-name", "bad name", &err), HS_EINVAL);
    assert_int_equal(hs_config_set(&fx->cfg, "server-name", "evil/path", &err), HS_EINVAL);
    assert_int_equal(hs_config_set(&fx->cfg, "server-name", "", &err), HS_EINVAL);
    assert_string_equal(fx->cfg.server_name, "host:8448");

    assert_int_equal(hs_config_set(&fx->cfg, "log-level", "debug", &err), 0);
    assert_string_equal(fx->cfg.log_level, "debug");
    assert_int_equal(hs_config_set(&fx->cfg, "log-level", "WARN", &err), 0);
    assert_int_equal(hs_config_set(&fx->cfg, "log-level", "error", &err), 0);
    assert_int_equal(hs_config_set(&fx->cfg, "log-level", "verbose", &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "log-level"));
    assert_string_equal(fx->cfg.log_level, "error");
}

static void test_set_unknown(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    assert_int_equal(hs_config_set(&fx->cfg, "no-such-setting", "1", &err), HS_EINVAL);
    assert_int_equal(err.code, HS_EINVAL);
    assert_non_null(strstr(err.msg, "no-such-setting"));
    assert_int_equal(hs_config_set(&fx->cfg, "", "1", &err), HS_EINVAL);
    /* Names are exact: no prefixes, no case folding, no underscores for dashes. */
    assert_int_equal(hs_config_set(&fx->cfg, "worker", "1", &err), HS_EINVAL);
    assert_int_equal(hs_config_set(&fx->cfg, "worker-id-x", "1", &err), HS_EINVAL);
    assert_int_equal(hs_config_set(&fx->cfg, "Worker-Id", "1", &err), HS_EINVAL);
    assert_int_equal(hs_config_set(&fx->cfg, "worker_id", "1", &err), HS_EINVAL);
    assert_int_equal(hs_config_set(&fx->cfg, "--worker-id", "1", &err), HS_EINVAL);
    assert_defaults(&fx->cfg);
}

/* ---- listen ---- */

static void assert_listen_ok(hs_config *cfg, const char *value, const char *host, int port)
{
    hs_error err;
    if (hs_config_set(cfg, "listen", value, &err) != 0)
        fail_msg("listen '%s' rejected: %s", value, err.msg);
    assert_string_equal(cfg->listen, value);
    char h[256];
    int p = -1;
    assert_int_equal(hs_config_listen_addr(cfg, h, sizeof(h), &p, &err), 0);
    assert_string_equal(h, host);
    assert_int_equal(p, port);
}

static void test_listen_valid(void **state)
{
    struct fx *fx = *state;
    char h[256];
    int p;
    hs_error err;
    /* The default. */
    assert_int_equal(hs_config_listen_addr(&fx->cfg, h, sizeof(h), &p, &err), 0);
    assert_string_equal(h, "127.0.0.1");
    assert_int_equal(p, 8080);

    assert_listen_ok(&fx->cfg, "0.0.0.0:1", "0.0.0.0", 1);
    assert_listen_ok(&fx->cfg, "10.1.2.3:65535", "10.1.2.3", 65535);
    assert_listen_ok(&fx->cfg, "[::1]:80", "::1", 80);
    assert_listen_ok(&fx->cfg, "[::]:8448", "::", 8448);
    assert_listen_ok(&fx->cfg, "[2001:db8::7]:443", "2001:db8::7", 443);
    assert_listen_ok(&fx->cfg, "localhost:8080", "localhost", 8080);
}

static void test_listen_invalid(void **state)
{
    struct fx *fx = *state;
    static const char *const bad[] = {
        "127.0.0.1",       /* missing port */
        "127.0.0.1:",      /* empty port */
        ":8080",           /* missing host */
        "127.0.0.1:0",     /* port 0 */
        "127.0.0.1:65536", /* port too large */
        "127.0.0.1:-1",
        "127.0.0.1:99999999999999999999",
        "127.0.0.1:http",
        "127.0.0.1:80x",
        "127.0.0.1:8.0",
        "[::1]",   /* IPv6 without port */
        "[::1]80", /* no colon after the bracket */
        "[::1]:",  /* empty port */
        "[::1:80", /* unclosed bracket */
        "[]:80",   /* empty IPv6 host */
        "[::1]:0",
        "[::1]:65536",
        "garbage",
        "",
        "a:",
        ":",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hs_error err;
        hs_error_clear(&err);
        if (hs_config_set(&fx->cfg, "listen", bad[i], &err) != HS_EINVAL)
            fail_msg("listen '%s' was accepted", bad[i]);
        assert_non_null(strstr(err.msg, "listen"));
    }
    /* The rejected values left the setting alone. */
    assert_string_equal(fx->cfg.listen, "127.0.0.1:8080");
}

static void test_listen_addr_small_buffer(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    char h[8];
    int p;
    assert_int_equal(hs_config_set(&fx->cfg, "listen", "[2001:db8::7]:443", &err), 0);
    /* "2001:db8::7" needs 12 bytes: it does not fit and is not truncated silently. */
    assert_int_equal(hs_config_listen_addr(&fx->cfg, h, sizeof(h), &p, &err), HS_EINVAL);
    char h11[11];
    assert_int_equal(hs_config_listen_addr(&fx->cfg, h11, sizeof(h11), &p, &err), HS_EINVAL);
    char h12[12];
    assert_int_equal(hs_config_listen_addr(&fx->cfg, h12, sizeof(h12), &p, &err), 0);
    assert_string_equal(h12, "2001:db8::7");
    assert_int_equal(p, 443);
}

/* ---- the config file ---- */

static void test_load_file(void **state)
{
    struct fx *fx = *state;
    char path[256];
    write_file(fx, "hearth.conf",
               "# a comment line\n"
               "\n"
               "   \n"
               "\t# an indented comment\n"
               "worker-id = 5\n"
               "process-id=6\n"
               "  http-threads   =   7   \n"
               "\tlisten\t=\t[::1]:9000\t\n"
               "server-name = example.org # a comment after the value\n"
               "data-dir = /srv/a=b c\n"
               "log-level = debug\r\n"
               "argon2-ops = 1",
               path, sizeof(path));
    hs_error err;
    hs_error_clear(&err);
    int rc = hs_config_load_file(&fx->cfg, path, &err);
    if (rc != 0)
        fail_msg("load failed: %s", err.msg);
    assert_int_equal(fx->cfg.worker_id, 5);
    assert_int_equal(fx->cfg.process_id, 6);
    assert_int_equal(fx->cfg.http_threads, 7);
    assert_string_equal(fx->cfg.listen, "[::1]:9000");
    assert_string_equal(fx->cfg.server_name, "example.org");
    /* Only the first '=' separates; the rest belongs to the value. */
    assert_string_equal(fx->cfg.data_dir, "/srv/a=b c");
    /* A CRLF line ending is whitespace. */
    assert_string_equal(fx->cfg.log_level, "debug");
    /* The last line has no newline. */
    assert_int_equal(fx->cfg.argon2_ops, 1);
    /* Untouched settings keep their defaults. */
    assert_int_equal(fx->cfg.argon2_mem_kib, 65536);
    assert_int_equal(fx->cfg.max_body_bytes, 1048576);
}

static void test_load_file_empty(void **state)
{
    struct fx *fx = *state;
    char path[256];
    hs_error err;
    write_file(fx, "empty.conf", "", path, sizeof(path));
    assert_int_equal(hs_config_load_file(&fx->cfg, path, &err), 0);
    write_file(fx, "comments.conf", "# only\n#comments\n\n", path, sizeof(path));
    assert_int_equal(hs_config_load_file(&fx->cfg, path, &err), 0);
    assert_defaults(&fx->cfg);
}

static void assert_file_error(struct fx *fx, const char *text, int line, const char *needle)
{
    char path[256], where[300];
    hs_error err;
    hs_error_clear(&err);
    write_file(fx, "bad.conf", text, path, sizeof(path));
    assert_int_equal(hs_config_load_file(&fx->cfg, path, &err), HS_EINVAL);
    assert_int_equal(err.code, HS_EINVAL);
    /* The message names the file and the line. */
    snprintf(where, sizeof(where), "%s:%d:", path, line);
    if (!strstr(err.msg, where))
        fail_msg("'%s' does not name '%s'", err.msg, where);
    if (needle && !strstr(err.msg, needle))
        fail_msg("'%s' does not mention '%s'", err.msg, needle);
}

static void test_load_file_errors(void **state)
{
    struct fx *fx = *state;
    /* A line without '='. */
    assert_file_error(fx, "# ok\nworker-id = 1\n\njust some words\n", 4, NULL);
    /* An unknown key. */
    assert_file_error(fx, "worker-id = 1\nno-such-key = 3\n", 2, "no-such-key");
    /* A bad value. */
    assert_file_error(fx, "\n\n\nworker-id = 99\n", 4, "worker-id");
    assert_file_error(fx, "http-threads = lots\n", 1, "http-threads");
    assert_file_error(fx, "listen = nowhere\n", 1, "listen");
    /* An empty name. */
    assert_file_error(fx, "# x\n = 5\n", 2, NULL);
    /* A comment does not hide a bad line after it. */
    assert_file_error(fx, "# worker-id = 99\nworker-id 5\n", 2, NULL);
}

static void test_load_file_missing(void **state)
{
    struct fx *fx = *state;
    char path[256];
    hs_error err;
    snprintf(path, sizeof(path), "%s/does-not-exist.conf", fx->dir);
    assert_int_equal(hs_config_load_file(&fx->cfg, path, &err), HS_EIO);
    assert_int_equal(err.code, HS_EIO);
    assert_non_null(strstr(err.msg, path));
}

/*
 * A path that names a directory, or a read error part-way through a file, is an error
 * (HS_EIO naming the path), not an empty or half-read configuration.
 */
static void test_load_file_directory(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    hs_error_clear(&err);
    int rc = hs_config_load_file(&fx->cfg, fx->dir, &err);
    if (rc == 0)
        fail_msg("hs_config_load_file(\"%s\") (a directory) returned 0", fx->dir);
    assert_int_equal(rc, HS_EIO);
}

/* ---- the command line ---- */

static int parse(hs_config *cfg, int argc, char **argv, int *help, int *sample, hs_error *err)
{
    *help = *sample = -1;
    hs_error_clear(err);
    return hs_config_parse_args(cfg, argc, argv, help, sample, err);
}

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void test_args_none(void **state)
{
    struct fx *fx = *state;
    char *argv[] = {"hearthd"};
    int help, sample;
    hs_error err;
    assert_int_equal(parse(&fx->cfg, ARGC(argv), argv, &help, &sample, &err), 0);
    assert_int_equal(help, 0);
    assert_int_equal(sample, 0);
    assert_defaults(&fx->cfg);
    /* argv[0] is skipped even when it looks like an option. */
    char *argv2[] = {"--worker-id"};
    assert_int_equal(parse(&fx->cfg, ARGC(argv2), argv2, &help, &sample, &err), 0);
    assert_defaults(&fx->cfg);
}

static void test_args_forms(void **state)
{
    struct fx *fx = *state;
    char *argv[] = {"hearthd",           "--worker-id",       "3",
                    "--listen=[::1]:80", "--data-dir",        "/tmp/x y",
                    "--log-level=warn",  "--server-name=a.b", "--process-id=0"};
    int help, sample;
    hs_error err;
    int rc = parse(&fx->cfg, ARGC(argv), argv, &help, &sample, &err);
    if (rc != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(fx->cfg.worker_id, 3);
    assert_string_equal(fx->cfg.listen, "[::1]:80");
    assert_string_equal(fx->cfg.data_dir, "/tmp/x y");
    assert_string_equal(fx->cfg.log_level, "warn");
    assert_string_equal(fx->cfg.server_name, "a.b");
    assert_int_equal(fx->cfg.process_id, 0);
    assert_int_equal(help, 0);
    assert_int_equal(sample, 0);

    /* The same option twice: the later one wins. */
    char *argv2[] = {"hearthd", "--worker-id", "1", "--worker-id=2"};
    assert_int_equal(parse(&fx->cfg, ARGC(argv2), argv2, &help, &sample, &err), 0);
    assert_int_equal(fx->cfg.worker_id, 2);

    /* "--name=" with an '=' in the value keeps everything after the first '='. */
    char *argv3[] = {"hearthd", "--data-dir=/a=b"};
    assert_int_equal(parse(&fx->cfg, ARGC(argv3), argv3, &help, &sample, &err), 0);
    assert_string_equal(fx->cfg.data_dir, "/a=b");
}

static void test_args_precedence(void **state)
{
    struct fx *fx = *state;
    char path[256];
    write_file(fx, "p.conf",
               "worker-id = 5\n"
               "process-id = 6\n"
               "data-dir = /from/file\n"
               "http-threads = 9\n",
               path, sizeof(path));
    int help, sample;
    hs_error err;

    /* Options before --config still override the file. */
    char *a1[] = {"hearthd", "--worker-id", "3", "--data-dir=/from/flag", "--config", path};
    assert_int_equal(parse(&fx->cfg, ARGC(a1), a1, &help, &sample, &err), 0);
    assert_int_equal(fx->cfg.worker_id, 3);
    assert_string_equal(fx->cfg.data_dir, "/from/flag");
    assert_int_equal(fx->cfg.process_id, 6); /* from the file */
    assert_int_equal(fx->cfg.http_threads, 9);
    assert_int_equal(fx->cfg.max_connections, 16000); /* the default */

    /* Options after --config, and the --config=FILE form. */
    hs_config_release(&fx->cfg);
    hs_config_init(&fx->cfg);
    char cfgarg[300];
    snprintf(cfgarg, sizeof(cfgarg), "--config=%s", path);
    char *a2[] = {"hearthd", cfgarg, "--process-id", "1"};
    assert_int_equal(parse(&fx->cfg, ARGC(a2), a2, &help, &sample, &err), 0);
    assert_int_equal(fx->cfg.worker_id, 5);
    assert_int_equal(fx->cfg.process_id, 1);
    assert_string_equal(fx->cfg.data_dir, "/from/file");

    /* Options on both sides of --config. */
    hs_config_release(&fx->cfg);
    hs_config_init(&fx->cfg);
    char *a3[] = {"hearthd", "--http-threads=4", "--config", path, "--worker-id", "30"};
    assert_int_equal(parse(&fx->cfg, ARGC(a3), a3, &help, &sample, &err), 0);
    assert_int_equal(fx->cfg.http_threads, 4);
    assert_int_equal(fx->cfg.worker_id, 30);
    assert_int_equal(fx->cfg.process_id, 6);
}

static void test_args_missing_value(void **state)
{
    struct fx *fx = *state;
    int help, sample;
    hs_error err;
    char *a1[] = {"hearthd", "--worker-id"};
    assert_int_equal(parse(&fx->cfg, ARGC(a1), a1, &help, &sample, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "worker-id"));
    char *a2[] = {"hearthd", "--config"};
    assert_int_equal(parse(&fx->cfg, ARGC(a2), a2, &help, &sample, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "config"));
    char *a3[] = {"hearthd", "--listen", "127.0.0.1:1", "--data-dir"};
    assert_int_equal(parse(&fx->cfg, ARGC(a3), a3, &help, &sample, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "data-dir"));
}

static void test_args_errors(void **state)
{
    struct fx *fx = *state;
    int help, sample;
    hs_error err;
    char *a1[] = {"hearthd", "--no-such-option", "1"};
    assert_int_equal(parse(&fx->cfg, ARGC(a1), a1, &help, &sample, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "no-such-option"));
    char *a2[] = {"hearthd", "positional"};
    assert_int_equal(parse(&fx->cfg, ARGC(a2), a2, &help, &sample, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "positional"));
    char *a3[] = {"hearthd", "--worker-id", "32"};
    assert_int_equal(parse(&fx->cfg, ARGC(a3), a3, &help, &sample, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "worker-id"));
    char *a4[] = {"hearthd", "--listen=127.0.0.1:0"};
    assert_int_equal(parse(&fx->cfg, ARGC(a4), a4, &help, &sample, &err), HS_EINVAL);
    char *a5[] = {"hearthd", "--data-dir="};
    assert_int_equal(parse(&fx->cfg, ARGC(a5), a5, &help, &sample, &err), HS_EINVAL);
    char *a6[] = {"hearthd", "-worker-id", "3"};
    assert_int_equal(parse(&fx->cfg, ARGC(a6), a6, &help, &sample, &err), HS_EINVAL);

    /* A --config file that does not exist or does not parse. */
    char path[256];
    snprintf(path, sizeof(path), "%s/missing.conf", fx->dir);
    char *a7[] = {"hearthd", "--config", path};
    assert_int_equal(parse(&fx->cfg, ARGC(a7), a7, &help, &sample, &err), HS_EIO);
    write_file(fx, "bad.conf", "worker-id = 1\nbogus\n", path, sizeof(path));
    char *a8[] = {"hearthd", "--worker-id", "2", "--config", path};
    assert_int_equal(parse(&fx->cfg, ARGC(a8), a8, &help, &sample, &err), HS_EINVAL);
    char where[300];
    snprintf(where, sizeof(where), "%s:2:", path);
    assert_non_null(strstr(err.msg, where));
}

static void test_args_help_and_print_config(void **state)
{
    struct fx *fx = *state;
    int help, sample;
    hs_error err;
    char *a1[] = {"hearthd", "--help"};
    assert_int_equal(parse(&fx->cfg, ARGC(a1), a1, &help, &sample, &err), 0);
    assert_int_equal(help, 1);
    assert_int_equal(sample, 0);
    char *a2[] = {"hearthd", "-h"};
    assert_int_equal(parse(&fx->cfg, ARGC(a2), a2, &help, &sample, &err), 0);
    assert_int_equal(help, 1);
    char *a3[] = {"hearthd", "--worker-id", "4", "--print-config"};
    assert_int_equal(parse(&fx->cfg, ARGC(a3), a3, &help, &sample, &err), 0);
    assert_int_equal(help, 0);
    assert_int_equal(sample, 1);
    assert_int_equal(fx->cfg.worker_id, 4);
    char *a4[] = {"hearthd", "--print-config", "--listen=[::1]:1", "--help"};
    assert_int_equal(parse(&fx->cfg, ARGC(a4), a4, &help, &sample, &err), 0);
    assert_int_equal(help, 1);
    assert_int_equal(sample, 1);
    assert_string_equal(fx->cfg.listen, "[::1]:1");
}

/* ---- --help text and the sample file ---- */

#define MAX_OPTS 64

static char *capture_sample(size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    assert_non_null(f);
    hs_config_write_sample(f);
    assert_int_equal(fclose(f), 0);
    return text;
}

/* The setting names --help lists (every "--NAME" option but --config, --print-config and
 * --help). Returns their number; free each name. */
static size_t usage_settings(char *names[MAX_OPTS])
{
    char *text = NULL;
    size_t len = 0, n = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    hs_config_usage(f, "hearthd");
    fclose(f);
    for (char *line = text; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, "  --", 4) != 0)
            continue;
        size_t k = strcspn(line + 4, " \n");
        char *name = strndup(line + 4, k);
        assert_non_null(name);
        if (strcmp(name, "config") == 0 || strcmp(name, "print-config") == 0 ||
            strcmp(name, "help") == 0 || n == MAX_OPTS) {
            free(name);
            continue;
        }
        names[n++] = name;
    }
    free(text);
    return n;
}

static void free_names(char *names[], size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
}

static void test_usage_mentions_every_setting(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    hs_config_usage(f, "hearthd");
    fclose(f);
    assert_non_null(strstr(text, "hearthd"));
    for (size_t i = 0; i < sizeof(setting_names) / sizeof(setting_names[0]); i++) {
        char opt[64];
        snprintf(opt, sizeof(opt), "--%s ", setting_names[i]);
        if (!strstr(text, opt))
            fail_msg("--help does not mention %s", opt);
    }
    assert_non_null(strstr(text, "--config"));
    assert_non_null(strstr(text, "--print-config"));
    assert_non_null(strstr(text, "--help"));
    free(text);

    /* Every option --help lists is a setting hs_config_set knows. */
    char *names[MAX_OPTS];
    size_t n = usage_settings(names);
    assert_true(n >= sizeof(setting_names) / sizeof(setting_names[0]));
    for (size_t i = 0; i < n; i++) {
        hs_config cfg;
        hs_error err;
        hs_config_init(&cfg);
        /* An unknown name says "unknown"; a known one at most rejects this value. */
        hs_error_clear(&err);
        hs_config_set(&cfg, names[i], "", &err);
        if (strstr(err.msg, "unknown"))
            fail_msg("--help lists --%s, which hs_config_set does not know", names[i]);
        hs_config_release(&cfg);
    }
    free_names(names, n);
}

static void test_sample_mentions_every_setting(void **state)
{
    (void)state;
    size_t len;
    char *text = capture_sample(&len);
    assert_true(len > 0);
    char *names[MAX_OPTS];
    size_t n = usage_settings(names);
    for (size_t i = 0; i < n; i++) {
        char key[96];
        snprintf(key, sizeof(key), "\n# %s = ", names[i]);
        if (!strstr(text, key))
            fail_msg("the sample does not show %s", names[i]);
    }
    free_names(names, n);
    for (size_t i = 0; i < sizeof(setting_names) / sizeof(setting_names[0]); i++) {
        char key[96];
        snprintf(key, sizeof(key), "\n# %s = ", setting_names[i]);
        if (!strstr(text, key))
            fail_msg("the sample does not show %s", setting_names[i]);
    }
    /* Each setting is shown at its default. */
    assert_non_null(strstr(text, "# listen = 127.0.0.1:8080\n"));
    assert_non_null(strstr(text, "# data-dir = ./data\n"));
    assert_non_null(strstr(text, "# argon2-mem-kib = 65536\n"));
    assert_non_null(strstr(text, "# message-max-chars = 2000\n"));
    assert_non_null(strstr(text, "# gateway-heartbeat-ms = 41250\n"));
    free(text);
}

/* For every integer setting of the sample ("# help (MIN-MAX)" then "# name = DEFAULT"),
 * sets a valid value other than its default. */
static void set_sample_ints_non_default(hs_config *cfg, const char *sample)
{
    const char *p = sample;
    while ((p = strstr(p, ")\n# ")) != NULL) {
        const char *open = p;
        while (open > sample && *open != '(')
            open--;
        long min, max;
        char name[64], def[64];
        if (sscanf(open, "(%ld-%ld)\n# %63s = %63s", &min, &max, name, def) == 4) {
            long d = strtol(def, NULL, 10);
            char value[32];
            snprintf(value, sizeof(value), "%ld", d == min ? max : min);
            hs_error err;
            if (hs_config_set(cfg, name, value, &err) != 0)
                fail_msg("%s = %s: %s", name, value, err.msg);
        }
        p += 3;
    }
}

static void test_sample_reads_back_as_defaults(void **state)
{
    struct fx *fx = *state;
    size_t len;
    char *text = capture_sample(&len);
    char path[256];
    hs_error err;

    /* As written (every setting commented out): a valid file that changes nothing. */
    write_file(fx, "sample.conf", text, path, sizeof(path));
    int rc = hs_config_load_file(&fx->cfg, path, &err);
    if (rc != 0)
        fail_msg("%s", err.msg);
    assert_defaults(&fx->cfg);

    /* With every "# NAME = VALUE" line of a setting uncommented, it sets every setting to
     * its default: read into a config whose settings all differ, it gives the defaults. */
    char *names[MAX_OPTS];
    size_t n = usage_settings(names);
    char *out = malloc(len + 1);
    assert_non_null(out);
    size_t o = 0, uncommented = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t k = nl ? (size_t)(nl - line) + 1 : strlen(line);
        int strip = 0;
        for (size_t i = 0; i < n; i++) {
            size_t nk = strlen(names[i]);
            if (strncmp(line, "# ", 2) == 0 && strncmp(line + 2, names[i], nk) == 0 &&
                strncmp(line + 2 + nk, " = ", 3) == 0)
                strip = 1;
        }
        size_t skip = strip ? 2 : 0;
        memcpy(out + o, line + skip, k - skip);
        o += k - skip;
        uncommented += (size_t)strip;
        line += k;
    }
    out[o] = '\0';
    assert_int_equal(uncommented, n);
    free_names(names, n);
    write_file(fx, "uncommented.conf", out, path, sizeof(path));
    set_all_non_default(&fx->cfg);
    set_sample_ints_non_default(&fx->cfg, text);
    rc = hs_config_load_file(&fx->cfg, path, &err);
    if (rc != 0)
        fail_msg("%s", err.msg);
    assert_defaults(&fx->cfg);
    free(out);
    free(text);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults),
        T(test_set_int),
        T(test_set_int_range),
        T(test_set_not_integer),
        T(test_set_strings),
        T(test_set_unknown),
        T(test_listen_valid),
        T(test_listen_invalid),
        T(test_listen_addr_small_buffer),
        T(test_load_file),
        T(test_load_file_empty),
        T(test_load_file_errors),
        T(test_load_file_missing),
        T(test_load_file_directory),
        T(test_args_none),
        T(test_args_forms),
        T(test_args_precedence),
        T(test_args_missing_value),
        T(test_args_errors),
        T(test_args_help_and_print_config),
        T(test_usage_mentions_every_setting),
        T(test_sample_mentions_every_setting),
        T(test_sample_reads_back_as_defaults),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
