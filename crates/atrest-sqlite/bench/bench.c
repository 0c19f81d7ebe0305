/* One benchmark workload, built three ways: on the atrest VFS (default), on Debian's SQLCipher
 * (-DBENCH_SQLCIPHER, linked with -lsqlcipher) and on plain SQLite (-DBENCH_PLAIN, no encryption, for scale).
 *
 *   bulk insert: ROWS rows (integer key, a random blob of ROW_BYTES, at most 65536) in transactions of 1000 rows;
 *   random reads: READS point lookups by random key, each a prepared statement step.
 *
 * Same settings everywhere: 4 KiB pages, WAL, synchronous=NORMAL, a 2 MiB page cache (so most lookups read
 * pages from the file and decrypt them), and a wal_autocheckpoint of 1000 pages.
 * Prints rates by wall-clock time and by the process's CPU time (user + system): on a shared machine the CPU
 * time is what the work itself cost, the wall time also counts waiting for a core.
 * Usage: bench <db> <rows> <reads> <row bytes> [<keyring dir> <key file>]
 * prints "insert_rows_per_s=N reads_per_s=N insert_rows_per_cpu_s=N reads_per_cpu_s=N". */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sqlite3.h>
#if !defined(BENCH_SQLCIPHER) && !defined(BENCH_PLAIN)
#include "atrest_sqlite.h"
#endif

static void check(int rc, sqlite3 *db, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "%s: %s\n", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        exit(1);
    }
}

static double clock_s(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static unsigned long long rng = 0x243f6a8885a308d3ULL;
static unsigned long long next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s <db> <rows> <reads> <row bytes> [<keyring dir> <key file>]\n", argv[0]);
        return 2;
    }
    long rows = atol(argv[2]), reads = atol(argv[3]), row_bytes = atol(argv[4]);
    if (row_bytes < 1 || row_bytes > 65536) {
        fprintf(stderr, "row bytes must be 1 to 65536\n");
        return 2;
    }
#if !defined(BENCH_SQLCIPHER) && !defined(BENCH_PLAIN)
    if (argc < 7) {
        fprintf(stderr, "the atrest build needs <keyring dir> <key file>\n");
        return 2;
    }
    char *err = NULL;
    check(atrest_sqlite_register("atrest", argv[5], argv[6], NULL, 4096, 1, &err), NULL, err ? err : "register");
#endif
    sqlite3 *db = NULL;
    check(sqlite3_open(argv[1], &db), db, "open");
#ifdef BENCH_SQLCIPHER
    check(sqlite3_exec(db, "PRAGMA key = 'atrest benchmark passphrase'; PRAGMA cipher_page_size = 4096;", NULL, NULL,
                       NULL), db, "key");
#else
    check(sqlite3_exec(db, "PRAGMA page_size = 4096;", NULL, NULL, NULL), db, "page size");
#endif
    check(sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -2048;"
                           "PRAGMA wal_autocheckpoint = 1000; CREATE TABLE kv(k INTEGER PRIMARY KEY, v BLOB);",
                       NULL, NULL, NULL), db, "setup");

    sqlite3_stmt *insert = NULL, *get = NULL;
    check(sqlite3_prepare_v2(db, "INSERT INTO kv VALUES (?1, ?2)", -1, &insert, NULL), db, "prepare");
    check(sqlite3_prepare_v2(db, "SELECT v FROM kv WHERE k = ?1", -1, &get, NULL), db, "prepare");
    static unsigned char blob[65536];
    double t0 = now(), c0 = cpu();
    for (long k = 1; k <= rows; k++) {
        if (k % 1000 == 1) check(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), db, "begin");
        for (long i = 0; i < row_bytes; i += 8) {
            unsigned long long r = next();
            for (long j = 0; j < 8 && i + j < row_bytes; j++) blob[i + j] = (unsigned char)(r >> (8 * j));
        }
        sqlite3_bind_int64(insert, 1, k);
        sqlite3_bind_blob(insert, 2, blob, (int)row_bytes, SQLITE_STATIC);
        check(sqlite3_step(insert), db, "insert");
        sqlite3_reset(insert);
        if (k % 1000 == 0 || k == rows) check(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), db, "commit");
    }
    check(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE);", NULL, NULL, NULL), db, "checkpoint");
    double t1 = now(), c1 = cpu();
    long found = 0;
    for (long i = 0; i < reads; i++) {
        sqlite3_bind_int64(get, 1, (sqlite3_int64)(next() % (unsigned long long)rows) + 1);
        if (sqlite3_step(get) == SQLITE_ROW && sqlite3_column_bytes(get, 0) == (int)row_bytes) found++;
        sqlite3_reset(get);
    }
    double t2 = now(), c2 = cpu();
    if (found != reads) {
        fprintf(stderr, "only %ld of %ld reads found their row\n", found, reads);
        return 1;
    }
    printf("insert_rows_per_s=%.0f reads_per_s=%.0f insert_rows_per_cpu_s=%.0f reads_per_cpu_s=%.0f\n",
           (double)rows / (t1 - t0), (double)reads / (t2 - t1), (double)rows / (c1 - c0), (double)reads / (c2 - c1));
    sqlite3_finalize(insert);
    sqlite3_finalize(get);
    sqlite3_close(db);
    return 0;
}
