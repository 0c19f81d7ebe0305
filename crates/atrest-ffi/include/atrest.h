/*
 * atrest C ABI: the crypto layer of a storage engine.
 *
 *   - Sealed pages: a sealer with writer epochs (nonces assigned for you), an opener that finds keys through your
 *     callback or a keyring, single pages and batches sealed or opened across threads.
 *   - The keyring: data keys wrapped under a master key in a local key file; active key, rotation, key by id.
 *   - Raw AEADs: XAES-256-GCM, AES-256-GCM and AES-128-GCM over buffers, for engines that manage nonces.
 *
 * Every function returns an atrest_status (a page error has a status of its own). Authentication failure is one
 * opaque status (ATREST_ERR_AUTHENTICATION) and the buffer has been zeroed when it is returned. Keys are zeroized
 * when freed. Handles may be shared between threads. atrest_last_error() adds words to keyring and argument errors.
 *
 * Link: pkg-config --cflags --libs atrest (static: pkg-config --static ...), i.e. -latrest_ffi -lpthread -ldl -lm.
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
    ATREST_ERR_INVALID_UTF8 = 5,     /* a string argument is not UTF-8 */
    ATREST_ERR_PAGE_TRUNCATED = 6,          /* the page buffer is shorter than a header */
    ATREST_ERR_PAGE_BAD_MAGIC = 7,          /* not a sealed page */
    ATREST_ERR_PAGE_UNSUPPORTED_VERSION = 8, /* a page format version this library cannot read */
    ATREST_ERR_PAGE_UNKNOWN_ALGORITHM = 9,  /* the header names an unknown AEAD */
    ATREST_ERR_PAGE_UNKNOWN_KIND = 10,      /* unknown page kind (in the header, or given to seal) */
    ATREST_ERR_PAGE_UNSUPPORTED_SIZE = 11,  /* the header's size code is not 12..16 */
    ATREST_ERR_PAGE_INVALID_SIZE = 12,      /* page_len is not a power of two from 4096 to 65536 */
    ATREST_ERR_PAGE_BAD_SIZE = 13,          /* page_len is not the size the header declares */
    ATREST_ERR_PAGE_BAD_BODY_SIZE = 14,     /* body_len is not ATREST_PAGE_CAPACITY(page_len) */
    ATREST_ERR_UNKNOWN_KEY = 15,            /* no key has this id */
    ATREST_ERR_KEY_DESTROYED = 16,          /* the key was destroyed: the page is unreadable for good */
    ATREST_ERR_KEY_UNAVAILABLE = 17,        /* the key service cannot be reached now; retrying may succeed */
    ATREST_ERR_RANDOM = 18,                 /* the OS random number generator failed */
    ATREST_ERR_KEYRING = 19,                /* keyring or key-file error: see atrest_last_error() */
    ATREST_ERR_INVALID_ARGUMENT = 20        /* an argument out of range: see atrest_last_error() */
} atrest_status;

typedef struct atrest_xaes atrest_xaes;     /* XAES-256-GCM key: 32-byte key, 24-byte nonces */
typedef struct atrest_aes256 atrest_aes256; /* AES-256-GCM key: 32-byte key, 12-byte nonces */
typedef struct atrest_aes128 atrest_aes128; /* AES-128-GCM key: 16-byte key, 12-byte nonces */

/* A static, NUL-terminated description of a status. */
const char *atrest_status_message(atrest_status status);

/* The message of the last failed call on this thread that recorded one (keyring, key file, argument and page
 * errors), or "". Valid until the next atrest call on this thread. */
const char *atrest_last_error(void);

/* Builds a key. backend: NULL for the default (ATREST_BACKEND, else the best for this CPU), or a name such as
 * "vaes-avx512", "vaes-avx2", "aesni", "armv8", "soft". On success *out receives a handle to free with the matching _free. */
atrest_status atrest_xaes_new(const uint8_t key[32], const char *backend, atrest_xaes **out);
atrest_status atrest_aes256_new(const uint8_t key[32], const char *backend, atrest_aes256 **out);
atrest_status atrest_aes128_new(const uint8_t key[16], const char *backend, atrest_aes128 **out);
void atrest_xaes_free(atrest_xaes *key);
void atrest_aes256_free(atrest_aes256 *key);
void atrest_aes128_free(atrest_aes128 *key);

/* The name of the backend a key runs on (static, NUL-terminated). */
const char *atrest_xaes_backend(const atrest_xaes *key);
const char *atrest_aes256_backend(const atrest_aes256 *key);
const char *atrest_aes128_backend(const atrest_aes128 *key);

/* Encrypts buf[0..len] in place and writes the 16-byte tag. aad may be NULL when aad_len is 0; buf may be NULL
 * when len is 0. */
atrest_status atrest_xaes_seal(const atrest_xaes *key, const uint8_t nonce[24], const uint8_t *aad, size_t aad_len,
                               uint8_t *buf, size_t len, uint8_t tag[16]);
atrest_status atrest_aes256_seal(const atrest_aes256 *key, const uint8_t nonce[12], const uint8_t *aad,
                                 size_t aad_len, uint8_t *buf, size_t len, uint8_t tag[16]);
atrest_status atrest_aes128_seal(const atrest_aes128 *key, const uint8_t nonce[12], const uint8_t *aad,
                                 size_t aad_len, uint8_t *buf, size_t len, uint8_t tag[16]);

/* Decrypts buf[0..len] in place if tag verifies; otherwise zeroes buf and returns ATREST_ERR_AUTHENTICATION. */
atrest_status atrest_xaes_open(const atrest_xaes *key, const uint8_t nonce[24], const uint8_t *aad, size_t aad_len,
                               uint8_t *buf, size_t len, const uint8_t tag[16]);
atrest_status atrest_aes256_open(const atrest_aes256 *key, const uint8_t nonce[12], const uint8_t *aad,
                                 size_t aad_len, uint8_t *buf, size_t len, const uint8_t tag[16]);
atrest_status atrest_aes128_open(const atrest_aes128 *key, const uint8_t nonce[12], const uint8_t *aad,
                                 size_t aad_len, uint8_t *buf, size_t len, const uint8_t tag[16]);

/* ---- Sealed pages ----------------------------------------------------------------------------------------
 *
 * A sealed page is ATREST_PAGE_HEADER_LEN bytes of header (magic, version, algorithm, kind, size, key id, nonce),
 * then the body (ciphertext of ATREST_PAGE_CAPACITY(size) bytes), then a 16-byte tag; its size is a power of two
 * from 4 KiB to 64 KiB. The header and the page's context (file id, page number, extra bytes) are authenticated,
 * so a page copied to another file or page number, or opened with other extra bytes, fails to open.
 * The body of an opened page lies at page + ATREST_PAGE_HEADER_LEN. Format: docs/design.md. */
#define ATREST_PAGE_HEADER_LEN 36
#define ATREST_PAGE_TAG_LEN 16
#define ATREST_PAGE_OVERHEAD 52 /* header + tag */
#define ATREST_PAGE_SIZE_MIN 4096
#define ATREST_PAGE_SIZE_MAX 65536
#define ATREST_PAGE_CAPACITY(page_size) ((size_t)(page_size) - ATREST_PAGE_OVERHEAD)

typedef enum atrest_page_kind {
    ATREST_PAGE_DATA = 1,
    ATREST_PAGE_INDEX = 2,
    ATREST_PAGE_CATALOG = 3,
    ATREST_PAGE_MANIFEST = 4,
    ATREST_PAGE_ATTACHMENT = 5
} atrest_page_kind;

/* Where a page lives. extra may be NULL when extra_len is 0; what to put there is the engine's choice (e.g. a
 * write generation against replay of a stale page: see docs/design.md). */
typedef struct atrest_page_ctx {
    uint64_t file_id;
    uint64_t page_no;
    const uint8_t *extra;
    size_t extra_len;
} atrest_page_ctx;

typedef struct atrest_sealer atrest_sealer; /* seals pages under one data key; one per writer; thread-safe */
typedef struct atrest_opener atrest_opener; /* opens pages, finding keys by id; thread-safe */

/* A sealer for a 32-byte data key, which openers know as key_id. It draws a random nonce prefix per writer epoch
 * and counts pages under it (a new epoch every 2^32 pages), so nonces never repeat and each page costs one
 * AES-256-GCM pass. backend as for atrest_xaes_new. Free with atrest_sealer_free. */
atrest_status atrest_sealer_new(const uint8_t key[32], uint32_t key_id, const char *backend, atrest_sealer **out);
void atrest_sealer_free(atrest_sealer *sealer);
uint32_t atrest_sealer_key_id(const atrest_sealer *sealer); /* 0 for NULL */

/* Seals one page of page_len bytes. With body non-NULL, body_len must be ATREST_PAGE_CAPACITY(page_len) and the
 * body (which must not overlap page) is copied in; with body NULL the body already at page + HEADER_LEN is sealed
 * in place. kind is an atrest_page_kind. page is left untouched on error. */
atrest_status atrest_seal_page(const atrest_sealer *sealer, uint8_t kind, const atrest_page_ctx *ctx,
                               const uint8_t *body, size_t body_len, uint8_t *page, size_t page_len);

/* One page of a batch, sealed in place (its body at page + HEADER_LEN). Pages of a batch must not overlap. */
typedef struct atrest_seal_job {
    uint8_t kind;
    atrest_page_ctx ctx;
    uint8_t *page;
    size_t page_len;
} atrest_seal_job;

/* Seals n pages across threads (nonces are assigned first, on the calling thread). Every job is checked before
 * anything is sealed: on error no page was changed and *failed_index (if not NULL) names the bad job. */
atrest_status atrest_seal_batch(const atrest_sealer *sealer, atrest_seal_job *jobs, size_t n, size_t *failed_index);

/* Your key lookup: write the 32-byte key of key_id to key_out and return ATREST_OK, or return
 * ATREST_ERR_UNKNOWN_KEY, ATREST_ERR_KEY_DESTROYED or ATREST_ERR_KEY_UNAVAILABLE. It is called on each open (so a
 * key you withdraw stops opening pages at once), from the threads that call atrest_open_page/atrest_open_batch,
 * possibly at the same time: it must be thread-safe. */
typedef atrest_status (*atrest_key_lookup_fn)(void *ctx, uint32_t key_id, uint8_t key_out[32]);

/* An opener that finds keys through lookup(ctx, ...). Derived per-epoch subkeys are cached. */
atrest_status atrest_opener_new(atrest_key_lookup_fn lookup, void *ctx, const char *backend, atrest_opener **out);
void atrest_opener_free(atrest_opener *opener);

typedef struct atrest_opened {
    uint8_t kind;    /* atrest_page_kind */
    uint32_t key_id; /* the key the page was sealed under */
    size_t body_len; /* ATREST_PAGE_CAPACITY(page_len); the body is at page + ATREST_PAGE_HEADER_LEN */
} atrest_opened;

/* Opens one page in place: decrypts the body if the page is authentic for ctx. On ATREST_ERR_AUTHENTICATION
 * the body has been zeroed; on any other error nothing was decrypted. out may be NULL. */
atrest_status atrest_open_page(const atrest_opener *opener, const atrest_page_ctx *ctx, uint8_t *page,
                               size_t page_len, atrest_opened *out);

/* One page of an open batch; status, kind and key_id are written back. */
typedef struct atrest_open_job {
    atrest_page_ctx ctx;
    uint8_t *page;
    size_t page_len;
    atrest_status status;
    uint8_t kind;
    uint32_t key_id;
} atrest_open_job;

/* Opens n pages across threads, each on its own: every job gets its status. Returns ATREST_OK when all opened,
 * else the status of the first job that did not. Pages of a batch must not overlap. */
atrest_status atrest_open_batch(const atrest_opener *opener, atrest_open_job *jobs, size_t n);

/* ---- Keyring ---------------------------------------------------------------------------------------------
 *
 * A data directory's keyring: data keys wrapped under a master key held in a local key file, which must lie
 * outside the data directory with mode 0600 in a directory not writable by others. Scopes are named by the engine
 * (1 to 48 printable ASCII bytes, stored in the clear); a NULL scope is the keyring's store-wide scope. */
typedef struct atrest_keyring atrest_keyring;

/* Opens the keyring of data_dir with the master key in key_file. With create non-zero, creates what is missing
 * (the directory, the key file with a fresh master key, an empty keyring). Free with atrest_keyring_free. */
atrest_status atrest_keyring_open_local(const char *data_dir, const char *key_file, int create,
                                        atrest_keyring **out);
void atrest_keyring_free(atrest_keyring *keyring); /* sealers and openers made from it stay valid */

/* The active key of scope (made and persisted first if it has none): its id and bytes. */
atrest_status atrest_keyring_active_key(const atrest_keyring *keyring, const char *scope, uint32_t *id_out,
                                        uint8_t key_out[32]);
/* The bytes of key id (active or decrypt-only): ATREST_ERR_UNKNOWN_KEY, ATREST_ERR_KEY_DESTROYED otherwise. */
atrest_status atrest_keyring_key(const atrest_keyring *keyring, uint32_t id, uint8_t key_out[32]);
/* A new active key for scope; the old one stays readable (decrypt-only). id_out may be NULL. */
atrest_status atrest_keyring_rotate(const atrest_keyring *keyring, const char *scope, uint32_t *id_out);
/* The sealer of scope's active key, whose key id is that key's. After a rotation ask again. */
atrest_status atrest_keyring_sealer(const atrest_keyring *keyring, const char *scope, atrest_sealer **out);
/* An opener whose key lookup is the keyring (destroyed keys stop opening at once). */
atrest_status atrest_keyring_opener(const atrest_keyring *keyring, atrest_opener **out);

#ifdef __cplusplus
}
#endif
#endif /* ATREST_H */
