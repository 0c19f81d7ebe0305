/*
 * atrest-sqlite: a SQLite VFS on the atrest C ABI (atrest.h). See atrest_sqlite.h for what it does, and
 * docs/design.md ("SQLite VFS") for the file layout:
 *
 *   main database   [file header 4 KiB, plaintext] [page 1] [page 2] ...   one atrest sealed page per SQLite page
 *   journal, WAL,   [chunk 0] [chunk 1] ...                                 4 KiB sealed pages, each holding a
 *   temporary files                                                         u16 fill count and 4042 stream bytes
 *
 * Every sealed page is bound (as associated data) to: file id = the file's role, page number = the SQLite page
 * number (main database) or chunk number (others), extra = the database's 16-byte id from the file header.
 *
 * Built two ways from this one source: linked into a program (it then calls SQLite directly), or with
 * -DATREST_SQLITE_EXTENSION as a loadable extension for the sqlite3 shell, which registers the VFS as the
 * default from the environment (ATREST_SQLITE_KEYRING, ATREST_SQLITE_KEY_FILE, ATREST_SQLITE_PAGE_SIZE).
 */
#ifdef ATREST_SQLITE_EXTENSION
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1
#else
#include <sqlite3.h>
#endif

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "atrest.h"
#include "atrest_sqlite.h"

/* Length of the main database's plaintext file header. A multiple of 4 KiB keeps pages aligned on disk. */
#define FILE_HEADER_LEN 4096
/* The header starts with this magic and the format version, then the 16-byte database id. */
static const char FILE_MAGIC[16] = "atrest-sqlite\0\0\1";
#define DB_ID_OFFSET 16
#define DB_ID_LEN 16

/* Chunks of journals, the WAL and temporary files. */
#define CHUNK_LEN 4096
#define CHUNK_DATA (CHUNK_LEN - ATREST_PAGE_OVERHEAD - 2)

/* What a file is; its role is its page context's file id, so a chunk of one kind of file is no page of another. */
enum role { ROLE_MAIN = 1, ROLE_JOURNAL = 2, ROLE_WAL = 3, ROLE_TEMP = 4, ROLE_SUPER = 5 };

typedef struct vfs_state {
    sqlite3_vfs base;   /* our vfs; pAppData points back here */
    sqlite3_vfs *real;  /* the VFS underneath (the default one at registration) */
    atrest_keyring *keyring;
    atrest_opener *opener;
    char scope[64];
    int page_size; /* of new databases */
    pthread_mutex_t lock; /* guards sealer, retired, mains */
    atrest_sealer *sealer;
    atrest_sealer **retired; /* sealers replaced by rotation, freed never: pages in flight may still use them */
    size_t n_retired;
    struct afile *mains; /* open main database files, so journals and WALs find their database's id */
} vfs_state;

/* The last chunk of a stream, read once per call: it gives the stream's length (whole chunks before it, and
 * its fill count) and is reused when the call rewrites it. */
typedef struct tail {
    sqlite3_int64 chunks; /* chunks in the file */
    sqlite3_int64 len;    /* the stream's length */
    int used;             /* fill count of the last chunk */
    uint8_t data[CHUNK_DATA];
} tail;

typedef struct afile {
    sqlite3_file base;
    vfs_state *vfs;
    int role;
    uint8_t db_id[DB_ID_LEN];
    const char *name; /* main database files: the name SQLite opened them with */
    struct afile *next_main;
    uint8_t *scratch; /* one sealed page (up to 64 KiB) */
    sqlite3_file *real; /* the file of the real VFS, allocated right after this struct */
    /* Main database files: the locks this connection holds, which tell its journal and WAL when nobody else
     * can write them. `owner_epoch` counts acquisitions of the write locks, so a cache filled under an earlier
     * one is never trusted after the lock was let go. */
    int lock_level;
    int wal_write_locked;
    unsigned long owner_epoch;
    /* Journals and WALs: their database's file (opened before them, closed after them). */
    struct afile *main;
    /* The stream's last chunk as this handle last wrote it, trusted only while the handle's connection holds
     * the lock that keeps other writers out (see stream_owned), under the same owner epoch. */
    int tail_valid;
    unsigned long tail_epoch;
    tail cached;
} afile;

static const sqlite3_io_methods main_methods, stream_methods;

/* ---- sealing ------------------------------------------------------------------------------------------- */

static atrest_sealer *current_sealer(vfs_state *v) {
    pthread_mutex_lock(&v->lock);
    atrest_sealer *s = v->sealer;
    pthread_mutex_unlock(&v->lock);
    return s;
}

static atrest_page_ctx page_ctx(const afile *f, uint64_t page_no) {
    atrest_page_ctx ctx = {(uint64_t)f->role, page_no, f->db_id, DB_ID_LEN};
    return ctx;
}

/* Seals body (the page's capacity) as page `page_no` of f into f->scratch. */
static int seal_into_scratch(afile *f, uint64_t page_no, const uint8_t *body, int page_len) {
    atrest_page_ctx ctx = page_ctx(f, page_no);
    atrest_status st = atrest_seal_page(current_sealer(f->vfs), ATREST_PAGE_DATA, &ctx, body,
                                        ATREST_PAGE_CAPACITY(page_len), f->scratch, (size_t)page_len);
    if (st != ATREST_OK) {
        sqlite3_log(SQLITE_IOERR_WRITE, "atrest: sealing page %llu failed: %s", (unsigned long long)page_no,
                    atrest_status_message(st));
        return SQLITE_IOERR_WRITE;
    }
    return SQLITE_OK;
}

/* Opens f->scratch (page_len bytes) as page `page_no` of f; the body is then at scratch + HEADER_LEN. */
static int open_scratch(afile *f, uint64_t page_no, int page_len) {
    atrest_page_ctx ctx = page_ctx(f, page_no);
    atrest_status st = atrest_open_page(f->vfs->opener, &ctx, f->scratch, (size_t)page_len, NULL);
    if (st != ATREST_OK) {
        sqlite3_log(SQLITE_IOERR_DATA, "atrest: page %llu of a %s file does not open: %s",
                    (unsigned long long)page_no, f->role == ROLE_MAIN ? "database" : "journal/WAL/temporary",
                    atrest_status_message(st));
        return SQLITE_IOERR_DATA;
    }
    return SQLITE_OK;
}

/* Reads exactly n bytes at off of the real file: SQLITE_OK, SQLITE_IOERR_SHORT_READ (rest zeroed) or an error. */
static int real_read(afile *f, void *buf, int n, sqlite3_int64 off) {
    return f->real->pMethods->xRead(f->real, buf, n, off);
}

static int real_size(afile *f, sqlite3_int64 *size) {
    return f->real->pMethods->xFileSize(f->real, size);
}

static int is_page_size(int n) {
    return n >= ATREST_PAGE_SIZE_MIN && n <= ATREST_PAGE_SIZE_MAX && (n & (n - 1)) == 0;
}

/* ---- the main database: one sealed page per SQLite page ------------------------------------------------ */

/* The first 100 bytes of a database file as SQLite would write them for a new database, with the page size
 * and the reserved bytes atrest needs: read by SQLite before a database exists (so that it creates the
 * database with room for the seal in every page), or when page 1 cannot be read without a lock (a torn read
 * while another process writes it). SQLite only takes the page size and reserve from it; page 1 itself is
 * read (and authenticated) before anything else in it is used. */
static void synthetic_header(uint8_t *buf, int n, int page_size) {
    uint8_t h[100];
    memset(h, 0, sizeof h);
    memcpy(h, "SQLite format 3", 16);
    h[16] = (uint8_t)((page_size >> 8) & 0xff);
    h[17] = (uint8_t)((page_size >> 16) & 0xff); /* 65536 is stored as 1 */
    h[18] = h[19] = 1;
    h[20] = ATREST_PAGE_OVERHEAD;
    h[21] = 64;
    h[22] = 32;
    h[23] = 32;
    memset(buf, 0, (size_t)n);
    memcpy(buf, h, (size_t)(n < 100 ? n : 100));
}

/* The page size of an existing database, from the (unauthenticated) size code of page 1's atrest header. */
static int stored_page_size(afile *f, int *page_size) {
    uint8_t h[ATREST_PAGE_HEADER_LEN];
    int rc = real_read(f, h, sizeof h, FILE_HEADER_LEN);
    if (rc != SQLITE_OK) return rc;
    if (h[7] < 12 || h[7] > 16) return SQLITE_IOERR_DATA;
    *page_size = 1 << h[7];
    return SQLITE_OK;
}

static int main_read(sqlite3_file *file, void *out, int n, sqlite3_int64 off) {
    afile *f = (afile *)file;
    uint8_t *buf = out;
    int rc;
    if (off == 0 && n <= 100) {
        /* SQLite's first look at a database, without a lock: see synthetic_header. */
        sqlite3_int64 phys = 0;
        rc = real_size(f, &phys);
        if (rc != SQLITE_OK) return rc;
        if (phys <= FILE_HEADER_LEN) {
            synthetic_header(buf, n, f->vfs->page_size);
            return SQLITE_OK;
        }
    }
    int page_size = n;
    if (!is_page_size(n) || off % n != 0) {
        rc = stored_page_size(f, &page_size);
        if (rc == SQLITE_IOERR_SHORT_READ) {
            memset(buf, 0, (size_t)n);
            return SQLITE_IOERR_SHORT_READ; /* an empty database */
        }
        if (rc != SQLITE_OK) return rc;
    }
    size_t cap = ATREST_PAGE_CAPACITY(page_size);
    int done = 0;
    while (done < n) {
        sqlite3_int64 at = off + done;
        sqlite3_int64 page_no = at / page_size;
        int in_page = (int)(at % page_size);
        int take = page_size - in_page < n - done ? page_size - in_page : n - done;
        rc = real_read(f, f->scratch, page_size, FILE_HEADER_LEN + page_no * page_size);
        if (rc == SQLITE_IOERR_SHORT_READ) {
            /* Past the end (or a torn append): no page there. */
            memset(buf + done, 0, (size_t)(n - done));
            return SQLITE_IOERR_SHORT_READ;
        }
        if (rc != SQLITE_OK) return rc;
        rc = open_scratch(f, (uint64_t)page_no + 1, page_size);
        if (rc != SQLITE_OK) {
            if (off == 0 && n <= 100) {
                /* The unlocked header read of a page being written: see synthetic_header. */
                synthetic_header(buf, n, page_size);
                return SQLITE_OK;
            }
            return rc;
        }
        /* The plaintext page is the body followed by the reserved bytes, which are zero. */
        const uint8_t *body = f->scratch + ATREST_PAGE_HEADER_LEN;
        size_t from_body = (size_t)in_page < cap ? cap - (size_t)in_page : 0;
        if (from_body > (size_t)take) from_body = (size_t)take;
        memcpy(buf + done, body + in_page, from_body);
        memset(buf + done + from_body, 0, (size_t)take - from_body);
        done += take;
    }
    return SQLITE_OK;
}

static int main_write(sqlite3_file *file, const void *data, int n, sqlite3_int64 off) {
    afile *f = (afile *)file;
    const uint8_t *page = data;
    if (!is_page_size(n) || off % n != 0) {
        sqlite3_log(SQLITE_IOERR_WRITE, "atrest: a database write of %d bytes at %lld is not one page of 4 KiB to "
                    "64 KiB", n, (long long)off);
        return SQLITE_IOERR_WRITE;
    }
    /* The reserved bytes are where the seal goes: content there would be lost, so refuse it. */
    for (int i = n - ATREST_PAGE_OVERHEAD; i < n; i++) {
        if (page[i] != 0) {
            sqlite3_log(SQLITE_IOERR_WRITE, "atrest: page %lld uses the reserved bytes the seal needs (reserve is "
                        "not %d bytes)", (long long)(off / n + 1), ATREST_PAGE_OVERHEAD);
            return SQLITE_IOERR_WRITE;
        }
    }
    int rc = seal_into_scratch(f, (uint64_t)(off / n) + 1, page, n);
    if (rc != SQLITE_OK) return rc;
    return f->real->pMethods->xWrite(f->real, f->scratch, n, FILE_HEADER_LEN + off);
}

static int main_truncate(sqlite3_file *file, sqlite3_int64 size) {
    afile *f = (afile *)file;
    return f->real->pMethods->xTruncate(f->real, FILE_HEADER_LEN + size);
}

static int main_size(sqlite3_file *file, sqlite3_int64 *size) {
    afile *f = (afile *)file;
    sqlite3_int64 phys = 0;
    int rc = real_size(f, &phys);
    *size = phys > FILE_HEADER_LEN ? phys - FILE_HEADER_LEN : 0;
    return rc;
}

/* ---- journals, WAL and temporary files: a stream of sealed chunks ------------------------------------- */

/* Reads chunk idx into data (CHUNK_DATA bytes) and its fill count. A chunk past the end reads as empty. With
 * lenient set, a chunk that does not open reads as zeros (see stream_read). */
static int chunk_read(afile *f, sqlite3_int64 idx, uint8_t *data, int *used, int lenient) {
    int rc = real_read(f, f->scratch, CHUNK_LEN, idx * CHUNK_LEN);
    if (rc == SQLITE_IOERR_SHORT_READ) {
        memset(data, 0, CHUNK_DATA);
        *used = 0;
        return SQLITE_OK;
    }
    if (rc != SQLITE_OK) return rc;
    rc = open_scratch(f, (uint64_t)idx, CHUNK_LEN);
    const uint8_t *body = f->scratch + ATREST_PAGE_HEADER_LEN;
    int fill = body[0] | (body[1] << 8);
    if (rc == SQLITE_OK && fill > CHUNK_DATA) rc = SQLITE_IOERR_DATA;
    if (rc != SQLITE_OK) {
        if (!lenient) return rc;
        memset(data, 0, CHUNK_DATA);
        *used = CHUNK_DATA;
        return SQLITE_OK;
    }
    memcpy(data, body + 2, CHUNK_DATA);
    *used = fill;
    return SQLITE_OK;
}

static int chunk_write(afile *f, sqlite3_int64 idx, const uint8_t *data, int used) {
    uint8_t body[CHUNK_LEN - ATREST_PAGE_OVERHEAD];
    body[0] = (uint8_t)(used & 0xff);
    body[1] = (uint8_t)(used >> 8);
    memcpy(body + 2, data, CHUNK_DATA);
    int rc = seal_into_scratch(f, (uint64_t)idx, body, CHUNK_LEN);
    if (rc != SQLITE_OK) return rc;
    return f->real->pMethods->xWrite(f->real, f->scratch, CHUNK_LEN, idx * CHUNK_LEN);
}

/* Whether no other connection can write this stream now, and under which owner epoch: temporary files are
 * private; a rollback journal is written only under the database's RESERVED lock or above; a WAL only under
 * its write lock. A super-journal is never cached. */
static int stream_owned(const afile *f, unsigned long *epoch) {
    *epoch = 0;
    if (f->role == ROLE_TEMP) return 1;
    if (!f->main) return 0;
    *epoch = f->main->owner_epoch;
    if (f->role == ROLE_JOURNAL) return f->main->lock_level >= SQLITE_LOCK_RESERVED;
    if (f->role == ROLE_WAL) return f->main->wal_write_locked;
    return 0;
}

static int read_tail(afile *f, tail *t, int lenient) {
    unsigned long epoch = 0;
    if (f->tail_valid && stream_owned(f, &epoch) && epoch == f->tail_epoch) {
        memcpy(t, &f->cached, sizeof *t);
        return SQLITE_OK;
    }
    f->tail_valid = 0;
    sqlite3_int64 phys = 0;
    t->chunks = 0;
    t->used = 0;
    t->len = 0;
    int rc = real_size(f, &phys);
    if (rc != SQLITE_OK) return rc;
    t->chunks = phys / CHUNK_LEN;
    if (t->chunks == 0) return SQLITE_OK;
    rc = chunk_read(f, t->chunks - 1, t->data, &t->used, lenient);
    if (rc != SQLITE_OK) return rc;
    t->len = (t->chunks - 1) * CHUNK_DATA + t->used;
    return SQLITE_OK;
}

static int stream_length(afile *f, sqlite3_int64 *len, int lenient) {
    tail t;
    int rc = read_tail(f, &t, lenient);
    *len = t.len;
    return rc;
}

/* A WAL frame read by recovery: the frame header and page together, at a frame boundary. After a crash the
 * WAL's tail may be torn; such a frame must read as invalid (SQLite then ends the log before it), not fail the
 * whole recovery. Zeros cannot pass: the frame's salts would have to equal the WAL header's random ones. */
static int is_recovery_read(const afile *f, int n, sqlite3_int64 off) {
    int page = n - 24;
    return f->role == ROLE_WAL && page >= 512 && page <= 65536 && (page & (page - 1)) == 0 &&
           off >= 32 && (off - 32) % n == 0;
}

static int stream_read(sqlite3_file *file, void *out, int n, sqlite3_int64 off) {
    afile *f = (afile *)file;
    uint8_t *buf = out;
    int lenient = is_recovery_read(f, n, off);
    sqlite3_int64 phys = 0;
    int rc = real_size(f, &phys);
    if (rc != SQLITE_OK) return rc;
    /* Only a read that reaches the last chunk needs the stream's exact length. */
    tail t;
    int have_tail = 0;
    sqlite3_int64 len = (phys / CHUNK_LEN) * CHUNK_DATA;
    if (phys / CHUNK_LEN == 0 || off + n > (phys / CHUNK_LEN - 1) * CHUNK_DATA) {
        rc = read_tail(f, &t, f->role == ROLE_WAL);
        if (rc != SQLITE_OK) return rc;
        have_tail = 1;
        len = t.len;
    }
    int avail = off >= len ? 0 : (len - off < n ? (int)(len - off) : n);
    uint8_t data[CHUNK_DATA];
    int done = 0;
    while (done < avail) {
        sqlite3_int64 at = off + done;
        sqlite3_int64 idx = at / CHUNK_DATA;
        int in_chunk = (int)(at % CHUNK_DATA);
        int take = CHUNK_DATA - in_chunk < avail - done ? CHUNK_DATA - in_chunk : avail - done;
        const uint8_t *from = data;
        if (have_tail && idx == t.chunks - 1) {
            from = t.data;
        } else {
            int used = 0;
            rc = chunk_read(f, idx, data, &used, lenient);
            if (rc != SQLITE_OK) return rc;
        }
        memcpy(buf + done, from + in_chunk, (size_t)take);
        done += take;
    }
    if (avail < n) {
        memset(buf + avail, 0, (size_t)(n - avail));
        return SQLITE_IOERR_SHORT_READ;
    }
    return SQLITE_OK;
}

/* Writes [off, off+n) of the stream, reading and resealing the chunks it only partly covers. Bytes between the
 * old end and off read as zeros. */
static int stream_write(sqlite3_file *file, const void *in, int n, sqlite3_int64 off) {
    afile *f = (afile *)file;
    const uint8_t *buf = in;
    /* A WAL's torn tail (after a crash) is where SQLite writes next: it may be overwritten without opening. */
    int lenient = f->role == ROLE_WAL;
    tail t;
    int rc = read_tail(f, &t, lenient);
    if (rc != SQLITE_OK) return rc;
    sqlite3_int64 len = t.len;
    sqlite3_int64 end = off + n;
    sqlite3_int64 new_len = end > len ? end : len;
    sqlite3_int64 from = off < len ? off : len; /* the gap after the old end is rewritten too */
    uint8_t data[CHUNK_DATA];
    sqlite3_int64 last = (end - 1) / CHUNK_DATA > t.chunks - 1 ? (end - 1) / CHUNK_DATA : t.chunks - 1;
    f->tail_valid = 0; /* until this write has fully succeeded */
    for (sqlite3_int64 idx = from / CHUNK_DATA; idx * CHUNK_DATA < end; idx++) {
        sqlite3_int64 start = idx * CHUNK_DATA;
        int covered = off <= start && end >= start + CHUNK_DATA;
        int used = 0;
        if (covered || idx >= t.chunks) {
            memset(data, 0, CHUNK_DATA);
        } else if (idx == t.chunks - 1) {
            memcpy(data, t.data, CHUNK_DATA);
        } else {
            rc = chunk_read(f, idx, data, &used, lenient);
            if (rc != SQLITE_OK) return rc;
        }
        sqlite3_int64 lo = off > start ? off : start;
        sqlite3_int64 hi = end < start + CHUNK_DATA ? end : start + CHUNK_DATA;
        if (hi > lo) memcpy(data + (lo - start), buf + (lo - off), (size_t)(hi - lo));
        sqlite3_int64 fill = new_len - start < CHUNK_DATA ? new_len - start : CHUNK_DATA;
        rc = chunk_write(f, idx, data, (int)fill);
        if (rc != SQLITE_OK) return rc;
        if (idx == last) {
            memcpy(t.data, data, CHUNK_DATA);
            t.used = (int)fill;
        }
    }
    unsigned long epoch = 0;
    if (stream_owned(f, &epoch)) {
        /* The new tail: the last chunk written, or the old tail if this write ended before it. */
        t.chunks = last + 1;
        t.len = new_len;
        memcpy(&f->cached, &t, sizeof t);
        f->tail_epoch = epoch;
        f->tail_valid = 1;
    }
    return SQLITE_OK;
}

static int stream_truncate(sqlite3_file *file, sqlite3_int64 size) {
    afile *f = (afile *)file;
    f->tail_valid = 0;
    int lenient = f->role == ROLE_WAL;
    sqlite3_int64 len = 0;
    int rc = stream_length(f, &len, lenient);
    if (rc != SQLITE_OK) return rc;
    if (size > len) {
        /* Growing: write zeros, as a file grown by truncate reads. */
        uint8_t zeros[CHUNK_DATA];
        memset(zeros, 0, sizeof zeros);
        for (sqlite3_int64 at = len; at < size;) {
            int take = size - at < CHUNK_DATA ? (int)(size - at) : CHUNK_DATA;
            rc = stream_write(file, zeros, take, at);
            if (rc != SQLITE_OK) return rc;
            at += take;
        }
        return SQLITE_OK;
    }
    sqlite3_int64 chunks = (size + CHUNK_DATA - 1) / CHUNK_DATA;
    int tail = (int)(size - (chunks - 1) * CHUNK_DATA);
    if (chunks > 0 && tail < CHUNK_DATA) {
        uint8_t data[CHUNK_DATA];
        int used = 0;
        rc = chunk_read(f, chunks - 1, data, &used, lenient);
        if (rc != SQLITE_OK) return rc;
        memset(data + tail, 0, (size_t)(CHUNK_DATA - tail));
        rc = chunk_write(f, chunks - 1, data, tail);
        if (rc != SQLITE_OK) return rc;
    }
    return f->real->pMethods->xTruncate(f->real, chunks * CHUNK_LEN);
}

static int stream_size(sqlite3_file *file, sqlite3_int64 *size) {
    afile *f = (afile *)file;
    return stream_length(f, size, f->role == ROLE_WAL);
}

/* ---- methods passed through to the real file ----------------------------------------------------------- */

static void forget_main(afile *f) {
    vfs_state *v = f->vfs;
    pthread_mutex_lock(&v->lock);
    for (afile **p = &v->mains; *p; p = &(*p)->next_main) {
        if (*p == f) {
            *p = f->next_main;
            break;
        }
    }
    pthread_mutex_unlock(&v->lock);
}

static int x_close(sqlite3_file *file) {
    afile *f = (afile *)file;
    if (f->role == ROLE_MAIN) forget_main(f);
    int rc = f->real->pMethods->xClose(f->real);
    sqlite3_free(f->scratch);
    f->scratch = NULL;
    return rc;
}

#define REAL(f) (((afile *)(f))->real)
static int x_sync(sqlite3_file *f, int flags) { return REAL(f)->pMethods->xSync(REAL(f), flags); }
/* Locks are the real file's; the main database's are also remembered for its journal's cache. */
static int x_lock(sqlite3_file *file, int level) {
    afile *f = (afile *)file;
    int rc = f->real->pMethods->xLock(f->real, level);
    if (rc == SQLITE_OK && f->role == ROLE_MAIN) {
        if (f->lock_level < SQLITE_LOCK_RESERVED && level >= SQLITE_LOCK_RESERVED) f->owner_epoch++;
        f->lock_level = level;
    }
    return rc;
}
static int x_unlock(sqlite3_file *file, int level) {
    afile *f = (afile *)file;
    if (f->role == ROLE_MAIN && level < f->lock_level) f->lock_level = level;
    return f->real->pMethods->xUnlock(f->real, level);
}
static int x_check_reserved(sqlite3_file *f, int *out) {
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int x_sector_size(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int x_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp) {
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, pp);
}
/* The WAL's write lock is shared-memory lock 0; holding it exclusively keeps every other writer out of the WAL. */
static int x_shm_lock(sqlite3_file *file, int off, int n, int flags) {
    afile *f = (afile *)file;
    int covers_write_lock = off == 0 && n >= 1;
    if (covers_write_lock && (flags & SQLITE_SHM_UNLOCK)) f->wal_write_locked = 0;
    int rc = f->real->pMethods->xShmLock(f->real, off, n, flags);
    if (rc == SQLITE_OK && covers_write_lock && (flags & SQLITE_SHM_LOCK) && (flags & SQLITE_SHM_EXCLUSIVE)) {
        f->wal_write_locked = 1;
        f->owner_epoch++;
    }
    return rc;
}
static void x_shm_barrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int x_shm_unmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }

/* Memory-mapped reads would hand SQLite the sealed bytes: never map. */
static int x_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp) {
    (void)f, (void)off, (void)n;
    *pp = NULL;
    return SQLITE_OK;
}
static int x_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) {
    (void)f, (void)off, (void)p;
    return SQLITE_OK;
}

/* Main database: the real device's properties, less atomic writes (a sealed page is written as one write, but
 * SQLite must not skip its journal for it). Streams rewrite whole chunks around a write, so they also lose
 * powersafe overwrite: a torn chunk can damage bytes next to the ones written. */
static int x_device(sqlite3_file *file) {
    afile *f = (afile *)file;
    int d = f->real->pMethods->xDeviceCharacteristics(f->real);
    d &= ~(SQLITE_IOCAP_ATOMIC | SQLITE_IOCAP_ATOMIC512 | SQLITE_IOCAP_ATOMIC1K | SQLITE_IOCAP_ATOMIC2K |
           SQLITE_IOCAP_ATOMIC4K | SQLITE_IOCAP_ATOMIC8K | SQLITE_IOCAP_ATOMIC16K | SQLITE_IOCAP_ATOMIC32K |
           SQLITE_IOCAP_ATOMIC64K | SQLITE_IOCAP_SAFE_APPEND | SQLITE_IOCAP_BATCH_ATOMIC);
    if (f->role != ROLE_MAIN) d &= ~SQLITE_IOCAP_POWERSAFE_OVERWRITE;
    return d;
}

/* `PRAGMA atrest_rotate_key` makes a new active data key; pages written from then on are sealed under it
 * (VACUUM rewrites every page). It answers with the new key id. */
static int rotate(vfs_state *v, char **answer) {
    uint32_t id = 0;
    atrest_sealer *fresh = NULL;
    atrest_status st = atrest_keyring_rotate(v->keyring, v->scope, &id);
    if (st == ATREST_OK) st = atrest_keyring_sealer(v->keyring, v->scope, &fresh);
    if (st != ATREST_OK) {
        *answer = sqlite3_mprintf("atrest: key rotation failed: %s", atrest_last_error());
        return SQLITE_ERROR;
    }
    pthread_mutex_lock(&v->lock);
    atrest_sealer **grown = realloc(v->retired, (v->n_retired + 1) * sizeof *grown);
    if (grown == NULL) {
        pthread_mutex_unlock(&v->lock);
        atrest_sealer_free(fresh);
        return SQLITE_NOMEM;
    }
    v->retired = grown;
    v->retired[v->n_retired++] = v->sealer;
    v->sealer = fresh;
    pthread_mutex_unlock(&v->lock);
    *answer = sqlite3_mprintf("%u", id);
    return SQLITE_OK;
}

static int x_file_control(sqlite3_file *file, int op, void *arg) {
    afile *f = (afile *)file;
    if (op == SQLITE_FCNTL_PRAGMA) {
        char **args = arg;
        if (args[1] && sqlite3_stricmp(args[1], "atrest_rotate_key") == 0) return rotate(f->vfs, &args[0]);
        if (args[1] && sqlite3_stricmp(args[1], "atrest_key_id") == 0) {
            args[0] = sqlite3_mprintf("%u", atrest_sealer_key_id(current_sealer(f->vfs)));
            return SQLITE_OK;
        }
    }
    if (op == SQLITE_FCNTL_MMAP_SIZE) {
        *(sqlite3_int64 *)arg = 0; /* see x_fetch */
        return SQLITE_OK;
    }
    return f->real->pMethods->xFileControl(f->real, op, arg);
}

static const sqlite3_io_methods main_methods = {
    3,          x_close,       main_read,   main_write,    main_truncate, x_sync,         main_size,
    x_lock,     x_unlock,      x_check_reserved, x_file_control, x_sector_size, x_device, x_shm_map,
    x_shm_lock, x_shm_barrier, x_shm_unmap, x_fetch,       x_unfetch,
};

static const sqlite3_io_methods stream_methods = {
    3,          x_close,       stream_read, stream_write,  stream_truncate, x_sync,       stream_size,
    x_lock,     x_unlock,      x_check_reserved, x_file_control, x_sector_size, x_device, x_shm_map,
    x_shm_lock, x_shm_barrier, x_shm_unmap, x_fetch,       x_unfetch,
};

/* ---- opening files ------------------------------------------------------------------------------------- */

static int random_id(uint8_t *id) {
    return getrandom(id, DB_ID_LEN, 0) == DB_ID_LEN ? SQLITE_OK : SQLITE_IOERR;
}

/* Reads the main database's file header, or writes a fresh one into an empty writable file. */
static int main_header(afile *f, int writable) {
    sqlite3_int64 size = 0;
    int rc = real_size(f, &size);
    if (rc != SQLITE_OK) return rc;
    if (size == 0) {
        if (!writable) return SQLITE_OK; /* an empty database: nothing to read */
        uint8_t header[FILE_HEADER_LEN];
        memset(header, 0, sizeof header);
        memcpy(header, FILE_MAGIC, sizeof FILE_MAGIC);
        rc = random_id(header + DB_ID_OFFSET);
        if (rc == SQLITE_OK) rc = f->real->pMethods->xWrite(f->real, header, sizeof header, 0);
        if (rc == SQLITE_OK) rc = f->real->pMethods->xSync(f->real, SQLITE_SYNC_NORMAL);
        if (rc != SQLITE_OK) return rc;
        memcpy(f->db_id, header + DB_ID_OFFSET, DB_ID_LEN);
        return SQLITE_OK;
    }
    uint8_t header[DB_ID_OFFSET + DB_ID_LEN];
    rc = real_read(f, header, sizeof header, 0);
    if (rc != SQLITE_OK || memcmp(header, FILE_MAGIC, sizeof FILE_MAGIC) != 0) {
        sqlite3_log(SQLITE_NOTADB, "atrest: not an atrest-sqlite database (no atrest file header)");
        return SQLITE_NOTADB;
    }
    memcpy(f->db_id, header + DB_ID_OFFSET, DB_ID_LEN);
    return SQLITE_OK;
}

/* A journal or WAL takes the id of its database, which SQLite opened (through this VFS) before it. SQLite
 * names the journal inside the same buffer as its database, so the database's own handle is the one whose
 * name is that very pointer; only that handle's locks may vouch for the journal's cache. */
static int database_id(afile *f, const char *name) {
    const char *db = sqlite3_filename_database(name);
    vfs_state *v = f->vfs;
    afile *same = NULL, *equal = NULL;
    pthread_mutex_lock(&v->lock);
    for (afile *m = v->mains; m; m = m->next_main) {
        if (m->name == db) same = m;
        else if (db && m->name && strcmp(m->name, db) == 0) equal = m;
    }
    if (same || equal) memcpy(f->db_id, (same ? same : equal)->db_id, DB_ID_LEN);
    f->main = same;
    pthread_mutex_unlock(&v->lock);
    if (!same && !equal) sqlite3_log(SQLITE_CANTOPEN, "atrest: %s has no open database to belong to", name);
    return same || equal ? SQLITE_OK : SQLITE_CANTOPEN;
}

static int x_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags, int *out_flags) {
    vfs_state *v = vfs->pAppData;
    afile *f = (afile *)file;
    memset(f, 0, sizeof *f);
    f->vfs = v;
    f->real = (sqlite3_file *)(f + 1);
    if (flags & SQLITE_OPEN_MAIN_DB) f->role = ROLE_MAIN;
    else if (flags & SQLITE_OPEN_WAL) f->role = ROLE_WAL;
    else if (flags & SQLITE_OPEN_MAIN_JOURNAL) f->role = ROLE_JOURNAL;
    else if (flags & SQLITE_OPEN_SUPER_JOURNAL) f->role = ROLE_SUPER; /* read back after a crash: id all zero */
    else f->role = ROLE_TEMP;
    f->scratch = sqlite3_malloc(ATREST_PAGE_SIZE_MAX);
    if (f->scratch == NULL) return SQLITE_NOMEM;
    int rc = v->real->xOpen(v->real, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK) {
        sqlite3_free(f->scratch);
        return rc;
    }
    f->base.pMethods = f->role == ROLE_MAIN ? &main_methods : &stream_methods;
    if (f->role == ROLE_MAIN) {
        rc = main_header(f, (flags & SQLITE_OPEN_READWRITE) != 0);
        if (rc == SQLITE_OK) {
            f->name = name;
            pthread_mutex_lock(&v->lock);
            f->next_main = v->mains;
            v->mains = f;
            pthread_mutex_unlock(&v->lock);
        }
    } else if (f->role == ROLE_TEMP) {
        rc = random_id(f->db_id); /* lives as long as this handle: nobody else must open it */
    } else if (f->role == ROLE_JOURNAL || f->role == ROLE_WAL) {
        rc = database_id(f, name);
    }
    if (rc != SQLITE_OK) {
        f->role = ROLE_TEMP; /* not in the list of mains */
        x_close(file);
        f->base.pMethods = NULL;
    }
    return rc;
}

/* ---- the rest of the VFS: the real one's ---------------------------------------------------------------- */

#define RV(vfs) (((vfs_state *)(vfs)->pAppData)->real)
static int x_delete(sqlite3_vfs *vfs, const char *name, int sync) { return RV(vfs)->xDelete(RV(vfs), name, sync); }
static int x_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
    return RV(vfs)->xAccess(RV(vfs), name, flags, out);
}
static int x_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out) {
    return RV(vfs)->xFullPathname(RV(vfs), name, n, out);
}
static void *x_dl_open(sqlite3_vfs *vfs, const char *name) { return RV(vfs)->xDlOpen(RV(vfs), name); }
static void x_dl_error(sqlite3_vfs *vfs, int n, char *out) { RV(vfs)->xDlError(RV(vfs), n, out); }
static void (*x_dl_sym(sqlite3_vfs *vfs, void *h, const char *sym))(void) { return RV(vfs)->xDlSym(RV(vfs), h, sym); }
static void x_dl_close(sqlite3_vfs *vfs, void *h) { RV(vfs)->xDlClose(RV(vfs), h); }
static int x_randomness(sqlite3_vfs *vfs, int n, char *out) { return RV(vfs)->xRandomness(RV(vfs), n, out); }
static int x_sleep(sqlite3_vfs *vfs, int us) { return RV(vfs)->xSleep(RV(vfs), us); }
static int x_current_time(sqlite3_vfs *vfs, double *out) { return RV(vfs)->xCurrentTime(RV(vfs), out); }
static int x_last_error(sqlite3_vfs *vfs, int n, char *out) { return RV(vfs)->xGetLastError(RV(vfs), n, out); }
static int x_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
    return RV(vfs)->xCurrentTimeInt64(RV(vfs), out);
}

int atrest_sqlite_register(const char *name, const char *keyring_dir, const char *key_file, const char *scope,
                           int page_size, int make_default, char **errmsg) {
    if (errmsg) *errmsg = NULL;
    if (page_size == 0) page_size = 4096;
    if (!is_page_size(page_size) || !keyring_dir || !key_file) {
        if (errmsg) *errmsg = sqlite3_mprintf("atrest: a keyring directory, a key file and a page size of 4096 to "
                                              "65536 bytes (a power of two) are needed");
        return SQLITE_MISUSE;
    }
    sqlite3_vfs *real = sqlite3_vfs_find(NULL);
    if (real == NULL || real->iVersion < 2) return SQLITE_ERROR;
    vfs_state *v = calloc(1, sizeof *v);
    if (v == NULL) return SQLITE_NOMEM;
    snprintf(v->scope, sizeof v->scope, "%s", scope ? scope : "sqlite");
    v->page_size = page_size;
    v->real = real;
    pthread_mutex_init(&v->lock, NULL);
    atrest_status st = atrest_keyring_open_local(keyring_dir, key_file, 1, &v->keyring);
    if (st == ATREST_OK) st = atrest_keyring_opener(v->keyring, &v->opener);
    if (st == ATREST_OK) st = atrest_keyring_sealer(v->keyring, v->scope, &v->sealer);
    if (st != ATREST_OK) {
        if (errmsg) *errmsg = sqlite3_mprintf("atrest: %s: %s", atrest_status_message(st), atrest_last_error());
        atrest_opener_free(v->opener);
        atrest_keyring_free(v->keyring);
        free(v);
        return SQLITE_CANTOPEN;
    }
    sqlite3_vfs *b = &v->base;
    b->iVersion = 2;
    b->szOsFile = (int)sizeof(afile) + real->szOsFile;
    b->mxPathname = real->mxPathname;
    b->zName = strdup(name ? name : "atrest");
    b->pAppData = v;
    b->xOpen = x_open;
    b->xDelete = x_delete;
    b->xAccess = x_access;
    b->xFullPathname = x_full_pathname;
    b->xDlOpen = x_dl_open;
    b->xDlError = x_dl_error;
    b->xDlSym = x_dl_sym;
    b->xDlClose = x_dl_close;
    b->xRandomness = x_randomness;
    b->xSleep = x_sleep;
    b->xCurrentTime = x_current_time;
    b->xGetLastError = x_last_error;
    b->xCurrentTimeInt64 = x_current_time64;
    return sqlite3_vfs_register(b, make_default);
}

#ifdef ATREST_SQLITE_EXTENSION
/* The sqlite3 shell's `.load libatrest_sqlite`: registers "atrest" as the default VFS from the environment.
 * Databases opened afterwards (`.open FILE`) go through it. */
#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_atrestsqlite_init(sqlite3 *db, char **errmsg, const sqlite3_api_routines *api) {
    (void)db;
    SQLITE_EXTENSION_INIT2(api);
    if (sqlite3_vfs_find("atrest")) return SQLITE_OK_LOAD_PERMANENTLY;
    const char *dir = getenv("ATREST_SQLITE_KEYRING");
    const char *key_file = getenv("ATREST_SQLITE_KEY_FILE");
    const char *size = getenv("ATREST_SQLITE_PAGE_SIZE");
    if (!dir || !key_file) {
        *errmsg = sqlite3_mprintf("atrest: set ATREST_SQLITE_KEYRING (keyring directory) and ATREST_SQLITE_KEY_FILE "
                                  "(master key file, outside it)");
        return SQLITE_ERROR;
    }
    int rc = atrest_sqlite_register("atrest", dir, key_file, getenv("ATREST_SQLITE_SCOPE"), size ? atoi(size) : 0,
                                    1, errmsg);
    return rc == SQLITE_OK ? SQLITE_OK_LOAD_PERMANENTLY : rc;
}
#endif
