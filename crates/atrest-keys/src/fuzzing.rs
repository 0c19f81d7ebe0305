//! Entry points for the cargo-fuzz targets in `fuzz/` (see `docs/fuzzing.md`), behind the `fuzzing` feature,
//! which is off by default. They reach the crate's private decoders of untrusted bytes (and their encoders)
//! through small mirror types, so that none of the private types becomes API. Not for any other use; this
//! module may change at any time.
//!
//! - KMIP: [`decode_ttlv`] / [`Ttlv::encode`] (TTLV, what a key server sends) and [`kmip_response`] (what the
//!   provider reads out of a response message).
//! - State records: [`crate::StateRecord::decode`] (public already) and [`open_local_record`] /
//!   [`seal_local_record`] (the local key file provider's record file).
//! - The keyring file: [`decode_keyring`] / [`encode_keyring`].

use std::collections::BTreeMap;
use std::path::Path;

use crate::keyring::entry::{BINDING_LEN, Entry};
use crate::keyring::file::{self, KeyringData};
use crate::provider::local_record;
use crate::{EntryInfo, MasterKeyId, secret::MasterKeyMaterial};

#[cfg(feature = "kmip")]
pub use kmip::{KmipResponse, Ttlv, TtlvValue, decode_ttlv, kmip_response, message_len};

#[cfg(feature = "kmip")]
mod kmip {
    use crate::provider::kmip::message;
    use crate::provider::kmip::ttlv::{Item, Value};

    /// One TTLV item, as [`decode_ttlv`] returns it and [`Ttlv::encode`] writes it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Ttlv {
        /// The tag (24 bits on the wire).
        pub tag: u32,
        /// The value.
        pub value: TtlvValue,
    }

    /// A TTLV value, one variant per item type.
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[allow(missing_docs)]
    pub enum TtlvValue {
        Structure(Vec<Ttlv>),
        Integer(i32),
        LongInteger(i64),
        BigInteger(Vec<u8>),
        Enumeration(u32),
        Boolean(bool),
        TextString(String),
        ByteString(Vec<u8>),
        DateTime(i64),
        Interval(u32),
    }

    impl From<&Item> for Ttlv {
        fn from(item: &Item) -> Ttlv {
            let value = match &item.value {
                Value::Structure(items) => TtlvValue::Structure(items.iter().map(Ttlv::from).collect()),
                Value::Integer(v) => TtlvValue::Integer(*v),
                Value::LongInteger(v) => TtlvValue::LongInteger(*v),
                Value::BigInteger(v) => TtlvValue::BigInteger(v.clone()),
                Value::Enumeration(v) => TtlvValue::Enumeration(*v),
                Value::Boolean(v) => TtlvValue::Boolean(*v),
                Value::TextString(v) => TtlvValue::TextString(v.clone()),
                Value::ByteString(v) => TtlvValue::ByteString(v.clone()),
                Value::DateTime(v) => TtlvValue::DateTime(*v),
                Value::Interval(v) => TtlvValue::Interval(*v),
            };
            Ttlv { tag: item.tag, value }
        }
    }

    impl From<&Ttlv> for Item {
        fn from(t: &Ttlv) -> Item {
            let value = match &t.value {
                TtlvValue::Structure(items) => Value::Structure(items.iter().map(Item::from).collect()),
                TtlvValue::Integer(v) => Value::Integer(*v),
                TtlvValue::LongInteger(v) => Value::LongInteger(*v),
                TtlvValue::BigInteger(v) => Value::BigInteger(v.clone()),
                TtlvValue::Enumeration(v) => Value::Enumeration(*v),
                TtlvValue::Boolean(v) => Value::Boolean(*v),
                TtlvValue::TextString(v) => Value::TextString(v.clone()),
                TtlvValue::ByteString(v) => Value::ByteString(v.clone()),
                TtlvValue::DateTime(v) => Value::DateTime(*v),
                TtlvValue::Interval(v) => Value::Interval(*v),
            };
            Item::new(t.tag, value)
        }
    }

    impl Ttlv {
        /// The encoded bytes (the provider's request encoder).
        pub fn encode(&self) -> Vec<u8> {
            Item::from(self).encode()
        }
    }

    /// Decodes exactly one item that fills `bytes`, as the provider decodes a response.
    ///
    /// # Errors
    /// The decoder's message (offset and what is wrong).
    pub fn decode_ttlv(bytes: &[u8]) -> Result<Ttlv, String> {
        Item::decode(bytes).map(|i| Ttlv::from(&i)).map_err(|e| e.to_string())
    }

    /// The length of the message whose 8-byte header starts `header` (how a response is cut off the stream).
    pub fn message_len(header: &[u8; 8]) -> Option<usize> {
        crate::provider::kmip::ttlv::message_len(header)
    }

    /// Everything the provider reads out of one response message.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct KmipResponse {
        /// The payload of a successful batch item.
        pub payload: Option<Ttlv>,
        /// Result Reason and Result Message of a failed one.
        pub failure: Option<(Option<u32>, String)>,
        /// Unique Identifier (Create, Register).
        pub uid: Option<String>,
        /// Every Unique Identifier (Locate).
        pub uids: Vec<String>,
        /// The attribute value (Get Attributes), and the name in it when it is a Name.
        pub attribute: Option<Ttlv>,
        /// The name text of that attribute value.
        pub name: Option<String>,
        /// Operations (Query).
        pub operations: Vec<u32>,
        /// Data and GCM tag (Encrypt, Decrypt).
        pub data: (Option<Vec<u8>>, Option<Vec<u8>>),
        /// Secret data bytes (Get of a state record).
        pub secret: Option<Vec<u8>>,
        /// Raw symmetric key bytes (Get of a master key).
        pub key: Option<Vec<u8>>,
    }

    /// Interprets `bytes` as a response message the way the provider does, and runs every payload reader on
    /// the payload.
    ///
    /// # Errors
    /// Why the bytes are not a well-formed KMIP response.
    pub fn kmip_response(bytes: &[u8]) -> Result<KmipResponse, String> {
        let owned = |b: Option<&[u8]>| b.map(<[u8]>::to_vec);
        let (payload, failure) = match message::response(bytes)? {
            Ok(p) => (p, None),
            Err(f) => (Item::structure(message::tag::RESPONSE_PAYLOAD, vec![]), Some((f.reason, f.message))),
        };
        let attribute = message::payload_attribute(&payload);
        let data = message::payload_data(&payload);
        Ok(KmipResponse {
            uid: message::payload_uid(&payload),
            uids: message::payload_uids(&payload),
            attribute: attribute.map(Ttlv::from),
            name: attribute.and_then(message::name_text).map(str::to_owned),
            operations: message::payload_operations(&payload),
            data: (owned(data.0), owned(data.1)),
            secret: owned(message::payload_secret(&payload)),
            key: owned(message::payload_key(&payload)),
            payload: failure.is_none().then(|| Ttlv::from(&payload)),
            failure,
        })
    }

    /// Seeds: response messages as servers send them, built with the provider's encoder.
    pub(super) fn seeds() -> Vec<(String, Vec<u8>)> {
        use message::tag;
        let text = |t, s: &str| Item::new(t, Value::TextString(s.into()));
        let bytes = |t, b: &[u8]| Item::new(t, Value::ByteString(b.to_vec()));
        let en = |t, v| Item::new(t, Value::Enumeration(v));
        let response = |op: u32, status: u32, rest: Vec<Item>| {
            let header = Item::structure(
                0x42007A, // Response Header
                vec![
                    Item::structure(
                        tag::PROTOCOL_VERSION,
                        vec![
                            Item::new(tag::PROTOCOL_VERSION_MAJOR, Value::Integer(1)),
                            Item::new(tag::PROTOCOL_VERSION_MINOR, Value::Integer(4)),
                        ],
                    ),
                    Item::new(0x420092, Value::DateTime(1_800_000_000)), // Time Stamp
                    Item::new(tag::BATCH_COUNT, Value::Integer(1)),
                ],
            );
            let mut batch = vec![en(tag::OPERATION, op), en(tag::RESULT_STATUS, status)];
            batch.extend(rest);
            Item::structure(tag::RESPONSE_MESSAGE, vec![header, Item::structure(tag::BATCH_ITEM, batch)]).encode()
        };
        let payload = |items| Item::structure(tag::RESPONSE_PAYLOAD, items);
        let key_block = |t, material: &[u8]| {
            Item::structure(
                t,
                vec![Item::structure(
                    tag::KEY_BLOCK,
                    vec![
                        en(tag::KEY_FORMAT_TYPE, 1),
                        Item::structure(tag::KEY_VALUE, vec![bytes(tag::KEY_MATERIAL, material)]),
                        en(tag::CRYPTOGRAPHIC_ALGORITHM, 3),
                        Item::new(0x42002A, Value::Integer(256)), // Cryptographic Length
                    ],
                )],
            )
        };
        let name = Item::structure(
            tag::ATTRIBUTE,
            vec![
                text(tag::ATTRIBUTE_NAME, "Name"),
                Item::structure(tag::ATTRIBUTE_VALUE, vec![text(tag::NAME_VALUE, "atrest-m1"), en(tag::NAME_TYPE, 1)]),
            ],
        );
        let mut out = vec![
            ("create".to_owned(), response(0x01, 0, vec![payload(vec![text(tag::UNIQUE_IDENTIFIER, "17")])])),
            (
                "locate".to_owned(),
                response(
                    0x08,
                    0,
                    vec![payload(vec![text(tag::UNIQUE_IDENTIFIER, "3"), text(tag::UNIQUE_IDENTIFIER, "9")])],
                ),
            ),
            (
                "get-key".to_owned(),
                response(
                    0x0A,
                    0,
                    vec![payload(vec![
                        en(tag::OBJECT_TYPE, 2),
                        text(tag::UNIQUE_IDENTIFIER, "3"),
                        key_block(tag::SYMMETRIC_KEY, &[0x42; 32]),
                    ])],
                ),
            ),
            (
                "get-secret".to_owned(),
                response(
                    0x0A,
                    0,
                    vec![payload(vec![
                        en(tag::OBJECT_TYPE, 7),
                        text(tag::UNIQUE_IDENTIFIER, "5"),
                        key_block(tag::SECRET_DATA, b"ATRSTATE\x01\x00\x00\x00"),
                    ])],
                ),
            ),
            (
                "get-attributes".to_owned(),
                response(0x0B, 0, vec![payload(vec![text(tag::UNIQUE_IDENTIFIER, "3"), name])]),
            ),
            (
                "query".to_owned(),
                response(
                    0x18,
                    0,
                    vec![payload(
                        [0x01, 0x08, 0x0A, 0x1F, 0x20].into_iter().map(|op| en(tag::OPERATION, op)).collect(),
                    )],
                ),
            ),
            (
                "encrypt".to_owned(),
                response(
                    0x1F,
                    0,
                    vec![payload(vec![
                        text(tag::UNIQUE_IDENTIFIER, "3"),
                        bytes(tag::DATA, &[7; 32]),
                        bytes(tag::AE_TAG, &[9; 16]),
                    ])],
                ),
            ),
            (
                "failure".to_owned(),
                response(
                    0x20,
                    1,
                    vec![
                        en(tag::RESULT_REASON, message::reason::CRYPTOGRAPHIC_FAILURE),
                        text(tag::RESULT_MESSAGE, "bad tag"),
                    ],
                ),
            ),
            ("activate-no-payload".to_owned(), response(0x12, 0, vec![])),
        ];
        let get = out[2].1.clone();
        out.push(("get-key-truncated".to_owned(), get[..get.len() - 13].to_vec()));
        out.push(("header-only".to_owned(), get[..8].to_vec()));
        let encrypt = out[6].1.clone();
        out.push(("encrypt-truncated".to_owned(), encrypt[..encrypt.len() / 2].to_vec()));
        out
    }
}

/// The master key [`open_local_record`] authenticates records under: any id the fuzzer writes that starts
/// with `m` names this key; any other id is a master key the key file no longer holds.
pub const LOCAL_RECORD_KEY: [u8; 32] = [0x5A; 32];

/// The record name (a store id in hex) [`open_local_record`] and [`seal_local_record`] use.
pub const LOCAL_RECORD_NAME: &str = "00112233445566778899aabbccddeeff";

fn record_key(id: &MasterKeyId) -> Option<MasterKeyMaterial> {
    id.as_str().starts_with('m').then(|| MasterKeyMaterial::from_bytes(LOCAL_RECORD_KEY))
}

/// Opens the bytes of a local key file provider's record file as the provider does (the tag checked under
/// [`LOCAL_RECORD_KEY`]): the record's bytes.
///
/// # Errors
/// The provider's message.
pub fn open_local_record(bytes: &[u8]) -> Result<Vec<u8>, String> {
    local_record::open(Path::new("fuzz.state"), LOCAL_RECORD_NAME, bytes, record_key).map_err(|e| e.to_string())
}

/// The record file's bytes for `record` under master key `id` (with [`LOCAL_RECORD_KEY`]).
pub fn seal_local_record(id: &MasterKeyId, record: &[u8]) -> Vec<u8> {
    local_record::seal(LOCAL_RECORD_NAME, id, &MasterKeyMaterial::from_bytes(LOCAL_RECORD_KEY), record)
}

/// `bytes` with the last 32 bytes replaced by the tag [`open_local_record`] expects there (under
/// [`LOCAL_RECORD_KEY`]), so that the fuzzer gets past the tag check to the rest of the file (its header and
/// lengths). Unchanged when it is too short to hold a tag.
pub fn retag_local_record(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if let Some(body_len) = bytes.len().checked_sub(32) {
        let key = MasterKeyMaterial::from_bytes(LOCAL_RECORD_KEY);
        out[body_len..].copy_from_slice(&local_record::tag(&key, LOCAL_RECORD_NAME, &bytes[..body_len]));
    }
    out
}

/// A keyring entry: its metadata, wrapped key and binding tag (both `None` once destroyed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyringEntry {
    /// Metadata.
    pub info: EntryInfo,
    /// The provider's wrapped key.
    pub wrapped: Option<Vec<u8>>,
    /// The binding tag.
    pub binding: Option<[u8; KEYRING_BINDING_LEN]>,
}

/// Length of an entry's binding tag.
pub const KEYRING_BINDING_LEN: usize = BINDING_LEN;

/// A decoded keyring file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyringFile {
    /// Provider kind.
    pub provider: String,
    /// Provider locator (format version 3).
    pub locator: Option<String>,
    /// The master key new data keys are wrapped under.
    pub master_key: MasterKeyId,
    /// Next data key id.
    pub next_id: u32,
    /// Check values per master key.
    pub checks: BTreeMap<MasterKeyId, Vec<u8>>,
    /// Entries in id order.
    pub entries: Vec<KeyringEntry>,
}

/// Decodes and checks a keyring file's bytes, as opening a keyring does.
///
/// # Errors
/// The keyring's message (what is wrong).
pub fn decode_keyring(bytes: &[u8]) -> Result<KeyringFile, String> {
    let d = file::decode(Path::new("keyring"), bytes).map_err(|e| e.to_string())?;
    Ok(KeyringFile {
        provider: d.provider,
        locator: d.locator,
        master_key: d.master_key,
        next_id: d.next_id,
        checks: d.checks,
        entries: d
            .entries
            .into_iter()
            .map(|e| KeyringEntry { info: e.info, wrapped: e.wrapped, binding: e.binding })
            .collect(),
    })
}

/// The keyring file's bytes, as the keyring writes them.
pub fn encode_keyring(k: &KeyringFile) -> Vec<u8> {
    file::encode(&KeyringData {
        provider: k.provider.clone(),
        locator: k.locator.clone(),
        master_key: k.master_key.clone(),
        next_id: k.next_id,
        checks: k.checks.clone(),
        entries: k
            .entries
            .iter()
            .map(|e| Entry { info: e.info.clone(), wrapped: e.wrapped.clone(), binding: e.binding })
            .collect(),
    })
}

/// `body` (up to its first newline) followed by the checksum line the keyring expects, so that the fuzzer gets
/// past the checksum to the JSON and the checks after it.
pub fn with_keyring_checksum(body: &[u8]) -> Vec<u8> {
    let body = body.split(|&b| b == b'\n').next().unwrap_or_default();
    file::with_checksum(body)
}

/// The seed corpora of the atrest-keys targets, as (target, file name, bytes): valid encodings made by the real
/// encoders and a few truncated ones. Each input starts with the target's mode byte (see the targets).
pub fn seed_corpus() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    let with_mode = |mode: u8, b: &[u8]| [&[mode][..], b].concat();
    #[cfg(feature = "kmip")]
    for (name, bytes) in kmip::seeds() {
        out.push(("kmip_ttlv", name, with_mode(0, &bytes)));
    }

    let record = crate::StateRecord {
        store_id: *b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff",
        generation: 12,
        durable_batch: 9000,
        keys_through: 6,
        shredded: [2, 5].into(),
        written: 1_800_000_000,
    };
    let encoded = record.encode();
    let empty = crate::StateRecord::default().encode();
    let m1 = MasterKeyId::new("m1").expect("valid id");
    let sealed = seal_local_record(&m1, &encoded);
    out.push(("state_record", "record".into(), with_mode(0, &encoded)));
    out.push(("state_record", "record-empty".into(), with_mode(0, &empty)));
    out.push(("state_record", "record-truncated".into(), with_mode(0, &encoded[..encoded.len() - 3])));
    out.push(("state_record", "file".into(), with_mode(1, &sealed)));
    out.push((
        "state_record",
        "file-retired-key".into(),
        with_mode(1, &seal_local_record(&MasterKeyId::new("k0").expect("valid id"), &empty)),
    ));
    out.push(("state_record", "file-truncated".into(), with_mode(1, &sealed[..sealed.len() - 40])));
    out.push(("state_record", "file-retag".into(), with_mode(2, &sealed)));

    let info = |id, scope, state| EntryInfo {
        id,
        scope,
        master_key: m1.clone(),
        provider: "local-file".into(),
        state,
        created: 1_700_000_000,
        changed: 1_700_000_100,
    };
    let live =
        |i: EntryInfo| KeyringEntry { info: i, wrapped: Some(vec![0xAB; 57]), binding: Some([0xCD; BINDING_LEN]) };
    use crate::{KeyState, Scope, ScopeName};
    let mut keyring = KeyringFile {
        provider: "local-file".into(),
        locator: None,
        master_key: m1.clone(),
        next_id: 4,
        checks: [(m1.clone(), vec![0x11; 57])].into(),
        entries: vec![
            live(info(1, Scope::Store, KeyState::Active)),
            live(info(2, Scope::Collection(7), KeyState::DecryptOnly)),
            KeyringEntry { info: info(3, Scope::Collection(7), KeyState::Destroyed), wrapped: None, binding: None },
        ],
    };
    let v1 = encode_keyring(&keyring);
    keyring.entries.push(live(info(
        4,
        Scope::Named(ScopeName::new("tenant-a").expect("valid name")),
        KeyState::Active,
    )));
    keyring.next_id = 9;
    let v2 = encode_keyring(&keyring);
    keyring.locator = Some("file:/etc/atrest/master.key".into());
    let v3 = encode_keyring(&keyring);
    out.push(("keyring_file", "v1".into(), with_mode(0, &v1)));
    out.push(("keyring_file", "v2-named".into(), with_mode(0, &v2)));
    out.push(("keyring_file", "v3-locator".into(), with_mode(0, &v3)));
    out.push(("keyring_file", "v1-truncated".into(), with_mode(0, &v1[..v1.len() - 20])));
    out.push(("keyring_file", "v3-body".into(), with_mode(1, &v3)));
    out.push(("keyring_file", "v2-body-truncated".into(), with_mode(1, &v2[..v2.len() / 2])));

    // The modes that build their input from the bytes (`arbitrary`) take any bytes: a few lengths suffice.
    for (target, mode) in [("kmip_ttlv", 1), ("state_record", 3), ("keyring_file", 2)] {
        for len in [64usize, 512] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
            out.push((target, format!("built-{len}"), with_mode(mode, &bytes)));
        }
    }
    out
}
