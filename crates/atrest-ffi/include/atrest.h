/*
 * atrest C ABI: XAES-256-GCM and AES-256-GCM sealing of buffers, with the hardware backend chosen at run time.
 *
 * Every function returns an atrest_status. Authentication failure is one opaque status
 * (ATREST_ERR_AUTHENTICATION) and the buffer has been zeroed when it is returned. Keys are zeroized when freed.
 * Key handles are immutable and may be shared between threads.
 */
#ifndef ATREST_H
#define ATREST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum atrest_status {
    ATREST_OK = 0,
    ATREST_ERR_NULL_POINTER = 1,     /* a required pointer was NULL */
    ATREST_ERR_AUTHENTICATION = 2,   /* the message did not verify; the buffer was zeroed */
    ATREST_ERR_TOO_LONG = 3,         /* message or AAD exceeds GCM's limits */
    ATREST_ERR_BACKEND = 4,          /* unknown backend name, or one this CPU cannot run */
    ATREST_ERR_INVALID_UTF8 = 5      /* the backend name is not UTF-8 */
} atrest_status;

typedef struct atrest_xaes atrest_xaes;     /* XAES-256-GCM key: 32-byte key, 24-byte nonces */
typedef struct atrest_aes256 atrest_aes256; /* AES-256-GCM key: 32-byte key, 12-byte nonces */

/* A static, NUL-terminated description of a status. */
const char *atrest_status_message(atrest_status status);

/* Builds a key. backend: NULL for the default (ATREST_BACKEND, else the best for this CPU), or a name such as
 * "vaes-avx2", "aesni", "armv8", "soft". On success *out receives a handle to free with the matching _free. */
atrest_status atrest_xaes_new(const uint8_t key[32], const char *backend, atrest_xaes **out);
atrest_status atrest_aes256_new(const uint8_t key[32], const char *backend, atrest_aes256 **out);
void atrest_xaes_free(atrest_xaes *key);
void atrest_aes256_free(atrest_aes256 *key);

/* The name of the backend a key runs on (static, NUL-terminated). */
const char *atrest_xaes_backend(const atrest_xaes *key);
const char *atrest_aes256_backend(const atrest_aes256 *key);

/* Encrypts buf[0..len] in place and writes the 16-byte tag. aad may be NULL when aad_len is 0; buf may be NULL
 * when len is 0. */
atrest_status atrest_xaes_seal(const atrest_xaes *key, const uint8_t nonce[24], const uint8_t *aad, size_t aad_len,
                               uint8_t *buf, size_t len, uint8_t tag[16]);
atrest_status atrest_aes256_seal(const atrest_aes256 *key, const uint8_t nonce[12], const uint8_t *aad,
                                 size_t aad_len, uint8_t *buf, size_t len, uint8_t tag[16]);

/* Decrypts buf[0..len] in place if tag verifies; otherwise zeroes buf and returns ATREST_ERR_AUTHENTICATION. */
atrest_status atrest_xaes_open(const atrest_xaes *key, const uint8_t nonce[24], const uint8_t *aad, size_t aad_len,
                               uint8_t *buf, size_t len, const uint8_t tag[16]);
atrest_status atrest_aes256_open(const atrest_aes256 *key, const uint8_t nonce[12], const uint8_t *aad,
                                 size_t aad_len, uint8_t *buf, size_t len, const uint8_t tag[16]);

#ifdef __cplusplus
}
#endif
#endif /* ATREST_H */
