//! An in-memory [`Storage`] that can fail or "crash" at the N-th mutating operation, for deterministic
//! crash and I/O-fault tests.
//!
//! Every file keeps what was made durable (by `sync_data`) apart from the writes made since; the directory
//! keeps its durable entries (by `sync_dir`) apart from the current ones. [`FaultStorage::crash_image`] builds
//! what a disk could hold after power loss: the durable state plus an arbitrary (seeded) subset of the
//! unsynced writes, some of them torn at a sector boundary.

use super::{LockAttempt, OwnerLock, Storage, StorageFile};
use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

/// When to inject a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FaultPlan {
    /// Never.
    #[default]
    None,
    /// The N-th mutating operation (write, set_len, sync, rename, remove; counted from 1) and every one
    /// after it fail, as if the machine had lost power there.
    CrashAt(u64),
    /// Only the N-th mutating operation fails, as a full disk or a transient I/O error would.
    FailAt(u64),
    /// The N-th mutating operation panics (a bug in the code above the storage), once.
    PanicAt(u64),
}

#[derive(Debug, Clone)]
enum Pending {
    Write(u64, Vec<u8>),
    SetLen(u64),
}

#[derive(Debug, Default, Clone)]
struct Inode {
    data: Vec<u8>,
    synced: Vec<u8>,
    pending: Vec<Pending>,
}

#[derive(Debug, Default)]
struct State {
    inodes: Vec<Inode>,
    dir: BTreeMap<String, usize>,
    durable_dir: BTreeMap<String, usize>,
    ops: u64,
    plan: FaultPlan,
    crashed: bool,
    /// Who holds the owner lock, if anyone (not part of a crash image: a lock dies with its process).
    owner: Option<String>,
}

/// In-memory storage with injectable crashes and I/O errors.
#[derive(Debug, Clone, Default)]
pub struct FaultStorage {
    state: Arc<Mutex<State>>,
}

impl FaultStorage {
    /// Empty storage with no fault planned.
    pub fn new() -> FaultStorage {
        FaultStorage::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the fault plan and resets the operation counter.
    pub fn set_plan(&self, plan: FaultPlan) {
        let mut s = self.lock();
        s.plan = plan;
        s.ops = 0;
    }

    /// Mutating operations counted since the last [`FaultStorage::set_plan`].
    pub fn ops(&self) -> u64 {
        self.lock().ops
    }

    /// Whether a planned crash has happened.
    pub fn crashed(&self) -> bool {
        self.lock().crashed
    }

    /// Total bytes of all current files.
    pub fn total_bytes(&self) -> u64 {
        let s = self.lock();
        s.dir.values().map(|&i| s.inodes[i].data.len() as u64).sum()
    }

    /// What the disk could hold after a power loss now: durable data plus a `seed`-chosen subset of the
    /// unsynced writes (each kept, dropped, or torn at a 512-byte boundary), as a fresh storage.
    pub fn crash_image(&self, seed: u64) -> FaultStorage {
        let s = self.lock();
        let mut rng = seed ^ 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut out = State::default();
        for (name, &ino) in &s.durable_dir {
            let src = &s.inodes[ino];
            let mut data = src.synced.clone();
            for p in &src.pending {
                match (p, next() % 3) {
                    (_, 0) => {}
                    (Pending::SetLen(len), _) => data.resize(*len as usize, 0),
                    (Pending::Write(off, bytes), r) => {
                        let keep = if r == 1 { bytes.len() } else { (next() as usize % bytes.len().max(1)) & !511 };
                        let end = *off as usize + keep;
                        if data.len() < end {
                            data.resize(end, 0);
                        }
                        data[*off as usize..end].copy_from_slice(&bytes[..keep]);
                    }
                }
            }
            out.inodes.push(Inode { synced: data.clone(), data, pending: Vec::new() });
            out.dir.insert(name.clone(), out.inodes.len() - 1);
        }
        out.durable_dir = out.dir.clone();
        FaultStorage { state: Arc::new(Mutex::new(out)) }
    }

    /// Reads a whole file's current contents (for tests that inspect or tamper with bytes).
    pub fn read_file(&self, name: &str) -> Option<Vec<u8>> {
        let s = self.lock();
        s.dir.get(name).map(|&i| s.inodes[i].data.clone())
    }

    /// Overwrites bytes of a file durably, bypassing the fault plan (to simulate tampering).
    pub fn tamper(&self, name: &str, offset: usize, bytes: &[u8]) -> bool {
        let mut s = self.lock();
        let Some(&i) = s.dir.get(name) else { return false };
        let ino = &mut s.inodes[i];
        if offset + bytes.len() > ino.data.len() {
            return false;
        }
        ino.data[offset..offset + bytes.len()].copy_from_slice(bytes);
        ino.synced = ino.data.clone();
        true
    }
}

/// Counts a mutating operation and applies the plan.
fn tick(s: &mut State) -> io::Result<()> {
    if s.crashed {
        return Err(io::Error::other("simulated crash: the machine is down"));
    }
    s.ops += 1;
    match s.plan {
        FaultPlan::CrashAt(n) if s.ops >= n => {
            s.crashed = true;
            Err(io::Error::other("simulated crash"))
        }
        FaultPlan::FailAt(n) if s.ops == n => Err(io::Error::new(io::ErrorKind::StorageFull, "simulated disk full")),
        FaultPlan::PanicAt(n) if s.ops == n => panic!("simulated bug at storage operation {n}"),
        _ => Ok(()),
    }
}

fn not_found(name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no file {name}"))
}

impl Storage for FaultStorage {
    fn open(&self, name: &str, create: bool) -> io::Result<Box<dyn StorageFile>> {
        let mut s = self.lock();
        let ino = match s.dir.get(name) {
            Some(&i) => i,
            None if create => {
                tick(&mut s)?;
                s.inodes.push(Inode::default());
                let i = s.inodes.len() - 1;
                s.dir.insert(name.to_owned(), i);
                i
            }
            None => return Err(not_found(name)),
        };
        Ok(Box::new(MemFile { state: self.state.clone(), ino }))
    }
    fn exists(&self, name: &str) -> io::Result<bool> {
        Ok(self.lock().dir.contains_key(name))
    }
    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.lock().dir.keys().cloned().collect())
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let mut s = self.lock();
        tick(&mut s)?;
        let i = s.dir.remove(from).ok_or_else(|| not_found(from))?;
        s.dir.insert(to.to_owned(), i);
        Ok(())
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        let mut s = self.lock();
        tick(&mut s)?;
        s.dir.remove(name);
        Ok(())
    }
    fn sync_dir(&self) -> io::Result<()> {
        let mut s = self.lock();
        tick(&mut s)?;
        s.durable_dir = s.dir.clone();
        Ok(())
    }
    fn describe(&self, name: &str) -> String {
        format!("mem:{name}")
    }
    fn try_lock(&self, holder: &str) -> io::Result<LockAttempt> {
        let mut s = self.lock();
        if let Some(h) = &s.owner {
            return Ok(LockAttempt::Held(h.clone()));
        }
        s.owner = Some(holder.to_owned());
        Ok(LockAttempt::Acquired(Box::new(MemLock { state: self.state.clone() })))
    }
}

/// The owner lock of a [`FaultStorage`].
#[derive(Debug)]
struct MemLock {
    state: Arc<Mutex<State>>,
}

impl OwnerLock for MemLock {}

impl Drop for MemLock {
    fn drop(&mut self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).owner = None;
    }
}

struct MemFile {
    state: Arc<Mutex<State>>,
    ino: usize,
}

impl MemFile {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl StorageFile for MemFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let s = self.lock();
        let data = &s.inodes[self.ino].data;
        let start = (offset as usize).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut s = self.lock();
        tick(&mut s)?;
        let ino = &mut s.inodes[self.ino];
        let end = offset as usize + buf.len();
        if ino.data.len() < end {
            ino.data.resize(end, 0);
        }
        ino.data[offset as usize..end].copy_from_slice(buf);
        ino.pending.push(Pending::Write(offset, buf.to_vec()));
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.lock().inodes[self.ino].data.len() as u64)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut s = self.lock();
        tick(&mut s)?;
        let ino = &mut s.inodes[self.ino];
        ino.data.resize(len as usize, 0);
        ino.pending.push(Pending::SetLen(len));
        Ok(())
    }
    fn sync_data(&self) -> io::Result<()> {
        let mut s = self.lock();
        tick(&mut s)?;
        let ino = &mut s.inodes[self.ino];
        ino.synced = ino.data.clone();
        ino.pending.clear();
        Ok(())
    }
}
