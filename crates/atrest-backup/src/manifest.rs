//! The sealed backup manifest: which files a backup holds, their sizes and digests, and the chunks that make
//! them up. One per backup, at `backups/<id>`.
//!
//! ```text
//!  offset size  field
//!   0      8    magic            "ATRBKUP\n"
//!   8      4    version          u32 LE (1)
//!  12      4    key id           u32 LE: the store-scope data key that seals the body
//!  16     24    nonce            random XAES-256-GCM nonce
//!  40     16    store id         the store's id (as in its plaintext format file): finds the key file
//!  56      2    id length        u16 LE, then the backup id (ASCII, must equal the object's name)
//!   .      4    keyring chunks   u32 LE count, then per chunk: digest (32) | length u64 LE
//!   .      8    body length      u64 LE
//!   .      n    body             XAES-256-GCM ciphertext
//!   .     16    tag
//! ```
//!
//! Everything before the body is the associated data, so a changed header byte (another key id, another id, a
//! keyring swapped for an older one) fails authentication like a changed body byte. The header is plaintext
//! only as far as it must be: the store id (to find the master key file), the key id and the keyring's chunks
//! are what a restore needs to find the key that opens the rest; none of them is user data. The body, once opened:
//!
//! ```text
//! created (unix ms) u64 | file count u32
//!   | per file: name (u16 len | UTF-8) | size u64 | SHA-256 of the whole file (32)
//!               | chunk count u32 | per chunk: digest (32) | length u64
//! ```
//!
//! File names are the store's own (a flat directory) and are user-data free, but they still stay sealed.

use std::sync::Arc;

use atrest_core::{TAG_LEN, XAES_NONCE_LEN, Xaes256Gcm};
use atrest_keys::{KeyError, Keyring, Scope};

use crate::codec::{Dec, Enc};
use crate::digest::Digest;
use crate::error::{BackupError, Result};
use crate::layout::{manifest_name, valid_id};

const MAGIC: &[u8; 8] = b"ATRBKUP\n";
/// The manifest format version this build reads and writes.
pub const MANIFEST_VERSION: u32 = 1;
/// Size of a chunk reference: digest and length.
const CHUNK_REF_LEN: usize = 40;
/// The keyring's file name in a snapshot (the keyring crate's own constant).
pub const KEYRING_NAME: &str = atrest_keys::KEYRING_FILE;

/// One stored chunk of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRef {
    /// SHA-256 of the chunk; the object is `objects/<digest>`.
    pub digest: Digest,
    /// Its length.
    pub len: u64,
}

/// One file of a backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// The file's name in the data directory.
    pub name: String,
    /// Its size in the snapshot.
    pub size: u64,
    /// SHA-256 of the whole file as stored.
    pub digest: Digest,
    /// Its chunks, in order; their lengths add up to `size`.
    pub chunks: Vec<ChunkRef>,
}

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupManifest {
    /// The backup id (also the manifest's object name under `backups/`).
    pub id: String,
    /// The store's id (plaintext in its format file too).
    pub store_id: [u8; 16],
    /// When the snapshot was taken, Unix milliseconds.
    pub created_ms: u64,
    /// The files, sorted by name; one of them is the keyring.
    pub files: Vec<FileEntry>,
}

/// Whether `name` is a plain file name that may be written into a data directory.
pub fn valid_file_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

impl BackupManifest {
    /// The keyring's entry.
    pub fn keyring(&self) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.name == KEYRING_NAME)
    }

    /// Every object the backup needs, the manifest excepted.
    pub fn objects(&self) -> impl Iterator<Item = Digest> + '_ {
        self.files.iter().flat_map(|f| f.chunks.iter().map(|c| c.digest))
    }

    /// Seals the manifest under the store-scope data key of `keys`, the store's keyring.
    ///
    /// # Errors
    /// [`BackupError::ManifestFormat`] for a manifest that breaks the format's rules (no keyring, a bad id or
    /// file name, chunks that do not add up); key errors.
    pub fn seal(&self, keys: &Keyring) -> Result<Vec<u8>> {
        let (key_id, _) = keys.active_key(Scope::Store)?;
        let cipher = keys.cipher(key_id)?;
        let mut nonce = [0u8; XAES_NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| BackupError::Random(e.to_string()))?;
        self.seal_with(key_id, &cipher, &nonce)
    }

    /// [`BackupManifest::seal`] with a given key and nonce (golden tests); callers draw the nonce at random.
    fn seal_with(&self, key_id: u32, cipher: &Xaes256Gcm, nonce: &[u8; XAES_NONCE_LEN]) -> Result<Vec<u8>> {
        self.check()?;
        let keyring = self.keyring().expect("checked");
        let mut body = Enc::default();
        body.u64(self.created_ms).u32(self.files.len() as u32);
        for f in &self.files {
            body.str(&f.name).u64(f.size).bytes(&f.digest.0).u32(f.chunks.len() as u32);
            for c in &f.chunks {
                body.bytes(&c.digest.0).u64(c.len);
            }
        }
        let mut body = body.0;
        let mut out = Enc::default();
        out.bytes(MAGIC).u32(MANIFEST_VERSION).u32(key_id).bytes(nonce).bytes(&self.store_id).str(&self.id);
        out.u32(keyring.chunks.len() as u32);
        for c in &keyring.chunks {
            out.bytes(&c.digest.0).u64(c.len);
        }
        out.u64(body.len() as u64);
        let mut out = out.0;
        let tag = cipher.seal_in_place(nonce, &out, &mut body).map_err(|e| self.format_err(e.to_string()))?;
        out.extend_from_slice(&body);
        out.extend_from_slice(&tag);
        Ok(out)
    }

    fn format_err(&self, detail: String) -> BackupError {
        BackupError::ManifestFormat { object: manifest_name(&self.id), detail }
    }

    fn check(&self) -> Result<()> {
        if !valid_id(&self.id) {
            return Err(self.format_err(format!("invalid backup id {:?}", self.id)));
        }
        let mut last: Option<&str> = None;
        for f in &self.files {
            if !valid_file_name(&f.name) {
                return Err(self.format_err(format!("invalid file name {:?}", f.name)));
            }
            if last.is_some_and(|l| l >= f.name.as_str()) {
                return Err(self.format_err(format!("file {:?} is out of order or listed twice", f.name)));
            }
            last = Some(&f.name);
            if f.chunks.iter().map(|c| c.len).try_fold(0u64, u64::checked_add) != Some(f.size) {
                return Err(self.format_err(format!("the chunks of file {:?} do not add up to its size", f.name)));
            }
        }
        if self.keyring().is_none() {
            return Err(self.format_err("the backup has no keyring".into()));
        }
        Ok(())
    }
}

/// The plaintext header of a sealed manifest: enough to find the keyring and key that open it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestHeader {
    /// The backup id.
    pub id: String,
    /// The data key that seals the body.
    pub key_id: u32,
    /// The store's id.
    pub store_id: [u8; 16],
    /// The keyring's chunks.
    pub keyring: Vec<ChunkRef>,
    nonce: [u8; XAES_NONCE_LEN],
    body_start: usize,
    body_len: usize,
}

/// Parses the header of the manifest stored as `object`. Nothing in it is trusted until [`open`] succeeds.
///
/// # Errors
/// [`BackupError::ManifestFormat`] naming the field at fault.
pub fn read_header(object: &str, bytes: &[u8]) -> Result<ManifestHeader> {
    let fail = |detail: String| BackupError::ManifestFormat { object: object.to_owned(), detail };
    let mut d = Dec::new(bytes);
    if d.take(8, "magic").map_err(fail)? != MAGIC {
        return Err(fail("not an atrest backup manifest (bad magic)".into()));
    }
    let version = d.u32("version").map_err(fail)?;
    if version != MANIFEST_VERSION {
        return Err(fail(format!("manifest version {version}, this build reads {MANIFEST_VERSION}")));
    }
    let key_id = d.u32("key id").map_err(fail)?;
    let nonce = d.array::<XAES_NONCE_LEN>("nonce").map_err(fail)?;
    let store_id = d.array::<16>("store id").map_err(fail)?;
    let id = d.str("backup id").map_err(fail)?;
    if !valid_id(&id) {
        return Err(fail(format!("invalid backup id {id:?}")));
    }
    let n = d.count(CHUNK_REF_LEN, "keyring chunk count").map_err(fail)?;
    let mut keyring = Vec::with_capacity(n);
    for _ in 0..n {
        let digest = Digest(d.array("keyring chunk digest").map_err(fail)?);
        keyring.push(ChunkRef { digest, len: d.u64("keyring chunk length").map_err(fail)? });
    }
    let body_len = d.u64("body length").map_err(fail)?;
    let body_start = d.pos();
    if body_len.checked_add(TAG_LEN as u64) != Some(d.remaining() as u64) {
        return Err(fail(format!(
            "body length {body_len} and tag do not match the {} bytes after the header (truncated or extended)",
            d.remaining()
        )));
    }
    Ok(ManifestHeader { id, key_id, store_id, keyring, nonce, body_start, body_len: body_len as usize })
}

/// Opens the manifest stored as `object` (`backups/<id>`) with `keys`, the store's keyring (or the one the
/// backup carries).
///
/// # Errors
/// [`BackupError::ManifestFormat`], [`BackupError::ManifestKey`], [`BackupError::ManifestAuthentication`]
/// (one opaque error for any altered byte); [`BackupError::Keys`] when the key service fails.
pub fn open(object: &str, bytes: &[u8], keys: &Keyring) -> Result<BackupManifest> {
    open_with(object, bytes, &|id| match keys.cipher(id) {
        Ok(cipher) => Ok(Some(cipher)),
        Err(KeyError::UnknownKey { .. } | KeyError::KeyDestroyed { .. }) => Ok(None),
        Err(e) => Err(BackupError::Keys(e)),
    })
}

/// The cipher of a data key id, `None` for an unknown or destroyed key.
type CipherOf<'a> = dyn Fn(u32) -> Result<Option<Arc<Xaes256Gcm>>> + 'a;

/// [`open`] with the key found by `cipher_of`.
fn open_with(object: &str, bytes: &[u8], cipher_of: &CipherOf<'_>) -> Result<BackupManifest> {
    let header = read_header(object, bytes)?;
    let fail = |detail: String| BackupError::ManifestFormat { object: object.to_owned(), detail };
    if manifest_name(&header.id) != object {
        // Checked again by authentication, but a renamed manifest deserves a clear message.
        return Err(fail(format!("names backup {:?}, which is not its object name", header.id)));
    }
    let cipher = cipher_of(header.key_id)?
        .ok_or(BackupError::ManifestKey { object: object.to_owned(), key_id: header.key_id })?;
    let (aad, rest) = bytes.split_at(header.body_start);
    let (body, tag) = rest.split_at(header.body_len);
    let tag: [u8; TAG_LEN] = tag.try_into().expect("length checked by read_header");
    let mut body = zeroize::Zeroizing::new(body.to_vec());
    cipher
        .open_in_place(&header.nonce, aad, &mut body, &tag)
        .map_err(|_| BackupError::ManifestAuthentication { object: object.to_owned() })?;
    let mut d = Dec::new(&body);
    let created_ms = d.u64("created").map_err(fail)?;
    let n = d.count(2 + 8 + 32 + 4, "file count").map_err(fail)?;
    let mut files = Vec::with_capacity(n);
    for _ in 0..n {
        let name = d.str("file name").map_err(fail)?;
        let size = d.u64("file size").map_err(fail)?;
        let digest = Digest(d.array("file digest").map_err(fail)?);
        let c = d.count(CHUNK_REF_LEN, "chunk count").map_err(fail)?;
        let mut chunks = Vec::with_capacity(c);
        for _ in 0..c {
            let cd = Digest(d.array("chunk digest").map_err(fail)?);
            chunks.push(ChunkRef { digest: cd, len: d.u64("chunk length").map_err(fail)? });
        }
        files.push(FileEntry { name, size, digest, chunks });
    }
    if d.remaining() != 0 {
        return Err(fail(format!("{} bytes after the file list", d.remaining())));
    }
    let manifest = BackupManifest { id: header.id, store_id: header.store_id, created_ms, files };
    manifest.check()?;
    if manifest.keyring().map(|k| &k.chunks) != Some(&header.keyring) {
        return Err(fail("the header's keyring does not match the file list".into()));
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data key of fixed bytes under a fixed id, so the golden manifest stays the same.
    struct FixedKey(u32, Arc<Xaes256Gcm>);

    impl FixedKey {
        fn new(id: u32, byte: u8) -> FixedKey {
            FixedKey(id, Arc::new(Xaes256Gcm::try_new(&[byte; 32]).unwrap()))
        }

        fn seal(&self, m: &BackupManifest) -> Result<Vec<u8>> {
            let mut nonce = [0u8; XAES_NONCE_LEN];
            getrandom::fill(&mut nonce).unwrap();
            m.seal_with(self.0, &self.1, &nonce)
        }

        fn open(&self, object: &str, bytes: &[u8]) -> Result<BackupManifest> {
            open_with(object, bytes, &|id| Ok((id == self.0).then(|| Arc::clone(&self.1))))
        }
    }

    fn sample() -> BackupManifest {
        let chunk = |b: u8, len| ChunkRef { digest: Digest([b; 32]), len };
        BackupManifest {
            id: "20261130T034600.000Z-0a1b2c3d".into(),
            store_id: [7; 16],
            created_ms: 1_796_010_360_000,
            files: vec![
                FileEntry { name: "ATREST".into(), size: 29, digest: Digest([1; 32]), chunks: vec![chunk(1, 29)] },
                FileEntry { name: KEYRING_NAME.into(), size: 10, digest: Digest([2; 32]), chunks: vec![chunk(2, 10)] },
                FileEntry {
                    name: "seg-0000000000000001.atr".into(),
                    size: 5,
                    digest: Digest([3; 32]),
                    chunks: vec![chunk(4, 3), chunk(5, 2)],
                },
            ],
        }
    }

    #[test]
    fn round_trip_and_golden() {
        let key = FixedKey::new(3, 0x42);
        let m = sample();
        let object = manifest_name(&m.id);
        let sealed = m.seal_with(3, &key.1, &[9; XAES_NONCE_LEN]).unwrap();
        assert_eq!(key.open(&object, &sealed).unwrap(), m);
        let header = read_header(&object, &sealed).unwrap();
        assert_eq!((header.key_id, header.store_id, header.id.as_str()), (3, [7; 16], m.id.as_str()));
        assert_eq!(header.keyring, m.keyring().unwrap().chunks);
        // Pins format version 1: a change to the layout must not silently break old backups.
        assert_eq!(
            Digest::of(&sealed).to_hex(),
            "f2500da284724de61690e0a1b49ec31dab589c3a53d5fb2d8c6c32cfc75e5589",
            "manifest format v1 changed"
        );
        // A random nonce each time.
        assert_ne!(key.seal(&m).unwrap(), key.seal(&m).unwrap());
    }

    #[test]
    fn every_flip_and_truncation_is_refused() {
        let key = FixedKey::new(3, 0x42);
        let m = sample();
        let object = manifest_name(&m.id);
        let sealed = key.seal(&m).unwrap();
        for i in 0..sealed.len() {
            for bit in [0x01, 0x80] {
                let mut bad = sealed.clone();
                bad[i] ^= bit;
                assert!(key.open(&object, &bad).is_err(), "flip at byte {i}");
            }
        }
        for len in 0..sealed.len() {
            assert!(key.open(&object, &sealed[..len]).is_err(), "truncated to {len}");
        }
        let mut longer = sealed.clone();
        longer.push(0);
        assert!(key.open(&object, &longer).is_err());
        // Renamed, or opened with another key.
        assert!(key.open("backups/20000101T000000.000Z-00000000", &sealed).is_err());
        let err = FixedKey::new(3, 0x43).open(&object, &sealed).unwrap_err();
        assert!(matches!(err, BackupError::ManifestAuthentication { .. }), "{err}");
        let err = FixedKey::new(4, 0x42).open(&object, &sealed).unwrap_err();
        assert!(matches!(err, BackupError::ManifestKey { key_id: 3, .. }), "{err}");
    }

    #[test]
    fn malformed_manifests_are_not_sealed() {
        let key = FixedKey::new(1, 0);
        let mut m = sample();
        m.files.retain(|f| f.name != KEYRING_NAME);
        assert!(key.seal(&m).is_err(), "no keyring");
        let mut m = sample();
        m.files[0].name = "../escape".into();
        assert!(key.seal(&m).is_err(), "path in a file name");
        let mut m = sample();
        m.files[2].size = 6;
        assert!(key.seal(&m).is_err(), "chunks do not add up");
        let mut m = sample();
        m.files.swap(0, 1);
        assert!(key.seal(&m).is_err(), "out of order");
        let mut m = sample();
        m.id = "a/b".into();
        assert!(key.seal(&m).is_err(), "bad id");
    }
}
