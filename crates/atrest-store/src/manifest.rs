//! The files that say what the store is: the plaintext format file, and the sealed manifest and catalog.
//!
//! `ATREST` (plaintext, the only plaintext file besides the keyring, which holds only wrapped keys):
//!
//! ```text
//!  0  8  magic        "ATREST\n\0"
//!  8  4  version      format version, u32 LE (2; a version-1 store is migrated when it is opened)
//! 12  1  page size    log2 of the page size (12..=16)
//! 13 16  store id     random; bound into every page, and names the default key file
//! ```
//!
//! `MANIFEST` (sealed under the store key; replaced atomically by write, sync, rename, sync directory) holds
//! two sealed streams: the manifest (body kind Manifest, pages from 0) then the catalog (body kind Catalog).
//! Each stream is `length u64 | bytes`, cut into pages that carry the CONTINUES flag.
//!
//! ```text
//! manifest = version u32 (2) | generation u64 | next file id u64 | next collection u64 | next batch u64
//!          | checkpoint segment u64 | checkpoint page u64
//!          | segment count u32 | (id u64 | key count u32 | key id u32*)*
//!          | shredded key count u32 | key id u32* | rotated at (unix seconds) u64
//! catalog  = collection count u32 | (number u64 | name str | policy u8 (0 all, 1 paths, 2 none)
//!            | path count u32 | path str* | index hash key [16] | documents u64
//!            | run count u32 | (file id u64 | kind u8 (1 id map, 2 index) | entries u64 | pages u64
//!            | key id u32)*)*                                  runs of each kind newest first
//!          | metadata count u32 | (name str | value bytes)*    small sealed values (e.g. access tokens)
//! ```
//!
//! The checkpoint position says where replay starts: every record before it is in the runs the catalog
//! names; `next batch` is the number of the first batch after it.

use crate::codec::{Dec, DecodeError, Enc};
use crate::error::{Result, StoreError};
use crate::files::{MANIFEST_FILE, MANIFEST_FILE_ID, MANIFEST_TMP};
use crate::index::run::{RunKind, RunMeta};
use crate::json::IndexPolicy;
use crate::keys::KeyScope;
use crate::pages::{BODY_HEADER, BodyHeader, CONTINUES, PageCodec};
use crate::storage::{Storage, read_exact_at};
use atrest_core::page::{HEADER_LEN, PAGE_TAG_LEN, PageKind, PageSize};
use std::collections::{BTreeMap, BTreeSet};

const MAGIC: &[u8; 8] = b"ATREST\n\0";
/// The store format version this code writes (it also opens, and migrates, version 1).
pub const STORE_FORMAT_VERSION: u32 = 2;
/// The oldest format version this code opens.
pub(crate) const OLDEST_FORMAT_VERSION: u32 = 1;

/// The plaintext format file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatInfo {
    /// Format version.
    pub version: u32,
    /// Page size of every file.
    pub page_size: PageSize,
    /// The store's random id.
    pub store_id: [u8; 16],
}

impl FormatInfo {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&self.version.to_le_bytes());
        v.push(self.page_size.log2());
        v.extend_from_slice(&self.store_id);
        v
    }

    pub(crate) fn decode(b: &[u8], file: &str) -> Result<FormatInfo> {
        let bad = |detail: &str| StoreError::Format { file: file.to_owned(), detail: detail.to_owned() };
        if b.len() != 29 || &b[..8] != MAGIC {
            return Err(bad("not an atrest format file"));
        }
        let version = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        if !(OLDEST_FORMAT_VERSION..=STORE_FORMAT_VERSION).contains(&version) {
            return Err(bad(&format!(
                "format version {version}; this build opens versions {OLDEST_FORMAT_VERSION} to {STORE_FORMAT_VERSION}"
            )));
        }
        let page_size = PageSize::from_log2(b[12]).map_err(|e| bad(&e.to_string()))?;
        let mut store_id = [0u8; 16];
        store_id.copy_from_slice(&b[13..29]);
        Ok(FormatInfo { version, page_size, store_id })
    }

    /// The store id as 32 hex digits.
    pub fn store_id_hex(&self) -> String {
        self.store_id.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A segment and the data keys its pages are sealed under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentMeta {
    pub(crate) id: u64,
    pub(crate) keys: BTreeSet<u32>,
}

/// A collection as the catalog records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CatalogEntry {
    pub(crate) number: u64,
    pub(crate) name: String,
    pub(crate) policy: IndexPolicy,
    pub(crate) hash_key: [u8; 16],
    pub(crate) docs: u64,
    /// Runs of both kinds; within a kind, newest first.
    pub(crate) runs: Vec<RunMeta>,
}

/// The decoded manifest and catalog.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Manifest {
    pub(crate) generation: u64,
    pub(crate) next_file: u64,
    pub(crate) next_coll: u64,
    pub(crate) next_batch: u64,
    pub(crate) ckpt_seg: u64,
    pub(crate) ckpt_page: u64,
    pub(crate) segments: Vec<SegmentMeta>,
    pub(crate) shredded: BTreeSet<u32>,
    pub(crate) rotated_at: u64,
    pub(crate) catalog: Vec<CatalogEntry>,
    pub(crate) meta: BTreeMap<String, Vec<u8>>,
}

fn encode_policy(c: &mut Enc, p: &IndexPolicy) {
    match p {
        IndexPolicy::All => c.u8(0).u32(0),
        IndexPolicy::Paths(p) => {
            c.u8(1).u32(p.len() as u32);
            for s in p {
                c.str(s);
            }
            c
        }
        IndexPolicy::None => c.u8(2).u32(0),
    };
}

pub(crate) fn decode_policy(d: &mut Dec<'_>) -> Result<IndexPolicy, DecodeError> {
    let kind = d.u8()?;
    let paths = (0..d.count(4)?).map(|_| d.string()).collect::<Result<Vec<_>, _>>()?;
    Ok(match kind {
        0 => IndexPolicy::All,
        1 => IndexPolicy::Paths(paths),
        2 => IndexPolicy::None,
        _ => return Err(d.fail("unknown index policy")),
    })
}

impl Manifest {
    pub(crate) fn encode(&self) -> (Vec<u8>, Vec<u8>) {
        let mut e = Enc::new();
        e.u32(STORE_FORMAT_VERSION).u64(self.generation).u64(self.next_file).u64(self.next_coll);
        e.u64(self.next_batch).u64(self.ckpt_seg).u64(self.ckpt_page);
        e.u32(self.segments.len() as u32);
        for s in &self.segments {
            e.u64(s.id).u32(s.keys.len() as u32);
            for k in &s.keys {
                e.u32(*k);
            }
        }
        e.u32(self.shredded.len() as u32);
        for k in &self.shredded {
            e.u32(*k);
        }
        e.u64(self.rotated_at);
        let mut c = Enc::new();
        c.u32(self.catalog.len() as u32);
        for x in &self.catalog {
            c.u64(x.number).str(&x.name);
            encode_policy(&mut c, &x.policy);
            c.raw(&x.hash_key).u64(x.docs).u32(x.runs.len() as u32);
            for r in &x.runs {
                c.u64(r.id).u8(r.kind as u8).u64(r.entries).u64(r.pages).u32(r.key_id);
            }
        }
        c.u32(self.meta.len() as u32);
        for (k, v) in &self.meta {
            c.str(k).bytes(v);
        }
        (e.finish(), c.finish())
    }

    pub(crate) fn decode(m: &[u8], c: &[u8]) -> Result<Manifest, DecodeError> {
        let mut d = Dec::new(m, "manifest");
        if d.u32()? != STORE_FORMAT_VERSION {
            return Err(d.fail("unsupported manifest version"));
        }
        let mut out = Manifest {
            generation: d.u64()?,
            next_file: d.u64()?,
            next_coll: d.u64()?,
            next_batch: d.u64()?,
            ckpt_seg: d.u64()?,
            ckpt_page: d.u64()?,
            ..Manifest::default()
        };
        for _ in 0..d.count(12)? {
            let id = d.u64()?;
            let keys = (0..d.count(4)?).map(|_| d.u32()).collect::<Result<_, _>>()?;
            out.segments.push(SegmentMeta { id, keys });
        }
        out.shredded = (0..d.count(4)?).map(|_| d.u32()).collect::<Result<_, _>>()?;
        out.rotated_at = d.u64()?;
        if !d.is_empty() {
            return Err(d.fail("trailing bytes"));
        }
        let mut d = Dec::new(c, "catalog");
        for _ in 0..d.count(45)? {
            let number = d.u64()?;
            let name = d.string()?;
            let policy = decode_policy(&mut d)?;
            let mut hash_key = [0u8; 16];
            hash_key.copy_from_slice(d.take(16)?);
            let docs = d.u64()?;
            let mut runs = Vec::new();
            for _ in 0..d.count(29)? {
                let id = d.u64()?;
                let kind = RunKind::from_id(d.u8()?).ok_or(d.fail("unknown run kind"))?;
                runs.push(RunMeta { id, kind, entries: d.u64()?, pages: d.u64()?, key_id: d.u32()? });
            }
            out.catalog.push(CatalogEntry { number, name, policy, hash_key, docs, runs });
        }
        for _ in 0..d.count(8)? {
            let k = d.string()?;
            out.meta.insert(k, d.bytes()?.to_vec());
        }
        if !d.is_empty() {
            return Err(d.fail("trailing bytes"));
        }
        Ok(out)
    }

    /// Writes the manifest atomically (temp file, sync, rename, sync directory).
    pub(crate) fn store(&self, storage: &dyn Storage, codec: &PageCodec) -> Result<()> {
        let (m, c) = self.encode();
        let mut pages = encode_stream(codec, &m, PageKind::Manifest);
        pages.extend_from_slice(&encode_stream(codec, &c, PageKind::Catalog));
        codec.seal_run(KeyScope::Store, MANIFEST_FILE_ID, 0, &mut pages)?;
        let io = |op| StoreError::io(op, storage.describe(MANIFEST_TMP));
        let f = storage.open(MANIFEST_TMP, true).map_err(io("creating"))?;
        f.set_len(0).map_err(io("truncating"))?;
        f.write_at(&pages, 0).map_err(io("writing"))?;
        f.sync_data().map_err(io("syncing"))?;
        storage.rename(MANIFEST_TMP, MANIFEST_FILE).map_err(io("renaming"))?;
        storage.sync_dir().map_err(io("syncing directory after"))?;
        Ok(())
    }

    /// Reads and opens the manifest and catalog.
    pub(crate) fn load(storage: &dyn Storage, codec: &PageCodec) -> Result<Manifest> {
        Manifest::load_counted(storage, codec).map(|m| m.0)
    }

    /// [`Manifest::load`], and the number of pages its two streams take.
    pub(crate) fn load_counted(storage: &dyn Storage, codec: &PageCodec) -> Result<(Manifest, u64)> {
        let (m, c, pages) = read_manifest_streams(storage, codec)?;
        let m = Manifest::decode(&m, &c).map_err(|e| integrity(None, storage, MANIFEST_FILE, 0, e.to_string()))?;
        Ok((m, pages))
    }
}

/// The manifest and catalog streams of `MANIFEST`, and the pages they take.
pub(crate) fn read_manifest_streams(storage: &dyn Storage, codec: &PageCodec) -> Result<(Vec<u8>, Vec<u8>, u64)> {
    let (m, next) = read_stream(storage, codec, MANIFEST_FILE, MANIFEST_FILE_ID, 0, PageKind::Manifest, None)?;
    let (c, end) = read_stream(storage, codec, MANIFEST_FILE, MANIFEST_FILE_ID, next, PageKind::Catalog, None)?;
    Ok((m, c, end))
}

pub(crate) fn integrity(
    coll: Option<&str>,
    storage: &dyn Storage,
    file: &str,
    offset: u64,
    detail: String,
) -> StoreError {
    StoreError::Integrity { collection: coll.map(str::to_owned), file: storage.describe(file), offset, detail }
}

/// Cuts `length u64 | bytes` into unsealed pages of a stream of body kind `kind`.
pub(crate) fn encode_stream(codec: &PageCodec, bytes: &[u8], kind: PageKind) -> Vec<u8> {
    let cap = codec.payload_cap();
    let page = codec.size.bytes();
    let mut stream = (bytes.len() as u64).to_le_bytes().to_vec();
    stream.extend_from_slice(bytes);
    let n = stream.len().div_ceil(cap).max(1);
    let mut out = vec![0u8; n * page];
    for (i, chunk) in stream.chunks(cap).enumerate() {
        let body = &mut out[i * page + HEADER_LEN..(i + 1) * page - PAGE_TAG_LEN];
        let flags = if i + 1 < n { CONTINUES } else { 0 };
        BodyHeader { used: chunk.len(), flags, kind, batch: 0, synced: 0 }.write(body);
        body[BODY_HEADER..BODY_HEADER + chunk.len()].copy_from_slice(chunk);
    }
    out
}

/// Reads one sealed stream from `file` starting at page `first`; returns it and the page after it.
pub(crate) fn read_stream(
    storage: &dyn Storage,
    codec: &PageCodec,
    file: &str,
    file_id: u64,
    first: u64,
    kind: PageKind,
    coll: Option<&str>,
) -> Result<(Vec<u8>, u64)> {
    let f = storage.open(file, false).map_err(StoreError::io("opening", storage.describe(file)))?;
    let size = codec.size.bytes();
    let mut page = vec![0u8; size];
    let mut out = Vec::new();
    let mut no = first;
    let mut want: Option<usize> = None;
    loop {
        let off = no * size as u64;
        let fail = |detail: String| integrity(coll, storage, file, off, detail);
        let n = read_exact_at(&*f, &mut page, off).map_err(StoreError::io("reading", storage.describe(file)))?;
        if n != size {
            return Err(fail("file ends inside a sealed stream".into()));
        }
        let opened = codec.open(file_id, no, &mut page).map_err(|e| crate::pages::page_error(e, fail))?;
        let h = BodyHeader::read(opened.body, opened.kind).map_err(|e| fail(e.into()))?;
        if h.kind != kind {
            return Err(fail(format!("expected a {kind:?} page, found {:?}", h.kind)));
        }
        out.extend_from_slice(&opened.body[BODY_HEADER..BODY_HEADER + h.used]);
        no += 1;
        if want.is_none() && out.len() >= 8 {
            let mut b = [0u8; 8];
            b.copy_from_slice(&out[..8]);
            let len = usize::try_from(u64::from_le_bytes(b)).unwrap_or(usize::MAX);
            if len > (f.len().unwrap_or(0) as usize).saturating_mul(2) {
                return Err(fail("stream length exceeds the file".into()));
            }
            want = Some(len + 8);
        }
        if h.flags & CONTINUES == 0 {
            break;
        }
    }
    if want != Some(out.len()) {
        let off = first * size as u64;
        return Err(integrity(coll, storage, file, off, "sealed stream length does not match its pages".into()));
    }
    out.drain(..8);
    Ok((out, no))
}
