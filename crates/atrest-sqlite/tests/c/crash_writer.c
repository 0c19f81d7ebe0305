/* Commits transactions through the atrest VFS until it is killed: each transaction inserts ROWS rows of batch b
 * (text with a marker that must never reach the disk in plaintext) and prints b once committed. Several may run
 * on one database at once: batch numbers then come from whichever writer commits (b is read inside the
 * transaction).
 * Usage: crash_writer <db> <keyring dir> <key file> <journal mode> */
#include <stdio.h>
#include <stdlib.h>
#include <sqlite3.h>
#include "atrest_sqlite.h"

#define ROWS 200

static void check(int rc, sqlite3 *db, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "%s: %s\n", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        exit(1);
    }
}

/* Runs sql, retrying every millisecond while another writer holds the database. No busy handler: SQLite's backs
 * off to 100 ms between tries, which lets a writer that pauses only briefly between commits starve another. */
static void exec_retry(sqlite3 *db, const char *sql, const char *what) {
    int rc;
    for (int tries = 0; (rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) == SQLITE_BUSY && tries < 20000; tries++)
        sqlite3_sleep(1);
    check(rc, db, what);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s <db> <keyring dir> <key file> <journal mode>\n", argv[0]);
        return 2;
    }
    char *err = NULL;
    check(atrest_sqlite_register("atrest", argv[2], argv[3], NULL, 0, 1, &err), NULL, err ? err : "register");
    sqlite3 *db = NULL;
    check(sqlite3_open(argv[1], &db), db, "open");
    char sql[256];
    snprintf(sql, sizeof sql, "PRAGMA journal_mode=%s; PRAGMA synchronous=FULL; PRAGMA cache_size=20;", argv[4]);
    exec_retry(db, sql, "pragmas");
    exec_retry(db, "CREATE TABLE IF NOT EXISTS marker_rows(b INTEGER, i INTEGER, note TEXT);"
                   "CREATE INDEX IF NOT EXISTS marker_by_note ON marker_rows(note);", "schema");
    sqlite3_stmt *next = NULL, *insert = NULL;
    check(sqlite3_prepare_v2(db, "SELECT coalesce(max(b), 0) + 1 FROM marker_rows", -1, &next, NULL), db, "prepare");
    check(sqlite3_prepare_v2(db, "INSERT INTO marker_rows VALUES (?1, ?2, printf('ATREST-MARKER-%d-%d-', ?1, ?2) "
                                 "|| hex(randomblob(40)))", -1, &insert, NULL), db, "prepare");
    for (;;) {
        exec_retry(db, "BEGIN IMMEDIATE", "begin");
        check(sqlite3_step(next), db, "next batch");
        int b = sqlite3_column_int(next, 0);
        sqlite3_reset(next);
        for (int i = 0; i < ROWS; i++) {
            sqlite3_bind_int(insert, 1, b);
            sqlite3_bind_int(insert, 2, i);
            check(sqlite3_step(insert), db, "insert");
            sqlite3_reset(insert);
        }
        /* Rewrite earlier rows too, so the rollback journal gets old pages to save. */
        char update[128];
        snprintf(update, sizeof update, "UPDATE marker_rows SET i = i + 1000000 WHERE b = %d", b > 1 ? b - 1 : b);
        check(sqlite3_exec(db, update, NULL, NULL, NULL), db, "update");
        check(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), db, "commit");
        printf("%d\n", b);
        fflush(stdout);
        sqlite3_sleep(2); /* let the other writer in (see exec_retry) */
    }
}
