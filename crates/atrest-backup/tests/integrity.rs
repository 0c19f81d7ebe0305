//! verify-backup and restore catch every deleted, truncated or altered backup file by name, a damaged manifest,
//! and a page that does not open.

mod common;

use std::path::{Path, PathBuf};

use atrest_backup::{
    BackupError, Problem, ProblemKind, Snapshot, Target, backup, backup_snapshot, layout::manifest_name, read_manifest,
    restore, verify_backup,
};
use atrest_store::IndexPolicy;
use common::Fixture;

fn problems(r: Result<atrest_backup::VerifyBackupReport, BackupError>) -> Vec<Problem> {
    match r {
        Err(BackupError::Damaged { problems, .. }) => problems,
        other => panic!("expected a damaged backup, got {other:?}"),
    }
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    Delete,
    Truncate,
    Alter,
}

fn damage(path: &Path, how: Damage) {
    match how {
        Damage::Delete => std::fs::remove_file(path).unwrap(),
        Damage::Truncate => {
            let len = std::fs::metadata(path).unwrap().len();
            std::fs::OpenOptions::new().write(true).open(path).unwrap().set_len(len / 2).unwrap();
        }
        Damage::Alter => {
            let mut b = std::fs::read(path).unwrap();
            let i = b.len() / 3;
            b[i] ^= 0x20;
            std::fs::write(path, b).unwrap();
        }
    }
}

#[test]
fn every_file_deleted_truncated_or_altered_is_reported_by_name() {
    let fx = Fixture::new();
    let (store, _keyring) = fx.create_store("data");
    store.create_collection("people", IndexPolicy::All).unwrap();
    for i in 0..120 {
        store.put("people", &format!("p{i}"), format!(r#"{{"n":{i},"pad":"{}"}}"#, "y".repeat(400))).unwrap();
    }
    store.checkpoint().unwrap();
    store.put("people", "late", br#"{"n":-1}"#.to_vec()).unwrap();
    let target_dir = fx.path("target");
    let target = Target::open(target_dir.to_str().unwrap()).unwrap();
    let b = backup(&store, &target).unwrap();
    let manifest = read_manifest(&target, &b.id, store.keys()).unwrap();
    let names: Vec<&str> = manifest.files.iter().map(|f| f.name.as_str()).collect();
    assert!(names.contains(&"keyring") && names.contains(&"MANIFEST") && names.contains(&"ATREST"), "{names:?}");
    assert!(names.iter().filter(|n| n.starts_with("seg-")).count() >= 2, "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("run-")), "{names:?}");
    verify_backup(&target, None, fx.provider()).unwrap();

    let mut checked = 0;
    for f in &manifest.files {
        let object: PathBuf = target_dir.join(f.chunks[0].digest.object_name());
        let original = std::fs::read(&object).unwrap();
        for how in [Damage::Delete, Damage::Truncate, Damage::Alter] {
            damage(&object, how);
            let found = problems(verify_backup(&target, None, fx.provider()));
            let ours: Vec<&Problem> = found.iter().filter(|p| p.file == f.name).collect();
            assert!(!ours.is_empty(), "{how:?} of {} not reported: {found:?}", f.name);
            let expected = match how {
                Damage::Delete => matches!(ours[0].kind, ProblemKind::Missing),
                Damage::Truncate => matches!(ours[0].kind, ProblemKind::WrongSize { .. }),
                Damage::Alter => matches!(ours[0].kind, ProblemKind::Altered),
            };
            assert!(expected, "{how:?} of {}: {found:?}", f.name);
            assert!(found.iter().all(|p| p.to_string().contains(&p.file)));
            std::fs::write(&object, &original).unwrap();
            checked += 1;
        }
    }
    assert_eq!(checked, manifest.files.len() * 3);
    verify_backup(&target, None, fx.provider()).unwrap();

    // Restore refuses a damaged backup and leaves nothing behind.
    let seg = manifest.files.iter().find(|f| f.name.starts_with("seg-")).unwrap();
    damage(&target_dir.join(seg.chunks[0].digest.object_name()), Damage::Alter);
    let dest = fx.path("restored");
    let err = restore(&target, None, &dest, fx.provider()).unwrap_err();
    match &err {
        BackupError::Damaged { problems, .. } => assert!(problems.iter().any(|p| p.file == seg.name), "{err}"),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains(&seg.name));
    assert!(!dest.exists(), "the directory restore created is removed again");
}

#[test]
fn damaged_manifest_is_caught() {
    let fx = Fixture::new();
    let (store, _keyring) = fx.create_store("data");
    store.create_collection("c", IndexPolicy::All).unwrap();
    store.put("c", "a", br#"{"x":1}"#.to_vec()).unwrap();
    let target_dir = fx.path("target");
    let target = Target::open(target_dir.to_str().unwrap()).unwrap();
    let b = backup(&store, &target).unwrap();
    let path = target_dir.join(manifest_name(&b.id));
    let original = std::fs::read(&path).unwrap();

    // Every single-byte change anywhere in the manifest, header or body, is refused.
    for i in (0..original.len()).step_by(7).chain([original.len() - 1]) {
        let mut bad = original.clone();
        bad[i] ^= 0x01;
        std::fs::write(&path, &bad).unwrap();
        let found = problems(verify_backup(&target, None, fx.provider()));
        assert!(found.iter().any(|p| p.file == "(manifest)" || p.file == "keyring"), "byte {i}: {found:?}");
    }
    for len in [0, 10, 41, original.len() / 2, original.len() - 1] {
        std::fs::write(&path, &original[..len]).unwrap();
        let found = problems(verify_backup(&target, None, fx.provider()));
        assert!(found.iter().any(|p| p.file == "(manifest)"), "length {len}: {found:?}");
    }
    let mut longer = original.clone();
    longer.push(0);
    std::fs::write(&path, &longer).unwrap();
    assert!(!problems(verify_backup(&target, None, fx.provider())).is_empty());

    // A manifest copied under another backup's name does not pass either.
    std::fs::write(&path, &original).unwrap();
    let other = target_dir.join(manifest_name("20000101T000000.000Z-00000000"));
    std::fs::write(&other, &original).unwrap();
    assert!(!problems(verify_backup(&target, Some("20000101T000000.000Z-00000000"), fx.provider())).is_empty());
    std::fs::remove_file(&other).unwrap();

    // A deleted manifest: the backup is gone, and says so by id.
    std::fs::remove_file(&path).unwrap();
    let err = verify_backup(&target, Some(&b.id), fx.provider()).unwrap_err();
    assert!(matches!(err, BackupError::NoSuchBackup { .. }) && err.to_string().contains(&b.id), "{err}");
}

#[test]
fn a_page_that_does_not_open_is_reported_by_file() {
    let fx = Fixture::new();
    let (store, keyring) = fx.create_store("data");
    store.create_collection("c", IndexPolicy::All).unwrap();
    for i in 0..40 {
        store.put("c", &format!("d{i}"), format!(r#"{{"i":{i},"p":"{}"}}"#, "z".repeat(200))).unwrap();
    }
    // Checkpointed, so the damaged page lies before the replay start: the restored store opens, and only
    // verify's page-by-page pass meets it.
    store.checkpoint().unwrap();
    store.close().unwrap();
    // Damage one page of a segment in the (closed) source store: the backup copies it faithfully, the digests
    // match, and only opening the pages finds it.
    let data = fx.path("data");
    let seg = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("seg-"))
        .min()
        .unwrap();
    let mut bytes = std::fs::read(data.join(&seg)).unwrap();
    assert!(bytes.len() >= 8192);
    bytes[4096 + 100] ^= 0x04;
    std::fs::write(data.join(&seg), &bytes).unwrap();

    let target = Target::memory().unwrap();
    let snap = Snapshot::of_quiet_dir(&data).unwrap();
    let keys = &*keyring;
    let store_id = atrest_store::Store::read_format(&atrest_store::FsStorage::new(&data)).unwrap().store_id;
    backup_snapshot(&snap, &target, keys, store_id, 1_700_000_000_000).unwrap();
    let found = problems(verify_backup(&target, None, fx.provider()));
    assert!(
        found.iter().any(|p| p.file == seg && matches!(p.kind, ProblemKind::Page { offset: 4096, .. })),
        "{found:?}"
    );
}
