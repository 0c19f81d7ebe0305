//! `backup`, `restore` and `verify-backup`: argument handling around atrest-backup, which holds the logic.

use atrest_backup::{
    BackupError, Schedule, StopSignal, Target, parse_interval, read_backup_header, recorded_provider, run_schedule,
};
use atrest_store::Store;
use std::path::Path;

use crate::keys::KeyArgs;

use crate::output::outln;

/// Options of `atrest backup`.
#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    /// Where to back up: a local directory, or a URL (file://, memory://; s3://, az://, gs:// in builds with
    /// the matching feature).
    target: String,
    /// Back up periodically at this interval (e.g. 30m, 1h, 1d) until killed, instead of once.
    #[arg(long, value_name = "INTERVAL")]
    every: Option<String>,
    /// After each backup, keep only the newest N backups and delete the objects no kept backup needs.
    #[arg(long, value_name = "N")]
    keep: Option<usize>,
    /// With --every: stop after this many runs.
    #[arg(long, value_name = "N", requires = "every")]
    count: Option<u64>,
}

/// Options of `atrest restore` and `atrest verify-backup`.
#[derive(clap::Args, Debug)]
pub struct ReadArgs {
    /// The backup target (as given to `backup`).
    target: String,
    /// The backup id (default: the newest).
    #[arg(long, value_name = "ID")]
    backup: Option<String>,
}

fn err(e: BackupError) -> String {
    match e {
        e @ BackupError::MixedTarget { .. } => format!("{e} (--backup ID; `ls TARGET/backups` lists them)"),
        e => e.to_string(),
    }
}

/// `atrest --data DIR backup TARGET [--every INTERVAL] [--keep N] [--count N]`. Until killed with --every
/// (a backup cut short leaves only unreferenced chunks: its manifest is written last).
pub fn backup(store: Store, data: &Path, args: BackupArgs) -> Result<(), String> {
    let target = Target::open(&args.target).map_err(err)?;
    target.refuse_inside(data).map_err(err)?;
    // Retention may need the master key to open a kept manifest whose store key a rekey has destroyed.
    let provider = store.keys().provider().clone();
    let every = args.every.as_deref().map(parse_interval).transpose().map_err(err)?;
    let schedule = Schedule {
        every: every.unwrap_or(std::time::Duration::from_secs(1)),
        keep: args.keep,
        runs: if every.is_some() { args.count } else { Some(1) },
    };
    let mut failed = None;
    let ok = run_schedule(&store, &target, Some(&provider), &schedule, &StopSignal::new(), &mut |r| match r {
        Ok(r) => {
            let b = &r.backup;
            let temporaries = b.temporaries_removed + r.pruned.as_ref().map_or(0, |p| p.temporaries_removed);
            if temporaries > 0 {
                outln!("removed {temporaries} temporary objects left by an interrupted backup");
            }
            outln!(
                "backup {}: {} files, {} bytes; uploaded {} objects ({} bytes), reused {}",
                b.id,
                b.files,
                b.bytes,
                b.objects_uploaded,
                b.bytes_uploaded,
                b.objects_reused
            );
            if let Some(p) = &r.pruned {
                outln!("kept {} backups, removed {} and {} objects", p.kept.len(), p.removed.len(), p.objects.len());
            }
        }
        Err(e) => {
            eprintln!("atrest: backup failed: {e}");
            failed = Some(e.to_string());
        }
    })
    .map_err(err)?;
    store.close().map_err(|e| e.to_string())?;
    match (ok, failed) {
        (0, Some(e)) => Err(e),
        _ => Ok(()),
    }
}

/// `atrest --data NEWDIR restore TARGET [--backup ID]`, with the master key from the provider named (another
/// provider holding the same key, say), else the one the backup's keyring records.
pub fn restore(dest: &Path, keys: &KeyArgs, args: ReadArgs) -> Result<(), String> {
    let target = Target::open_existing(&args.target).map_err(err)?;
    let header = read_backup_header(&target, args.backup.as_deref()).map_err(err)?;
    let recorded = recorded_provider(&target, Some(&header.id)).map_err(err)?;
    // The destination is created by the restore itself, which removes it again if the restore fails.
    let provider = keys.provider(recorded, &header.store_id, dest)?;
    let r = atrest_backup::restore(&target, Some(&header.id), dest, provider).map_err(err)?;
    outln!(
        "restored backup {} into {}: {} files, {} bytes, {} pages opened ({} shredded)",
        r.id,
        dest.display(),
        r.files,
        r.bytes,
        r.pages_ok,
        r.pages_shredded
    );
    if !r.rewound.is_empty() {
        outln!(
            "the key service's record of this store was ahead of the backup and was moved back to it (a restore \
             is a legitimate rewind): {}",
            r.rewound.join("; ")
        );
    }
    Ok(())
}

/// `atrest verify-backup TARGET [--backup ID]`: every problem on its own line, non-zero exit if any.
pub fn verify(keys: &KeyArgs, args: &ReadArgs) -> Result<(), String> {
    let target = Target::open_existing(&args.target).map_err(err)?;
    let header = read_backup_header(&target, args.backup.as_deref()).map_err(err)?;
    let recorded = recorded_provider(&target, Some(&header.id)).map_err(err)?;
    let local = Path::new(&args.target);
    let beside = if local.is_dir() { local.to_owned() } else { std::env::temp_dir() };
    let provider = keys.provider(recorded, &header.store_id, &beside)?;
    match atrest_backup::verify_backup(&target, Some(&header.id), provider) {
        Ok(r) => {
            outln!(
                "backup {} ok: {} files, {} bytes, {} pages opened ({} shredded)",
                r.id,
                r.files,
                r.bytes,
                r.pages_ok,
                r.pages_shredded
            );
            Ok(())
        }
        Err(BackupError::Damaged { id, problems }) => {
            for p in &problems {
                outln!("FAIL {p}");
            }
            Err(format!("backup {id} failed verification: {} problems", problems.len()))
        }
        Err(e) => Err(e.to_string()),
    }
}
