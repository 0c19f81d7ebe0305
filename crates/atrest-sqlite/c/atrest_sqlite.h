/*
 * atrest-sqlite: a SQLite VFS that stores every file of a database as atrest sealed pages.
 *
 * The main database file holds one sealed page per SQLite page (SQLite's reserved bytes per page are set to
 * ATREST_PAGE_OVERHEAD, so a page fits its sealed form exactly), after a 4 KiB plaintext file header that holds
 * the database's random id. Journals, the WAL and temporary files are sealed 4 KiB chunks of a byte stream. Every
 * page and chunk is bound to the database id, its file's role and its number. Keys come from an atrest keyring
 * (master key in a local key file); `PRAGMA atrest_rotate_key` makes a new data key for what is written next.
 * Format and guarantees: docs/design.md ("SQLite VFS") and docs/threat-model.md.
 */
#ifndef ATREST_SQLITE_H
#define ATREST_SQLITE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Registers the VFS `name` (NULL: "atrest") over SQLite's default VFS, with the keyring of keyring_dir whose
 * master key is in key_file (both created when missing). scope names the keyring scope of its data keys (NULL:
 * "sqlite"); page_size is the page size of new databases (0: 4096; 4096..65536). make_default non-zero makes it
 * SQLite's default VFS. Returns an SQLite result code; on error *errmsg (if not NULL) gets a message to free with
 * sqlite3_free. Call once per name, before opening databases through it. */
int atrest_sqlite_register(const char *name, const char *keyring_dir, const char *key_file, const char *scope,
                           int page_size, int make_default, char **errmsg);

#ifdef __cplusplus
}
#endif
#endif /* ATREST_SQLITE_H */
