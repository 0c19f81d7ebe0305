//! KMIP's TTLV encoding in atrest-keys (`provider/kmip/ttlv.rs`, `message.rs`): what a key server, or anyone
//! on the path to it, sends back. The first byte picks the mode.
//!
//! - Even: the rest is a response message. Decoding never panics; an item that decodes re-encodes to as many
//!   bytes, which decode to the same item, and a structure's header gives its whole length (how a response is
//!   cut off the stream). Reading it as a response (the provider's view: result status, reason, payload, and
//!   every payload reader) never panics and agrees with the decoding.
//! - Odd: the rest builds an item (any type, nesting up to the decoder's limit), which must encode to a
//!   multiple of 8 bytes that decode to the same item (big integers of any length sign-extended to a multiple
//!   of 8 bytes: the same numbers).

#![no_main]

use arbitrary::{Arbitrary, Result, Unstructured};
use atrest_keys::fuzzing::{Ttlv, TtlvValue, decode_ttlv, kmip_response, message_len};
use libfuzzer_sys::fuzz_target;

/// Response Message (KMIP 1.4, 9.1.3.1).
const RESPONSE_MESSAGE: u32 = 0x42007B;
/// The decoder's nesting limit: items at this depth may not be structures with items.
const MAX_DEPTH: usize = 32;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        received(rest);
    } else {
        let _ = built(&mut Unstructured::new(rest));
    }
});

fn received(bytes: &[u8]) {
    let decoded = decode_ttlv(bytes);
    if let Ok(item) = &decoded {
        let again = item.encode();
        assert_eq!(again.len(), bytes.len(), "{item:?}");
        assert_eq!(decode_ttlv(&again).as_ref(), Ok(item));
        let header: &[u8; 8] = bytes[..8].try_into().expect("a decoded item has a header");
        let is_structure = matches!(item.value, TtlvValue::Structure(_));
        assert_eq!(message_len(header), is_structure.then_some(bytes.len()));
    }
    match kmip_response(bytes) {
        Ok(r) => {
            let message = decoded.expect("a response that reads decodes");
            assert_eq!(message.tag, RESPONSE_MESSAGE);
            assert_eq!(r.payload.is_some(), r.failure.is_none(), "{r:?}");
            if let Some(payload) = &r.payload {
                assert_eq!(decode_ttlv(&payload.encode()).as_ref(), Ok(payload));
            }
            if let Some(uid) = &r.uid {
                assert_eq!(r.uids.first(), Some(uid));
            }
            if r.name.is_some() {
                assert!(r.attribute.is_some());
            }
        }
        Err(e) => assert!(!e.is_empty()),
    }
}

fn built(u: &mut Unstructured<'_>) -> Result<()> {
    let item = item(u, 0)?;
    let bytes = item.encode();
    assert_eq!(bytes.len() % 8, 0);
    assert_eq!(decode_ttlv(&bytes), Ok(sign_extended(&item)), "{item:?}");
    let header: &[u8; 8] = bytes[..8].try_into().expect("at least a header");
    assert_eq!(message_len(header), matches!(item.value, TtlvValue::Structure(_)).then_some(bytes.len()));
    Ok(())
}

/// `item` with every big integer sign-extended to a positive multiple of 8 bytes, as it is encoded (the same
/// numbers).
fn sign_extended(item: &Ttlv) -> Ttlv {
    let value = match &item.value {
        TtlvValue::Structure(items) => TtlvValue::Structure(items.iter().map(sign_extended).collect()),
        TtlvValue::BigInteger(b) => {
            let fill = if b.first().is_some_and(|&x| x & 0x80 != 0) { 0xFF } else { 0 };
            let len = b.len().div_ceil(8).max(1) * 8;
            let mut out = vec![fill; len - b.len()];
            out.extend_from_slice(b);
            TtlvValue::BigInteger(out)
        }
        other => other.clone(),
    };
    Ttlv { tag: item.tag, value }
}

fn item(u: &mut Unstructured<'_>, depth: usize) -> Result<Ttlv> {
    let tag = u32::arbitrary(u)? & 0x00FF_FFFF;
    let value = match u.int_in_range(1..=10u8)? {
        1 => {
            let n = if depth >= MAX_DEPTH { 0 } else { u.int_in_range(0..=5)? };
            TtlvValue::Structure((0..n).map(|_| item(u, depth + 1)).collect::<Result<_>>()?)
        }
        2 => TtlvValue::Integer(u.arbitrary()?),
        3 => TtlvValue::LongInteger(u.arbitrary()?),
        // Big integers are a positive multiple of 8 bytes on the wire.
        4 => {
            let len = u.int_in_range(0..=33usize)?;
            TtlvValue::BigInteger(u.bytes(len)?.to_vec())
        }
        5 => TtlvValue::Enumeration(u.arbitrary()?),
        6 => TtlvValue::Boolean(u.arbitrary()?),
        7 => TtlvValue::TextString(u.arbitrary()?),
        8 => TtlvValue::ByteString(u.arbitrary()?),
        9 => TtlvValue::DateTime(u.arbitrary()?),
        _ => TtlvValue::Interval(u.arbitrary()?),
    };
    Ok(Ttlv { tag, value })
}
