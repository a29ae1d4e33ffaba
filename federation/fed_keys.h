/*
 * fed_keys.h: this homeserver's ed25519 signing key (spec/federation.md, to come).
 *
 * The key pair lives in DATA_DIR/server.key (mode 0600): 32 bytes of seed, hex-encoded.
 * It is made on first start and never changes unless an operator rotates it. Federation
 * signs its requests and events with it; peers fetch the public half.
 */
#ifndef FED_KEYS_H
#define FED_KEYS_H

#include <sodium.h>

#include "hs_error.h"

struct fed_keypair {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
};

/* Loads DATA_DIR/server.key, creating it when absent. out may be NULL (just ensure it). */
int fed_keys_load(const char *data_dir, struct fed_keypair *out, hs_error *err);

#endif
