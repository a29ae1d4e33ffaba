#include "fed_keys.h"
#include "hs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fed_keys_load(const char *data_dir, struct fed_keypair *out, hs_error *err)
{
    char *path = hs_xasprintf("%s/server.key", data_dir);
    unsigned char seed[crypto_sign_SEEDBYTES];
    char hex[2 * crypto_sign_SEEDBYTES + 2];
    struct fed_keypair kp;
    int rc = 0;

    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, hex, sizeof(hex) - 1);
        close(fd);
        size_t len = 0;
        if (n < 2 * crypto_sign_SEEDBYTES ||
            sodium_hex2bin(seed, sizeof(seed), hex, (size_t)n, "\n", &len, NULL) != 0 ||
            len != sizeof(seed)) {
            rc = hs_error_set(err, HS_EINVAL, "'%s' does not hold a hex ed25519 seed", path);
            goto out;
        }
    } else if (errno == ENOENT) {
        randombytes_buf(seed, sizeof(seed));
        sodium_bin2hex(hex, sizeof(hex), seed, sizeof(seed));
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0 || write(fd, hex, strlen(hex)) != (ssize_t)strlen(hex) || fsync(fd) < 0) {
            rc = hs_error_set(err, HS_EIO, "cannot write '%s': %s", path, strerror(errno));
            if (fd >= 0)
                close(fd);
            goto out;
        }
        close(fd);
    } else {
        rc = hs_error_set(err, HS_EIO, "cannot read '%s': %s", path, strerror(errno));
        goto out;
    }
    crypto_sign_seed_keypair(kp.pk, kp.sk, seed);
    if (out)
        *out = kp;
out:
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(hex, sizeof(hex));
    sodium_memzero(&kp, sizeof(kp));
    free(path);
    return rc;
}
