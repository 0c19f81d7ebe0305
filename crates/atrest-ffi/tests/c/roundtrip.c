/* Exercises the C ABI from C: seal, open, tamper, NULL handling, backend names. Exit status 0 means pass. */
#include <stdio.h>
#include <string.h>
#include "atrest.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); return 1; } } while (0)

int main(int argc, char **argv) {
    const char *backend = argc > 1 ? argv[1] : NULL;
    uint8_t key[32], nonce[24], tag[16], buf[1000], orig[1000];
    for (int i = 0; i < 32; i++) key[i] = (uint8_t)i;
    for (int i = 0; i < 24; i++) nonce[i] = (uint8_t)(100 + i);
    for (int i = 0; i < 1000; i++) orig[i] = buf[i] = (uint8_t)(i * 7);
    const uint8_t aad[] = "file 3, page 12";

    atrest_xaes *x = NULL;
    CHECK(atrest_xaes_new(key, backend, &x) == ATREST_OK && x != NULL);
    if (backend) CHECK(strcmp(atrest_xaes_backend(x), backend) == 0);
    CHECK(atrest_xaes_seal(x, nonce, aad, sizeof aad, buf, sizeof buf, tag) == ATREST_OK);
    CHECK(memcmp(buf, orig, sizeof buf) != 0);
    CHECK(atrest_xaes_open(x, nonce, aad, sizeof aad, buf, sizeof buf, tag) == ATREST_OK);
    CHECK(memcmp(buf, orig, sizeof buf) == 0);

    CHECK(atrest_xaes_seal(x, nonce, aad, sizeof aad, buf, sizeof buf, tag) == ATREST_OK);
    buf[500] ^= 1;
    CHECK(atrest_xaes_open(x, nonce, aad, sizeof aad, buf, sizeof buf, tag) == ATREST_ERR_AUTHENTICATION);
    for (int i = 0; i < 1000; i++) CHECK(buf[i] == 0); /* nothing released */

    CHECK(atrest_xaes_seal(x, nonce, NULL, 0, NULL, 0, tag) == ATREST_OK); /* empty message */
    CHECK(atrest_xaes_open(x, nonce, NULL, 0, NULL, 0, tag) == ATREST_OK);
    CHECK(atrest_xaes_seal(NULL, nonce, NULL, 0, NULL, 0, tag) == ATREST_ERR_NULL_POINTER);
    CHECK(atrest_xaes_seal(x, nonce, NULL, 5, buf, 10, tag) == ATREST_ERR_NULL_POINTER);
    atrest_xaes_free(x);
    atrest_xaes_free(NULL);

    atrest_aes256 *g = NULL;
    CHECK(atrest_aes256_new(key, "no-such-backend", &g) == ATREST_ERR_BACKEND && g == NULL);
    CHECK(atrest_aes256_new(key, backend, &g) == ATREST_OK);
    memcpy(buf, orig, sizeof buf);
    CHECK(atrest_aes256_seal(g, nonce, aad, sizeof aad, buf, sizeof buf, tag) == ATREST_OK);
    CHECK(atrest_aes256_open(g, nonce, aad, sizeof aad - 1, buf, sizeof buf, tag) == ATREST_ERR_AUTHENTICATION);
    CHECK(strcmp(atrest_status_message(ATREST_ERR_AUTHENTICATION), "authentication failed") == 0);
    atrest_aes256_free(g);
    printf("ok %s\n", backend ? backend : "(default)");
    return 0;
}
