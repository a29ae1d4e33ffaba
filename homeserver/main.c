/*
 * hearthd: the composition root. Reads the configuration, opens the core, starts the
 * client API, and waits for SIGTERM or SIGINT; then stops accepting, lets writes in
 * flight commit and answer, and closes the database.
 */
#include "capi.h"
#include "fed_keys.h"
#include "hs_config.h"
#include "hs_core.h"
#include "hs_log.h"
#include "voice.h"

#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    hs_config cfg;
    hs_error err;
    hs_core *core = NULL;
    capi_server *api = NULL;
    int want_help, want_sample, status = 1;

    hs_config_init(&cfg);
    if (hs_config_parse_args(&cfg, argc, argv, &want_help, &want_sample, &err) < 0) {
        fprintf(stderr, "hearthd: %s\n", err.msg);
        hs_config_release(&cfg);
        return 2;
    }
    if (want_help || want_sample) {
        if (want_help)
            hs_config_usage(stdout, argv[0]);
        else
            hs_config_write_sample(stdout);
        hs_config_release(&cfg);
        return 0;
    }
    hs_log_level = hs_log_parse_level(cfg.log_level);
    if (sodium_init() < 0) {
        fprintf(stderr, "hearthd: libsodium failed to initialise\n");
        goto out;
    }

    /* Block the signals in every thread; the main thread waits for them below. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (hs_core_open(&core, &cfg, &err) < 0) {
        hs_log(HS_LOG_ERROR, "main", "%s", err.msg);
        goto out;
    }
    hs_core_start_housekeeping(core);
    if (fed_keys_load(hs_core_config(core)->data_dir, NULL, &err) < 0) {
        hs_log(HS_LOG_ERROR, "main", "%s", err.msg);
        goto out;
    }
    if (capi_server_new(&api, core, &err) < 0) {
        hs_log(HS_LOG_ERROR, "main", "%s", err.msg);
        goto out;
    }
    hs_log(HS_LOG_INFO, "main", "hearthd %s serving http://%s (server name %s, data in %s)",
           voice_version(), cfg.listen, cfg.server_name, cfg.data_dir);

    /* SIGUSR1 asks every gateway client to reconnect and resume (before a restart, or to
     * test resumption); SIGTERM and SIGINT stop the server. */
    int sig = 0;
    while (sigwait(&stop, &sig) == 0 && sig == SIGUSR1) {
        hs_log(HS_LOG_INFO, "main", "SIGUSR1: closing gateway connections for resume");
        capi_server_reconnect_all(api);
    }
    hs_log(HS_LOG_INFO, "main", "%s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    status = 0;
out:
    capi_server_free(api);
    hs_core_close(core);
    hs_config_release(&cfg);
    return status;
}
