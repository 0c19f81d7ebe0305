//! Rollback-protection state records in atrest-keys: the record itself (`record.rs`, what a key service returns)
//! and the local key file provider's record file (`provider/local_record.rs`, a file on disk beside the key
//! file). The first byte picks the mode.
//!
//! - 0: the rest is a record. Decoding never panics, and a record that decodes re-encodes to the same bytes.
//! - 1: the rest is a record file, opened under a fixed master key. Never panics; what opens re-seals under
//!   the master key its header names to the same bytes, and its content is then decoded as in mode 0.
//! - 2: as 1, with the file's tag first replaced by the right one, so the header and length checks behind
//!   the tag are reached.
//! - 3: the rest builds a record and a master-key id: the record round-trips through encode and decode, and
//!   through seal and open (which must refuse it when the id names a key the key file does not hold).

#![no_main]

use arbitrary::{Result, Unstructured};
use atrest_keys::fuzzing::{open_local_record, retag_local_record, seal_local_record};
use atrest_keys::{MasterKeyId, StateRecord};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 4 {
        0 => record(rest),
        1 => file(rest),
        2 => file(&retag_local_record(rest)),
        _ => {
            let _ = built(&mut Unstructured::new(rest));
        }
    }
});

fn record(bytes: &[u8]) {
    if let Ok(r) = StateRecord::decode(bytes, "fuzz") {
        assert_eq!(r.encode(), bytes, "{r:?}");
    }
}

fn file(bytes: &[u8]) {
    let Ok(content) = open_local_record(bytes) else { return };
    let n = usize::from(bytes[8]);
    let id = std::str::from_utf8(&bytes[9..9 + n]).expect("an opened file names a valid id");
    let id = MasterKeyId::new(id).expect("an opened file names a valid id");
    assert_eq!(seal_local_record(&id, &content), bytes);
    record(&content);
}

fn built(u: &mut Unstructured<'_>) -> Result<()> {
    let record = StateRecord {
        store_id: u.arbitrary()?,
        generation: u.arbitrary()?,
        durable_batch: u.arbitrary()?,
        keys_through: u.arbitrary()?,
        shredded: u.arbitrary()?,
        written: u.arbitrary()?,
    };
    let bytes = record.encode();
    assert_eq!(StateRecord::decode(&bytes, "fuzz").as_ref().ok(), Some(&record));
    let len = u.int_in_range(1..=MasterKeyId::MAX_LEN)?;
    let id: String = (0..len).map(|_| u.int_in_range(b'!'..=b'~').map(char::from)).collect::<Result<_>>()?;
    let id = MasterKeyId::new(id).expect("printable ASCII of an allowed length");
    let opened = open_local_record(&seal_local_record(&id, &bytes));
    if id.as_str().starts_with('m') {
        assert_eq!(opened, Ok(bytes));
    } else {
        assert!(opened.unwrap_err().contains("no longer holds"));
    }
    Ok(())
}
