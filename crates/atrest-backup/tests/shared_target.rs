//! A target holds one store's backups: another store's backup is refused naming both store ids, retention never
//! removes another store's backups (even in a target filled by hand or by older builds), and restore and
//! verify do not pick another store's backup as "the newest". Also: what backup and restore create is private.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use atrest_backup::{BackupError, Target, backup, list_backups, prune, restore, verify_backup};
use atrest_store::{IndexPolicy, Store};
use common::{Fixture, files_under};

fn fill(store: &Store, tag: &str, n: usize) {
    store.ensure_collection("c").unwrap();
    for i in 0..n {
        store.put("c", &format!("{tag}{i}"), format!(r#"{{"tag":"{tag}","i":{i}}}"#).into_bytes()).unwrap();
    }
}

fn hex(id: [u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// Copies every manifest and object of `from` into `to`, as `cp -r` of two targets into one would.
fn merge(from: &Path, to: &Path) {
    for dir in ["backups", "objects"] {
        for e in std::fs::read_dir(from.join(dir)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), to.join(dir).join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn another_stores_backup_is_refused_naming_both_stores() {
    let fx = Fixture::new();
    let (a, _) = fx.create_store("a");
    let (b, _) = fx.create_store("b");
    fill(&a, "a", 10);
    fill(&b, "b", 10);
    let target = Target::open(fx.path("shared").to_str().unwrap()).unwrap();
    let first = backup(&a, &target).unwrap();
    let err = backup(&b, &target).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, BackupError::ForeignStore { .. }), "{msg}");
    let (ida, idb) = (hex(a.format().store_id), hex(b.format().store_id));
    assert!(msg.contains(&ida) && msg.contains(&idb), "names both stores: {msg}");
    assert_eq!(list_backups(&target).unwrap(), std::slice::from_ref(&first.id), "nothing of b's was written");
    // Retention of b is refused too, and removes nothing.
    let err = prune(&target, b.format().store_id, b.keys(), None, 1).unwrap_err();
    assert!(matches!(err, BackupError::ForeignStore { .. }), "{err}");
    assert_eq!(list_backups(&target).unwrap(), [first.id]);
    // The store the target belongs to goes on as before.
    backup(&a, &target).unwrap();
    let plan = prune(&target, a.format().store_id, a.keys(), None, 1).unwrap();
    assert_eq!(plan.removed.len(), 1);
}

#[test]
fn retention_never_removes_another_stores_backups_in_a_mixed_target() {
    let fx = Fixture::new();
    let (a, _) = fx.create_store("a");
    let (b, _) = fx.create_store("b");
    fill(&a, "a", 10);
    fill(&b, "b", 10);
    let (dir_a, dir_b) = (fx.path("ta"), fx.path("tb"));
    let ta = Target::open(dir_a.to_str().unwrap()).unwrap();
    let tb = Target::open(dir_b.to_str().unwrap()).unwrap();
    for _ in 0..2 {
        backup(&a, &ta).unwrap();
    }
    let b_backup = backup(&b, &tb).unwrap();
    merge(&dir_b, &dir_a);
    let all = list_backups(&ta).unwrap();
    assert_eq!(all.len(), 3);
    let before = files_under(&dir_a);
    let keys_a = a.keys().clone();
    let err = prune(&ta, a.format().store_id, &keys_a, Some(&fx.provider()), 1).unwrap_err();
    assert!(matches!(err, BackupError::ForeignStore { .. }), "{err}");
    assert_eq!(files_under(&dir_a), before, "nothing deleted");

    // Without the record (a target written before it existed) the manifests' headers tell the stores apart.
    std::fs::remove_file(dir_a.join(atrest_backup::owner::OWNER_NAME)).unwrap();
    let err = prune(&ta, a.format().store_id, &keys_a, Some(&fx.provider()), 1).unwrap_err();
    assert!(matches!(err, BackupError::ForeignStore { .. }), "{err}");
    assert!(matches!(backup(&a, &ta), Err(BackupError::ForeignStore { .. })));
    assert_eq!(list_backups(&ta).unwrap(), all, "b's backup is still there");
    // "The newest" is ambiguous there; a named backup is not.
    let err = restore(&ta, None, &fx.path("r-newest"), fx.provider()).unwrap_err();
    assert!(matches!(err, BackupError::MixedTarget { .. }), "{err}");
    assert!(err.to_string().contains(&hex(a.format().store_id)) && err.to_string().contains(&hex(b.format().store_id)));
    assert!(matches!(verify_backup(&ta, None, fx.provider()), Err(BackupError::MixedTarget { .. })));
    let r = restore(&ta, Some(&b_backup.id), &fx.path("r-b"), fx.provider()).unwrap();
    assert_eq!(r.id, b_backup.id);
    assert_eq!(fx.open_store(&fx.path("r-b")).0.get("c", "b3").unwrap().unwrap(), br#"{"tag":"b","i":3}"#);
}

#[test]
fn backup_objects_and_restored_files_are_private() {
    let fx = Fixture::new();
    let (store, _) = fx.create_store("data");
    store.create_collection("c", IndexPolicy::All).unwrap();
    fill(&store, "x", 20);
    let dir = fx.path("target");
    let target = Target::open(dir.to_str().unwrap()).unwrap();
    backup(&store, &target).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for f in files_under(&dir) {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    for d in [&dir, &dir.join("objects"), &dir.join("backups")] {
        assert_eq!(mode(d), 0o700, "{}", d.display());
    }
    let dest = fx.path("restored");
    restore(&target, None, &dest, fx.provider()).unwrap();
    assert_eq!(mode(&dest), 0o700);
    let restored = files_under(&dest);
    assert!(restored.len() >= 4, "{restored:?}");
    for f in restored {
        assert_eq!(mode(&f) & 0o077, 0, "{}", f.display());
    }
}
