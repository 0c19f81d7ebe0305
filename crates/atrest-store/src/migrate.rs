//! Migrating a format-version-1 store when it is first opened.
//!
//! Version 1 kept each collection's whole index in one sealed file (`idx-<id>.atr`) that was read into
//! memory on every open and rewritten at every checkpoint. Migration reads those files once, writes each
//! collection's id map and index as runs, writes a version-2 manifest naming them (same checkpoint position,
//! so the log after it is replayed as before), then the version-2 format file. Log segments and the
//! keyring are kept as they are: version-2 code reads version-1 pages (their kind is in the page header).
//! A crash at any point leaves either the version-1 store (migrated again on the next open) or a version-2
//! manifest with a version-1 format file (then only the format file is rewritten).
//!
//! Version 1, for reference:
//!
//! ```text
//! manifest   = version u32 (1) | generation u64 | next file id u64 | next collection u64 | next batch u64
//!            | checkpoint segment u64 | checkpoint page u64 | segment count u32 | (id u64 | key count u32
//!            | key id u32*)* | shredded key count u32 | key id u32* | rotated at u64
//! catalog    = collection count u32 | (number u64 | name str | policy u8 | path count u32 | path str*
//!            | index file u64 | index pages u64)*
//! index file = pointer count u32 | pointer str* | doc count u32 | (id str | seg u64 | page u64 | offset u32
//!            | len u32 | key count u32 | (pointer index u32 | value str)* | attachment count u32
//!            | (name str | length u64 | extent count u32 | (seg u64 | first u64 | pages u32)*)*)*
//! ```

use crate::codec::{Dec, DecodeError};
use crate::collection::{AttEntry, DocEntry, LIVE, index_key};
use crate::config::StoreConfig;
use crate::error::{Result, StoreError};
use crate::files::{FORMAT_FILE, MANIFEST_FILE, v1_index_name};
use crate::index::hash::index_hash;
use crate::index::run::{RunKind, RunMeta, RunWriter};
use crate::json::{self, IndexPolicy};
use crate::keys::KeyScope;
use crate::log::record::{Extent, Loc};
use crate::manifest::{
    CatalogEntry, FormatInfo, Manifest, STORE_FORMAT_VERSION, SegmentMeta, decode_policy, integrity,
    read_manifest_streams, read_stream,
};
use crate::pages::PageCodec;
use atrest_core::page::PageKind;
use std::collections::BTreeMap;

/// A version-1 catalog entry.
struct V1Collection {
    number: u64,
    name: String,
    policy: IndexPolicy,
    index_file: u64,
}

/// A version-1 document entry: its id, location, index keys (pointer, value text) and attachments.
type V1Doc = (String, Loc, Vec<(String, String)>, BTreeMap<String, AttEntry>);

fn decode_v1(m: &[u8], c: &[u8]) -> Result<(Manifest, Vec<V1Collection>), DecodeError> {
    let mut d = Dec::new(m, "version-1 manifest");
    if d.u32()? != 1 {
        return Err(d.fail("not a version-1 manifest"));
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
    let mut d = Dec::new(c, "version-1 catalog");
    let mut colls = Vec::new();
    for _ in 0..d.count(29)? {
        let number = d.u64()?;
        let name = d.string()?;
        let policy = decode_policy(&mut d)?;
        let index_file = d.u64()?;
        let _pages = d.u64()?;
        colls.push(V1Collection { number, name, policy, index_file });
    }
    Ok((out, colls))
}

fn decode_v1_index(buf: &[u8]) -> Result<Vec<V1Doc>, DecodeError> {
    let mut d = Dec::new(buf, "version-1 index file");
    let np = d.count(4)?;
    let mut table = Vec::with_capacity(np);
    for _ in 0..np {
        table.push(d.string()?);
    }
    let mut docs = Vec::new();
    for _ in 0..d.count(32)? {
        let id = d.string()?;
        let loc = Loc { seg: d.u64()?, page: d.u64()?, offset: d.u32()?, len: d.u32()? };
        let mut keys = Vec::new();
        for _ in 0..d.count(8)? {
            let p = d.u32()? as usize;
            let pointer = table.get(p).ok_or(d.fail("pointer index out of range"))?.clone();
            keys.push((pointer, d.string()?));
        }
        let mut atts = BTreeMap::new();
        for _ in 0..d.count(16)? {
            let name = d.string()?;
            let len = d.u64()?;
            let mut extents = Vec::new();
            for _ in 0..d.count(20)? {
                extents.push(Extent { seg: d.u64()?, first: d.u64()?, pages: d.u32()? });
            }
            atts.insert(name, AttEntry { len, extents });
        }
        docs.push((id, loc, keys, atts));
    }
    if !d.is_empty() {
        return Err(d.fail("trailing bytes"));
    }
    Ok(docs)
}

/// Writes the version-2 format file (atomically: a temporary file renamed over it).
fn write_format(cfg: &StoreConfig, format: &FormatInfo) -> Result<()> {
    let storage = &*cfg.storage;
    let tmp = "ATREST.tmp";
    let io = |op, f: &str| StoreError::io(op, storage.describe(f));
    let f = storage.open(tmp, true).map_err(io("creating", tmp))?;
    f.set_len(0).map_err(io("truncating", tmp))?;
    f.write_at(&FormatInfo { version: STORE_FORMAT_VERSION, ..*format }.encode(), 0).map_err(io("writing", tmp))?;
    f.sync_data().map_err(io("syncing", tmp))?;
    storage.rename(tmp, FORMAT_FILE).map_err(io("renaming", tmp))?;
    storage.sync_dir().map_err(io("syncing directory of", FORMAT_FILE))
}

/// Migrates the version-1 store `cfg` names (its owner lock held by the caller); `progress(done, total)`
/// counts documents.
pub(crate) fn migrate_v1(cfg: &StoreConfig, format: &FormatInfo, progress: &mut dyn FnMut(u64, u64)) -> Result<()> {
    let storage = &*cfg.storage;
    let codec = PageCodec::new(format.page_size, format.store_id, cfg.keys.clone(), None);
    let (m, c, _) = read_manifest_streams(storage, &codec)?;
    if Manifest::decode(&m, &c).is_ok() {
        // A migration that wrote its manifest and stopped before the format file.
        return write_format(cfg, format);
    }
    let (mut manifest, colls) =
        decode_v1(&m, &c).map_err(|e| integrity(None, storage, MANIFEST_FILE, 0, e.to_string()))?;
    let mut loaded = Vec::with_capacity(colls.len());
    for col in &colls {
        let docs = if col.index_file == 0 {
            Vec::new()
        } else {
            let name = v1_index_name(col.index_file);
            let (buf, _) = read_stream(storage, &codec, &name, col.index_file, 0, PageKind::Index, Some(&col.name))?;
            decode_v1_index(&buf).map_err(|e| integrity(Some(&col.name), storage, &name, 0, e.to_string()))?
        };
        loaded.push(docs);
    }
    let total: u64 = loaded.iter().map(|d| d.len() as u64).sum();
    let mut done = 0u64;
    for (col, docs) in colls.iter().zip(loaded) {
        let mut hash_key = [0u8; 16];
        getrandom::fill(&mut hash_key).map_err(|e| atrest_keys::KeyError::Random(e.to_string()))?;
        let mut runs: Vec<RunMeta> = Vec::new();
        let mut write = |kind: RunKind, entries: &mut dyn Iterator<Item = (Vec<u8>, Vec<u8>)>| -> Result<()> {
            let id = manifest.next_file;
            manifest.next_file += 1;
            let mut w = RunWriter::create(&codec, storage, KeyScope::Collection(col.number), id, kind)?;
            for (k, v) in entries {
                w.add(&k, &v)?;
            }
            if w.entries() == 0 {
                w.abandon();
            } else {
                runs.push(w.finish()?);
            }
            Ok(())
        };
        let mut index = Vec::new();
        for (id, _, keys, _) in &docs {
            for (pointer, text) in keys {
                let value: serde_json::Value = serde_json::from_str(text)
                    .map_err(|e| StoreError::Config(format!("version-1 index value of {id:?} at {pointer}: {e}")))?;
                let canonical = json::canonical_scalar(&value)?;
                index.push(index_key(index_hash(&hash_key, pointer, &canonical), id));
            }
        }
        index.sort_unstable();
        index.dedup();
        let n = docs.len() as u64;
        write(
            RunKind::Ids,
            &mut docs.into_iter().map(|(id, loc, _, attachments)| {
                done += 1;
                if done.is_multiple_of(10_000) {
                    progress(done, total);
                }
                (id.into_bytes(), DocEntry { loc, attachments }.encode())
            }),
        )?;
        write(RunKind::Index, &mut index.into_iter().map(|k| (k, LIVE.to_vec())))?;
        manifest.catalog.push(CatalogEntry {
            number: col.number,
            name: col.name.clone(),
            policy: col.policy.clone(),
            hash_key,
            docs: n,
            runs,
        });
    }
    manifest.generation += 1;
    manifest.store(storage, &codec)?;
    write_format(cfg, format)?;
    progress(total, total);
    Ok(())
}
