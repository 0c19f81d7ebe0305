//! Round trip, incremental uploads, backup choice, restore refusals, retention and periodic backups.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use atrest_backup::{
    BackupError, Schedule, StopSignal, Target, backup, list_backups, prune, read_manifest, restore, run_schedule,
    verify_backup,
};
use atrest_keys::{InsecureMemoryProvider, MasterKeyId};
use atrest_store::{IndexPolicy, Store};
use common::{Fixture, contents};
use serde_json::json;

fn fill(store: &Store, from: usize, to: usize) {
    for i in from..to {
        let doc = json!({"n": i, "city": if i % 2 == 0 { "Oslo" } else { "Lima" }, "pad": "x".repeat(300)});
        store.put("people", &format!("p{i:04}"), serde_json::to_vec(&doc).unwrap()).unwrap();
    }
    let blob: Vec<u8> = (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    store.attach("people", &format!("p{from:04}"), &format!("photo-{from}.bin"), &blob[..]).unwrap();
}

fn objects(dir: &std::path::Path) -> BTreeSet<String> {
    std::fs::read_dir(dir.join("objects")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect()
}

#[test]
fn round_trip_incremental_and_choice_of_backup() {
    let fx = Fixture::new();
    let (store, _keyring) = fx.create_store("data");
    store.create_collection("people", IndexPolicy::All).unwrap();
    store.create_collection("notes", IndexPolicy::None).unwrap();
    fill(&store, 0, 150);
    store.put("notes", "n1", br#"{"text":"hello"}"#.to_vec()).unwrap();
    let first_contents = contents(&store);
    let target_dir = fx.path("target");
    let target = Target::open(target_dir.to_str().unwrap()).unwrap();

    let first = backup(&store, &target).unwrap();
    assert!(first.files >= 4, "format, manifest, keyring and segments: {first:?}");
    assert_eq!(first.objects_reused, 0);
    let after_first = objects(&target_dir);

    // A second backup after a few more writes uploads only the chunks the target lacks.
    fill(&store, 150, 170);
    let second = backup(&store, &target).unwrap();
    assert!(second.objects_reused > 0, "{second:?}");
    assert!(second.bytes_uploaded < second.bytes / 2, "{second:?}");
    let after_second = objects(&target_dir);
    assert!(after_first.is_subset(&after_second));
    assert_eq!(after_second.len() - after_first.len(), second.objects_uploaded);
    let second_contents = contents(&store);
    assert_ne!(first_contents, second_contents);

    assert_eq!(list_backups(&target).unwrap(), vec![first.id.clone(), second.id.clone()]);
    let m = read_manifest(&target, &second.id, store.keys()).unwrap();
    assert_eq!(m.files.len(), second.files);
    assert!(m.keyring().is_some());

    // Default: the newest backup.
    let report = restore(&target, None, &fx.path("restored-latest"), fx.provider()).unwrap();
    assert_eq!(report.id, second.id);
    assert!(report.pages_ok > 0);
    let (restored, _) = fx.open_store(&fx.path("restored-latest"));
    assert_eq!(contents(&restored), second_contents);
    let oslo = restored.find("people", "/city", &json!("Oslo")).unwrap();
    assert_eq!(oslo.len(), 85);
    assert_eq!(
        oslo.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        store.find("people", "/city", &json!("Oslo")).unwrap().into_iter().map(|(id, _)| id).collect::<Vec<_>>()
    );
    // The restored store accepts writes.
    restored.put("notes", "n2", br#"{"text":"after restore"}"#.to_vec()).unwrap();
    assert!(restored.get("notes", "n2").unwrap().is_some());

    // An older backup by id.
    let report = restore(&target, Some(&first.id), &fx.path("restored-first"), fx.provider()).unwrap();
    assert_eq!(report.id, first.id);
    let (restored, _) = fx.open_store(&fx.path("restored-first"));
    assert_eq!(contents(&restored), first_contents);

    let v = verify_backup(&target, Some(&first.id), fx.provider()).unwrap();
    assert_eq!(v.id, first.id);
    assert!(v.pages_ok > 0);
}

#[test]
fn restore_refuses_non_empty_directory_unknown_backup_and_wrong_master_key() {
    let fx = Fixture::new();
    let (store, _keyring) = fx.create_store("data");
    store.create_collection("people", IndexPolicy::All).unwrap();
    fill(&store, 0, 10);
    let target = Target::open(fx.path("target").to_str().unwrap()).unwrap();
    let b = backup(&store, &target).unwrap();

    let busy = fx.path("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("something"), b"mine").unwrap();
    let err = restore(&target, None, &busy, fx.provider()).unwrap_err();
    assert!(matches!(err, BackupError::DestinationNotEmpty { .. }), "{err}");
    assert_eq!(std::fs::read(busy.join("something")).unwrap(), b"mine");

    let err = restore(&target, Some("20000101T000000.000Z-00000000"), &fx.path("x"), fx.provider()).unwrap_err();
    assert!(matches!(err, BackupError::NoSuchBackup { .. }), "{err}");
    assert!(!fx.path("x").exists());

    // Another provider with a master key of the same name but other bytes: the keyring refuses it.
    let other = std::sync::Arc::new(InsecureMemoryProvider::with_master_key(&MasterKeyId::new("m1").unwrap()).unwrap());
    let dest = fx.path("wrong-key");
    let err = restore(&target, Some(&b.id), &dest, other).unwrap_err();
    assert!(matches!(err, BackupError::Keys(_)), "{err}");
    assert!(!dest.exists(), "a failed restore removes the directory it created");
    let empty_dir = fx.path("empty");
    std::fs::create_dir(&empty_dir).unwrap();
    let other = std::sync::Arc::new(InsecureMemoryProvider::with_master_key(&MasterKeyId::new("m1").unwrap()).unwrap());
    assert!(restore(&target, Some(&b.id), &empty_dir, other).is_err());
    assert_eq!(std::fs::read_dir(&empty_dir).unwrap().count(), 0, "a directory it did not create is left empty");
    assert!(restore(&target, Some("20000101T000000.000Z-00000000"), &fx.path("x"), fx.provider()).is_err());
    assert!(!fx.path("x").exists(), "an unknown backup leaves nothing behind either");

    let empty = Target::memory().unwrap();
    assert!(matches!(restore(&empty, None, &fx.path("y"), fx.provider()), Err(BackupError::NoBackups { .. })));
}

#[test]
fn in_memory_target_round_trip() {
    let fx = Fixture::new();
    let (store, _keyring) = fx.create_store("data");
    store.create_collection("people", IndexPolicy::All).unwrap();
    fill(&store, 0, 30);
    let target = Target::memory().unwrap();
    let b = backup(&store, &target).unwrap();
    let r = restore(&target, None, &fx.path("restored"), fx.provider()).unwrap();
    assert_eq!((r.id.as_str(), r.files), (b.id.as_str(), b.files));
    let (restored, _) = fx.open_store(&fx.path("restored"));
    assert_eq!(contents(&restored), contents(&store));
}

#[test]
fn retention_keeps_what_kept_backups_need() {
    let fx = Fixture::new();
    let (store, _keyring) = fx.create_store("data");
    store.create_collection("people", IndexPolicy::All).unwrap();
    let target_dir = fx.path("target");
    let target = Target::open(target_dir.to_str().unwrap()).unwrap();
    let mut snapshots = Vec::new();
    for round in 0..4 {
        fill(&store, round * 40, round * 40 + 40);
        if round == 2 {
            store.delete("people", "p0000").unwrap();
        }
        let b = backup(&store, &target).unwrap();
        snapshots.push((b.id, contents(&store)));
    }
    // Leave an orphan chunk, as an interrupted backup would.
    std::fs::write(target_dir.join("objects").join("00".repeat(32)), b"orphan").unwrap();
    let before = objects(&target_dir);

    let keys = store.keys().clone();
    let plan = prune(&target, store.format().store_id, &keys, None, 2).unwrap();
    assert_eq!(plan.removed, [snapshots[0].0.clone(), snapshots[1].0.clone()]);
    assert_eq!(plan.kept, [snapshots[2].0.clone(), snapshots[3].0.clone()]);
    assert!(!plan.objects.is_empty());
    assert_eq!(list_backups(&target).unwrap(), plan.kept);
    let after = objects(&target_dir);
    assert!(after.len() < before.len());
    assert!(!after.contains(&"00".repeat(32)), "the orphan is gone");
    // Exactly the objects the kept manifests reference remain.
    let mut needed = BTreeSet::new();
    for id in &plan.kept {
        needed.extend(read_manifest(&target, id, &keys).unwrap().objects().map(|d| d.to_hex()));
    }
    assert_eq!(after, needed);
    for (id, expected) in &snapshots[2..] {
        verify_backup(&target, Some(id), fx.provider()).unwrap();
        let dest = fx.path(&format!("r-{id}"));
        restore(&target, Some(id), &dest, fx.provider()).unwrap();
        assert_eq!(&contents(&fx.open_store(&dest).0), expected);
    }
    assert!(matches!(prune(&target, store.format().store_id, &keys, None, 0), Err(BackupError::Config(_))));
}

#[test]
fn periodic_backups_with_retention() {
    let fx = Fixture::new();
    let (store, _keyring) = fx.create_store("data");
    store.create_collection("people", IndexPolicy::All).unwrap();
    fill(&store, 0, 20);
    let target = Target::open(fx.path("target").to_str().unwrap()).unwrap();
    let schedule = Schedule { every: Duration::from_millis(20), keep: Some(2), runs: Some(4) };
    let mut seen = Vec::new();
    let ok = run_schedule(&store, &target, Some(&fx.provider()), &schedule, &StopSignal::new(), &mut |r| {
        seen.push(r.as_ref().map(|r| (r.backup.id.clone(), r.pruned.as_ref().map(|p| p.kept.len()))).unwrap())
    })
    .unwrap();
    assert_eq!(ok, 4);
    assert_eq!(seen.len(), 4);
    assert_eq!(seen.last().unwrap().1, Some(2));
    let ids = list_backups(&target).unwrap();
    assert_eq!(ids, [seen[2].0.clone(), seen[3].0.clone()]);

    // A raised stop signal ends the schedule before its first run.
    let stop = StopSignal::new();
    stop.stop();
    let forever = Schedule { every: Duration::from_secs(3600), keep: None, runs: None };
    assert_eq!(run_schedule(&store, &target, None, &forever, &stop, &mut |_| {}).unwrap(), 0);
    let bad = Schedule { every: Duration::ZERO, keep: None, runs: None };
    assert!(run_schedule(&store, &target, None, &bad, &stop, &mut |_| {}).is_err());
}

#[test]
fn retention_after_rekey_destroyed_the_old_store_key() {
    let fx = Fixture::new();
    let (store, _keyring) = fx.create_store("data");
    store.create_collection("people", IndexPolicy::All).unwrap();
    fill(&store, 0, 20);
    let target = Target::open(fx.path("target").to_str().unwrap()).unwrap();
    let old = backup(&store, &target).unwrap();
    store.rotate().unwrap();
    let report = store.rekey(&mut |_, _| {}).unwrap();
    assert!(!report.keys_destroyed.is_empty(), "{report:?}");
    fill(&store, 20, 30);
    backup(&store, &target).unwrap();
    let keys = store.keys().clone();
    // The old manifest's key is gone from the live store: without the master key, pruning refuses to guess.
    let err = read_manifest(&target, &old.id, &keys).unwrap_err();
    assert!(matches!(err, BackupError::ManifestKey { .. }), "{err}");
    assert!(prune(&target, store.format().store_id, &keys, None, 2).is_err());
    assert_eq!(list_backups(&target).unwrap().len(), 2);
    // With the provider, the old backup's own keyring opens it; both are kept and nothing they need is removed.
    fill(&store, 30, 35);
    backup(&store, &target).unwrap();
    let plan = prune(&target, store.format().store_id, &keys, Some(&fx.provider()), 3).unwrap();
    assert_eq!(plan.kept.len(), 3);
    assert!(plan.kept.contains(&old.id));
    let dest = fx.path("old");
    restore(&target, Some(&old.id), &dest, fx.provider()).unwrap();
    assert_eq!(fx.open_store(&dest).0.count("people").unwrap(), 20);
}
