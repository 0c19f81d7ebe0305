/* Exercises the page layer and the keyring of the C ABI from C: sealers with writer epochs, openers with a
 * key-lookup callback, one status per page error, batches across threads, AES-128-GCM, and a keyring with a
 * local key file (active key, rotation, key by id, keyring sealers and openers).
 * Usage: pages <scratch dir> [backend]. Exit status 0 means pass. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "atrest.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "FAIL %s:%d: %s (%s)\n", __FILE__, __LINE__, #cond, \
    atrest_last_error()); exit(1); } } while (0)

#define PAGE 4096
#define THREADS 4
#define PER_THREAD 64

static const uint8_t KEY7[32] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
                                 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};

/* The callback's context: which key ids exist and in what state. */
typedef struct lookup_state {
    pthread_mutex_t lock;
    int calls;
    atrest_status key7; /* ATREST_OK, or the error to report for key 7 */
} lookup_state;

static atrest_status lookup(void *ctx, uint32_t key_id, uint8_t key_out[32]) {
    lookup_state *st = ctx;
    pthread_mutex_lock(&st->lock);
    st->calls++;
    atrest_status s = st->key7;
    pthread_mutex_unlock(&st->lock);
    if (key_id != 7) return ATREST_ERR_UNKNOWN_KEY;
    if (s == ATREST_OK) memcpy(key_out, KEY7, 32);
    return s;
}

static void fill(uint8_t *body, size_t len, uint64_t seed) {
    for (size_t i = 0; i < len; i++) body[i] = (uint8_t)(seed * 31 + i);
}

typedef struct worker {
    const atrest_sealer *sealer;
    int index;
    uint8_t *pages; /* PER_THREAD pages */
} worker;

/* Each thread seals its own pages with the shared sealer, half one by one and half as a batch. */
static void *seal_worker(void *arg) {
    worker *w = arg;
    atrest_seal_job jobs[PER_THREAD / 2];
    for (int i = 0; i < PER_THREAD; i++) {
        uint64_t page_no = (uint64_t)(w->index * PER_THREAD + i);
        uint8_t *page = w->pages + (size_t)i * PAGE;
        fill(page + ATREST_PAGE_HEADER_LEN, ATREST_PAGE_CAPACITY(PAGE), page_no);
        atrest_page_ctx ctx = {1, page_no, NULL, 0};
        if (i < PER_THREAD / 2) {
            if (atrest_seal_page(w->sealer, ATREST_PAGE_DATA, &ctx, NULL, 0, page, PAGE) != ATREST_OK) return w;
        } else {
            atrest_seal_job job = {ATREST_PAGE_DATA, ctx, page, PAGE};
            jobs[i - PER_THREAD / 2] = job;
        }
    }
    if (atrest_seal_batch(w->sealer, jobs, PER_THREAD / 2, NULL) != ATREST_OK) return w;
    return NULL;
}

static void pages_with_a_callback(const char *backend) {
    lookup_state st = {PTHREAD_MUTEX_INITIALIZER, 0, ATREST_OK};
    atrest_sealer *sealer = NULL;
    CHECK(atrest_sealer_new(KEY7, 7, backend, &sealer) == ATREST_OK);
    CHECK(atrest_sealer_key_id(sealer) == 7 && atrest_sealer_key_id(NULL) == 0);
    atrest_opener *opener = NULL;
    CHECK(atrest_opener_new(lookup, &st, backend, &opener) == ATREST_OK);

    /* One page, body copied in, bound to file 3 page 9 and a write generation. */
    static uint8_t body[ATREST_PAGE_CAPACITY(PAGE)], page[PAGE], copy[PAGE];
    fill(body, sizeof body, 1);
    const uint8_t gen[8] = {0, 0, 0, 0, 0, 0, 0, 42};
    atrest_page_ctx ctx = {3, 9, gen, sizeof gen};
    CHECK(atrest_seal_page(sealer, ATREST_PAGE_INDEX, &ctx, body, sizeof body, page, PAGE) == ATREST_OK);
    CHECK(memcmp(page + ATREST_PAGE_HEADER_LEN, body, 64) != 0);
    memcpy(copy, page, PAGE);
    atrest_opened opened;
    CHECK(atrest_open_page(opener, &ctx, page, PAGE, &opened) == ATREST_OK);
    CHECK(opened.kind == ATREST_PAGE_INDEX && opened.key_id == 7 && opened.body_len == sizeof body);
    CHECK(memcmp(page + ATREST_PAGE_HEADER_LEN, body, sizeof body) == 0);

    /* Another place, another generation, a flipped byte: authentication fails and the body is zeroed. */
    atrest_page_ctx moved = {3, 10, gen, sizeof gen}, stale = {3, 9, gen, 7};
    memcpy(page, copy, PAGE);
    CHECK(atrest_open_page(opener, &moved, page, PAGE, NULL) == ATREST_ERR_AUTHENTICATION);
    for (size_t i = 0; i < sizeof body; i++) CHECK(page[ATREST_PAGE_HEADER_LEN + i] == 0);
    memcpy(page, copy, PAGE);
    CHECK(atrest_open_page(opener, &stale, page, PAGE, NULL) == ATREST_ERR_AUTHENTICATION);
    memcpy(page, copy, PAGE);
    page[2000] ^= 0x20;
    CHECK(atrest_open_page(opener, &ctx, page, PAGE, NULL) == ATREST_ERR_AUTHENTICATION);

    /* One status per page error. */
    memcpy(page, copy, PAGE);
    page[0] = 'X';
    CHECK(atrest_open_page(opener, &ctx, page, PAGE, NULL) == ATREST_ERR_PAGE_BAD_MAGIC);
    memcpy(page, copy, PAGE);
    page[4] = 99;
    CHECK(atrest_open_page(opener, &ctx, page, PAGE, NULL) == ATREST_ERR_PAGE_UNSUPPORTED_VERSION);
    memcpy(page, copy, PAGE);
    page[5] = 99;
    CHECK(atrest_open_page(opener, &ctx, page, PAGE, NULL) == ATREST_ERR_PAGE_UNKNOWN_ALGORITHM);
    memcpy(page, copy, PAGE);
    page[6] = 99;
    CHECK(atrest_open_page(opener, &ctx, page, PAGE, NULL) == ATREST_ERR_PAGE_UNKNOWN_KIND);
    memcpy(page, copy, PAGE);
    page[7] = 20;
    CHECK(atrest_open_page(opener, &ctx, page, PAGE, NULL) == ATREST_ERR_PAGE_UNSUPPORTED_SIZE);
    memcpy(page, copy, PAGE);
    CHECK(atrest_open_page(opener, &ctx, page, 20, NULL) == ATREST_ERR_PAGE_TRUNCATED);
    CHECK(atrest_open_page(opener, &ctx, page, PAGE - 1, NULL) == ATREST_ERR_PAGE_BAD_SIZE);
    CHECK(atrest_seal_page(sealer, ATREST_PAGE_DATA, &ctx, NULL, 0, page, 5000) == ATREST_ERR_PAGE_INVALID_SIZE);
    CHECK(atrest_seal_page(sealer, ATREST_PAGE_DATA, &ctx, body, 10, page, PAGE) == ATREST_ERR_PAGE_BAD_BODY_SIZE);
    CHECK(atrest_seal_page(sealer, 0, &ctx, NULL, 0, page, PAGE) == ATREST_ERR_PAGE_UNKNOWN_KIND);
    page[8] = 8; /* key id 8 */
    CHECK(atrest_open_page(opener, &ctx, page, PAGE, NULL) == ATREST_ERR_UNKNOWN_KEY);
    memcpy(page, copy, PAGE);
    st.key7 = ATREST_ERR_KEY_UNAVAILABLE;
    CHECK(atrest_open_page(opener, &ctx, page, PAGE, NULL) == ATREST_ERR_KEY_UNAVAILABLE);
    st.key7 = ATREST_ERR_KEY_DESTROYED;
    CHECK(atrest_open_page(opener, &ctx, page, PAGE, NULL) == ATREST_ERR_KEY_DESTROYED);
    for (size_t i = 0; i < 64; i++) CHECK(page[ATREST_PAGE_HEADER_LEN + i] == copy[ATREST_PAGE_HEADER_LEN + i]);
    st.key7 = ATREST_OK;
    CHECK(atrest_open_page(opener, &ctx, page, PAGE, NULL) == ATREST_OK);
    CHECK(atrest_open_page(NULL, &ctx, page, PAGE, NULL) == ATREST_ERR_NULL_POINTER);
    CHECK(atrest_seal_page(sealer, ATREST_PAGE_DATA, NULL, NULL, 0, page, PAGE) == ATREST_ERR_NULL_POINTER);

    /* Several threads share one sealer; every page then opens in one batch, and nonces never repeat. */
    uint8_t *all = malloc((size_t)THREADS * PER_THREAD * PAGE);
    CHECK(all != NULL);
    pthread_t threads[THREADS];
    worker workers[THREADS];
    for (int t = 0; t < THREADS; t++) {
        worker w = {sealer, t, all + (size_t)t * PER_THREAD * PAGE};
        workers[t] = w;
        CHECK(pthread_create(&threads[t], NULL, seal_worker, &workers[t]) == 0);
    }
    for (int t = 0; t < THREADS; t++) {
        void *failed = NULL;
        CHECK(pthread_join(threads[t], &failed) == 0 && failed == NULL);
    }
    const size_t n = THREADS * PER_THREAD;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) CHECK(memcmp(all + i * PAGE + 12, all + j * PAGE + 12, 24) != 0);
    atrest_open_job *jobs = calloc(n, sizeof *jobs);
    CHECK(jobs != NULL);
    for (size_t i = 0; i < n; i++) {
        atrest_page_ctx c = {1, i, NULL, 0};
        jobs[i].ctx = c;
        jobs[i].page = all + i * PAGE;
        jobs[i].page_len = PAGE;
    }
    jobs[5].ctx.page_no = 999;             /* moved: fails alone */
    all[17 * PAGE + 3000] ^= 1;             /* altered: fails alone */
    jobs[40].page_len = 100;                /* bad length: fails alone */
    CHECK(atrest_open_batch(opener, jobs, n) == ATREST_ERR_AUTHENTICATION);
    static uint8_t expect[ATREST_PAGE_CAPACITY(PAGE)];
    for (size_t i = 0; i < n; i++) {
        if (i == 5 || i == 17) { CHECK(jobs[i].status == ATREST_ERR_AUTHENTICATION); continue; }
        if (i == 40) { CHECK(jobs[i].status == ATREST_ERR_PAGE_BAD_SIZE); continue; }
        CHECK(jobs[i].status == ATREST_OK && jobs[i].key_id == 7 && jobs[i].kind == ATREST_PAGE_DATA);
        fill(expect, sizeof expect, i);
        CHECK(memcmp(all + i * PAGE + ATREST_PAGE_HEADER_LEN, expect, sizeof expect) == 0);
    }
    /* A bad job stops a seal batch before anything is sealed. */
    atrest_seal_job bad[2] = {{ATREST_PAGE_DATA, {1, 0, NULL, 0}, all, PAGE}, {ATREST_PAGE_DATA, {1, 1, NULL, 0}, all, 1000}};
    size_t failed = 99;
    memcpy(copy, all, PAGE);
    CHECK(atrest_seal_batch(sealer, bad, 2, &failed) == ATREST_ERR_PAGE_INVALID_SIZE && failed == 1);
    CHECK(memcmp(copy, all, PAGE) == 0);
    CHECK(atrest_open_batch(opener, NULL, 0) == ATREST_OK);
    free(jobs);
    free(all);
    atrest_opener_free(opener);
    atrest_sealer_free(sealer);
    atrest_opener_free(NULL);
    atrest_sealer_free(NULL);
}

/* AES-128-GCM, test case 2 of McGrew and Viega, "The Galois/Counter Mode of Operation (GCM)": zero key, zero IV,
 * one zero block. */
static void aes128(const char *backend) {
    const uint8_t key[16] = {0}, iv[12] = {0};
    const uint8_t ct[16] = {0x03, 0x88, 0xda, 0xce, 0x60, 0xb6, 0xa3, 0x92, 0xf3, 0x28, 0xc2, 0xb9, 0x71, 0xb2, 0xfe, 0x78};
    const uint8_t tag[16] = {0xab, 0x6e, 0x47, 0xd4, 0x2c, 0xec, 0x13, 0xbd, 0xf5, 0x3a, 0x67, 0xb2, 0x12, 0x57, 0xbd, 0xdf};
    uint8_t buf[16] = {0}, t[16];
    atrest_aes128 *k = NULL;
    CHECK(atrest_aes128_new(key, backend, &k) == ATREST_OK);
    CHECK(atrest_aes128_seal(k, iv, NULL, 0, buf, 16, t) == ATREST_OK);
    CHECK(memcmp(buf, ct, 16) == 0 && memcmp(t, tag, 16) == 0);
    CHECK(atrest_aes128_open(k, iv, NULL, 0, buf, 16, t) == ATREST_OK);
    for (int i = 0; i < 16; i++) CHECK(buf[i] == 0);
    memcpy(buf, ct, 16);
    t[0] ^= 1;
    CHECK(atrest_aes128_open(k, iv, NULL, 0, buf, 16, t) == ATREST_ERR_AUTHENTICATION);
    if (backend) CHECK(strcmp(atrest_aes128_backend(k), backend) == 0);
    atrest_aes128_free(k);
}

static void keyring(const char *scratch) {
    char data[1024], keys[1024], key_file[1024];
    snprintf(data, sizeof data, "%s/data", scratch);
    snprintf(keys, sizeof keys, "%s/keys", scratch);
    snprintf(key_file, sizeof key_file, "%s/keys/master.key", scratch);
    atrest_keyring *kr = NULL;
    CHECK(atrest_keyring_open_local(data, key_file, 0, &kr) == ATREST_ERR_KEYRING && kr == NULL);
    CHECK(strlen(atrest_last_error()) > 0);
    CHECK(atrest_keyring_open_local(data, key_file, 1, &kr) == ATREST_OK);

    uint32_t id1 = 0, id2 = 0, again = 0;
    uint8_t k1[32], k2[32], k[32];
    CHECK(atrest_keyring_active_key(kr, "sqlite:main", &id1, k1) == ATREST_OK && id1 != 0);
    CHECK(atrest_keyring_active_key(kr, "sqlite:main", &again, k) == ATREST_OK && again == id1);
    CHECK(memcmp(k, k1, 32) == 0);
    CHECK(atrest_keyring_active_key(kr, "has space", &again, k) == ATREST_ERR_INVALID_ARGUMENT);

    atrest_sealer *s1 = NULL;
    CHECK(atrest_keyring_sealer(kr, "sqlite:main", &s1) == ATREST_OK && atrest_sealer_key_id(s1) == id1);
    CHECK(atrest_keyring_rotate(kr, "sqlite:main", &id2) == ATREST_OK && id2 != id1);
    atrest_sealer *s2 = NULL;
    CHECK(atrest_keyring_sealer(kr, "sqlite:main", &s2) == ATREST_OK && atrest_sealer_key_id(s2) == id2);
    CHECK(atrest_keyring_key(kr, id1, k) == ATREST_OK && memcmp(k, k1, 32) == 0);
    CHECK(atrest_keyring_active_key(kr, "sqlite:main", &again, k2) == ATREST_OK && again == id2);
    CHECK(atrest_keyring_key(kr, 12345, k) == ATREST_ERR_UNKNOWN_KEY);

    static uint8_t p1[PAGE], p2[PAGE], body[ATREST_PAGE_CAPACITY(PAGE)];
    fill(body, sizeof body, 77);
    atrest_page_ctx ctx = {1, 1, NULL, 0};
    CHECK(atrest_seal_page(s1, ATREST_PAGE_DATA, &ctx, body, sizeof body, p1, PAGE) == ATREST_OK);
    CHECK(atrest_seal_page(s2, ATREST_PAGE_DATA, &ctx, body, sizeof body, p2, PAGE) == ATREST_OK);
    atrest_sealer_free(s1);
    atrest_sealer_free(s2);
    atrest_keyring_free(kr);

    /* Reopened without create: both keys open their pages through the keyring's opener. */
    CHECK(atrest_keyring_open_local(data, key_file, 0, &kr) == ATREST_OK);
    atrest_opener *o = NULL;
    CHECK(atrest_keyring_opener(kr, &o) == ATREST_OK);
    atrest_opened a, b;
    CHECK(atrest_open_page(o, &ctx, p1, PAGE, &a) == ATREST_OK && a.key_id == id1);
    CHECK(atrest_open_page(o, &ctx, p2, PAGE, &b) == ATREST_OK && b.key_id == id2);
    CHECK(memcmp(p1 + ATREST_PAGE_HEADER_LEN, body, sizeof body) == 0);
    CHECK(memcmp(p2 + ATREST_PAGE_HEADER_LEN, body, sizeof body) == 0);
    CHECK(atrest_keyring_key(kr, id2, k) == ATREST_OK && memcmp(k, k2, 32) == 0);
    atrest_opener_free(o);
    atrest_keyring_free(kr);
    atrest_keyring_free(NULL);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <scratch dir> [backend]\n", argv[0]);
        return 2;
    }
    const char *backend = argc > 2 ? argv[2] : NULL;
    CHECK(ATREST_PAGE_OVERHEAD == ATREST_PAGE_HEADER_LEN + ATREST_PAGE_TAG_LEN);
    pages_with_a_callback(backend);
    aes128(backend);
    if (!backend) keyring(argv[1]);
    printf("ok\n");
    return 0;
}
