/*
 * hs_config.h: hearthd's configuration, driven by one table.
 *
 * Every setting is a row of the table in hs_config.c: its name (the config-file key and
 * the long option --NAME), type, default, allowed range and help text. Defaults, parsing,
 * validation, --help and the sample configuration all derive from that row, so a new
 * setting is one line. Precedence: defaults < --config FILE < command-line options.
 *
 * A config is built on one thread at start-up and read-only afterwards.
 */
#ifndef HS_CONFIG_H
#define HS_CONFIG_H

#include <stdio.h>

#include "hs_error.h"

typedef struct hs_config {
    char *data_dir;
    char *listen; /* HOST:PORT */
    char *server_name;
    char *log_level;
    int worker_id;
    int process_id;
    int http_threads;
    int max_body_bytes;
    int max_upload_bytes;
    int max_buffered_bytes;
    int max_connections;
    int per_ip_connections;
    int connection_timeout;
    int message_max_chars;
    int commit_max_batch;
    int argon2_ops;
    int argon2_mem_kib;
    int gateway_heartbeat_ms;
    int gateway_resume_seconds;
    int gateway_writers;
    int housekeeping_ms;
    int thread_archive_minute_ms;
    int gateway_writer_min;
    int gateway_sndbuf;
    int gateway_replay_events;
    int gateway_max_queued_bytes;
    /* HTTP rate limits (client-api/capi_ratelimit.c, spec/rest-ratelimits.md). */
    int ratelimit_enabled;
    int ratelimit_global_per_second;
    int ratelimit_ip_per_second;
    int ratelimit_window_ms;
    int ratelimit_messages_per_window;
    int ratelimit_default_per_window;
    int ratelimit_max_buckets;
    char *web_dir; /* "": the default chosen by capi_static.c */
    /* AutoMod (homeserver/hs_automod.c, spec/rest-automod.md). */
    int automod_max_keyword_rules;
} hs_config;

/* Fills every field with its default. Release with hs_config_release. */
void hs_config_init(hs_config *cfg);
void hs_config_release(hs_config *cfg);

/* Sets one setting by name from its text form, validating it. */
int hs_config_set(hs_config *cfg, const char *name, const char *value, hs_error *err);

/*
 * Reads "name = value" lines ('#' starts a comment; blank lines are skipped). Unknown names
 * and bad values are errors that name the file and line.
 */
int hs_config_load_file(hs_config *cfg, const char *path, hs_error *err);

/*
 * Applies argv: "--config FILE" first (wherever it appears), then each "--NAME VALUE" or
 * "--NAME=VALUE" in order. Sets *want_help when --help is present, *want_sample for
 * --print-config. argv[0] is skipped.
 */
int hs_config_parse_args(hs_config *cfg, int argc, char **argv, int *want_help, int *want_sample,
                         hs_error *err);

/* Splits cfg->listen into host (borrowed into buf) and port. */
int hs_config_listen_addr(const hs_config *cfg, char *host, size_t hostlen, int *port,
                          hs_error *err);

void hs_config_usage(FILE *out, const char *prog);
/* Writes a sample configuration file with every setting at its default, commented. */
void hs_config_write_sample(FILE *out);

#endif
