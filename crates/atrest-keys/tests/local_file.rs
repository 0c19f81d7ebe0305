//! The local key file provider: where the file may be, who may read it, its format, and its use by a keyring.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use atrest_keys::{DataKey, KeyError, KeyProvider, Keyring, LocalKeyFileProvider, ManualClock, Scope};
use common::{T0, mid};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn create_makes_a_private_file_in_a_private_directory() {
    let home = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let path = home.path().join("config/atrest/keys/store-1.key");
    let provider = LocalKeyFileProvider::create(&path, data.path(), &mid("m1")).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert_eq!(mode(&home.path().join("config")), 0o700);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# atrest master key file, format 1."));
    assert!(text.contains("atrest-master-key-v1 m1 "));

    let key = DataKey::generate().unwrap();
    let wrapped = provider.wrap(&mid("m1"), &key, b"entry").unwrap();
    let reopened = LocalKeyFileProvider::open(&path, data.path()).unwrap();
    assert_eq!(reopened.unwrap(&mid("m1"), &wrapped, b"entry").unwrap().expose_secret(), key.expose_secret());
    assert!(matches!(reopened.unwrap(&mid("m1"), &wrapped, b"other entry"), Err(KeyError::UnwrapFailed { .. })));
    assert!(matches!(reopened.wrap(&mid("m2"), &key, b""), Err(KeyError::MasterKeyNotFound { .. })));

    let err = LocalKeyFileProvider::create(&path, data.path(), &mid("m1")).unwrap_err();
    assert!(matches!(err, KeyError::KeyFileIo { .. }), "an existing key file is never overwritten: {err}");
}

#[test]
fn a_key_file_inside_the_data_directory_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let inside = data.path().join("keys/master.key");
    let err = LocalKeyFileProvider::create(&inside, data.path(), &mid("m1")).unwrap_err();
    assert!(matches!(&err, KeyError::KeyFileInsideDataDir { path, .. } if path == &inside), "{err}");
    assert!(!inside.exists());

    // A good key file copied into the data directory is refused on open, naming the file and the fix.
    let home = tempfile::tempdir().unwrap();
    let good = home.path().join("k.key");
    LocalKeyFileProvider::create(&good, data.path(), &mid("m1")).unwrap();
    let copied = data.path().join("k.key");
    std::fs::copy(&good, &copied).unwrap();
    chmod(&copied, 0o600);
    let err = LocalKeyFileProvider::open(&copied, data.path()).unwrap_err();
    assert!(matches!(err, KeyError::KeyFileInsideDataDir { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&copied.display().to_string()) && msg.contains("move it outside"), "{msg}");

    // Also through a symbolic link that points into the data directory.
    let link = home.path().join("link.key");
    std::os::unix::fs::symlink(&copied, &link).unwrap();
    assert!(matches!(LocalKeyFileProvider::open(&link, data.path()), Err(KeyError::KeyFileInsideDataDir { .. })));
}

#[test]
fn a_key_file_readable_by_others_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let path = home.path().join("k.key");
    LocalKeyFileProvider::create(&path, data.path(), &mid("m1")).unwrap();
    for bad in [0o640, 0o604, 0o660, 0o644] {
        chmod(&path, bad);
        let err = LocalKeyFileProvider::open(&path, data.path()).unwrap_err();
        assert!(matches!(err, KeyError::KeyFilePermissions { mode, .. } if mode == bad), "{err}");
        let msg = err.to_string();
        assert!(msg.contains(&format!("chmod 600 {}", path.display())), "{msg}");
    }
    chmod(&path, 0o400);
    assert!(LocalKeyFileProvider::open(&path, data.path()).is_ok());
}

#[test]
fn a_key_file_in_a_directory_others_can_write_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let dir = home.path().join("keys");
    let path = dir.join("k.key");
    LocalKeyFileProvider::create(&path, data.path(), &mid("m1")).unwrap();
    chmod(&dir, 0o777);
    let err = LocalKeyFileProvider::open(&path, data.path()).unwrap_err();
    assert!(matches!(&err, KeyError::KeyDirPermissions { path, mode: 0o777 } if path == &dir), "{err}");
    assert!(err.to_string().contains("chmod 700"));
    let other = dir.join("other.key");
    let err = LocalKeyFileProvider::create(&other, data.path(), &mid("m1")).unwrap_err();
    assert!(matches!(err, KeyError::KeyDirPermissions { .. }), "{err}");
    assert!(!other.exists());
}

#[test]
fn a_malformed_key_file_names_the_line() {
    let home = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let path = home.path().join("k.key");
    let write = |text: &str| {
        std::fs::write(&path, text).unwrap();
        chmod(&path, 0o600);
    };
    let good_line = format!("atrest-master-key-v1 m1 {}\n", "ab".repeat(32));
    for (text, line) in [
        (format!("# c\n{good_line}atrest-master-key-v1 m2 abcd\n"), 3),
        (format!("{good_line}{good_line}"), 2),
        ("something else\n".to_owned(), 1),
        ("# only a comment\n".to_owned(), 0),
    ] {
        write(&text);
        let err = LocalKeyFileProvider::open(&path, data.path()).unwrap_err();
        assert!(matches!(&err, KeyError::KeyFileMalformed { line: l, .. } if *l == line), "{text:?}: {err}");
    }
    write(&good_line);
    assert!(LocalKeyFileProvider::open(&path, data.path()).is_ok());
}

#[test]
fn added_and_retired_master_keys_are_persisted() {
    let home = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let path = home.path().join("k.key");
    let provider = LocalKeyFileProvider::create(&path, data.path(), &mid("m1")).unwrap();
    provider.create_master_key(&mid("m2")).unwrap();
    assert!(matches!(provider.create_master_key(&mid("m2")), Err(KeyError::MasterKeyExists { .. })));
    assert_eq!(mode(&path), 0o600);
    let reopened = LocalKeyFileProvider::open(&path, data.path()).unwrap();
    assert_eq!(reopened.master_key_ids().unwrap(), vec![mid("m1"), mid("m2")]);
    reopened.retire_master_key(&mid("m1")).unwrap();
    let reopened = LocalKeyFileProvider::open(&path, data.path()).unwrap();
    assert_eq!(reopened.master_key_ids().unwrap(), vec![mid("m2")]);
    assert_eq!(reopened.health().unwrap().master_keys, vec![mid("m2")]);
}

#[test]
fn a_keyring_under_a_key_file_and_a_swapped_key_file() {
    let home = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let path = home.path().join("k.key");
    let clock = Arc::new(ManualClock::new(T0));
    let provider = Arc::new(LocalKeyFileProvider::create(&path, data.path(), &mid("m1")).unwrap());
    let keyring = Keyring::create(data.path(), provider.clone(), &mid("m1"), clock.clone()).unwrap();
    let (id, key) = keyring.active_key(Scope::Store).unwrap();
    drop(keyring);
    let keyring = Keyring::open(data.path(), provider, clock.clone()).unwrap();
    assert_eq!(keyring.key(id).unwrap().expose_secret(), key.expose_secret());
    assert_eq!(keyring.entries()[0].provider, "local-file");
    // No key material in the data directory in the clear.
    let ring = std::fs::read(Keyring::path_in(data.path())).unwrap();
    assert!(!common::contains(&ring, key.expose_secret()));
    assert!(!common::contains(&ring, hex::encode(key.expose_secret()).as_bytes()));
    drop(keyring);

    // Another key file with the same master-key id: the keyring names the wrong master key.
    std::fs::remove_file(&path).unwrap();
    LocalKeyFileProvider::create(&path, data.path(), &mid("m1")).unwrap();
    let provider = Arc::new(LocalKeyFileProvider::open(&path, data.path()).unwrap());
    let err = Keyring::open(data.path(), provider, clock.clone()).unwrap_err();
    assert!(matches!(&err, KeyError::WrongMasterKey { master_key, .. } if master_key == "m1"), "{err}");

    // A keyring made with another provider kind is refused.
    let memory = Arc::new(atrest_keys::InsecureMemoryProvider::with_master_key(&mid("m1")).unwrap());
    let err = Keyring::open(data.path(), memory, clock).unwrap_err();
    assert!(matches!(err, KeyError::ProviderMismatch { .. }), "{err}");
}

#[test]
fn master_key_ids_are_checked() {
    for bad in ["", "has space", "tab\t", "ü", &"x".repeat(65)] {
        assert!(matches!(atrest_keys::MasterKeyId::new(bad), Err(KeyError::InvalidMasterKeyId { .. })), "{bad:?}");
    }
    assert!(atrest_keys::MasterKeyId::new("store-1/master-2024").is_ok());
}
