//! The KMIP operations this provider uses, as request payloads and parsed responses (KMIP 1.4, which is the
//! first version whose Encrypt and Decrypt carry the GCM tag and associated data). Tag and enumeration values
//! are those of the OASIS KMIP Specification v1.4, sections 9.1.3.1 (tags) and 9.1.3.2 (enumerations).
//!
//! Every request is one batch item:
//!
//! ```text
//! Request Message
//!   Request Header: Protocol Version 1.4, Batch Count 1
//!   Batch Item: Operation, Request Payload
//! Response Message
//!   Response Header: Protocol Version, Time Stamp, Batch Count
//!   Batch Item: Operation, Result Status, [Result Reason, Result Message], [Response Payload]
//! ```

use super::ttlv::{Item, Value};

/// Tags (KMIP 1.4, 9.1.3.1).
pub(crate) mod tag {
    pub(crate) const ATTRIBUTE: u32 = 0x420008;
    pub(crate) const ATTRIBUTE_NAME: u32 = 0x42000A;
    pub(crate) const ATTRIBUTE_VALUE: u32 = 0x42000B;
    pub(crate) const BATCH_COUNT: u32 = 0x42000D;
    pub(crate) const BATCH_ITEM: u32 = 0x42000F;
    pub(crate) const BLOCK_CIPHER_MODE: u32 = 0x420011;
    pub(crate) const CRYPTOGRAPHIC_ALGORITHM: u32 = 0x420028;
    pub(crate) const CRYPTOGRAPHIC_PARAMETERS: u32 = 0x42002B;
    pub(crate) const DATA: u32 = 0x4200C2;
    pub(crate) const IV_COUNTER_NONCE: u32 = 0x42003D;
    pub(crate) const KEY_BLOCK: u32 = 0x420040;
    pub(crate) const KEY_FORMAT_TYPE: u32 = 0x420042;
    pub(crate) const KEY_MATERIAL: u32 = 0x420043;
    pub(crate) const KEY_VALUE: u32 = 0x420045;
    pub(crate) const NAME_TYPE: u32 = 0x420054;
    pub(crate) const NAME_VALUE: u32 = 0x420055;
    pub(crate) const OBJECT_TYPE: u32 = 0x420057;
    pub(crate) const OPERATION: u32 = 0x42005C;
    pub(crate) const PROTOCOL_VERSION: u32 = 0x420069;
    pub(crate) const PROTOCOL_VERSION_MAJOR: u32 = 0x42006A;
    pub(crate) const PROTOCOL_VERSION_MINOR: u32 = 0x42006B;
    pub(crate) const QUERY_FUNCTION: u32 = 0x420074;
    pub(crate) const REQUEST_HEADER: u32 = 0x420077;
    pub(crate) const REQUEST_MESSAGE: u32 = 0x420078;
    pub(crate) const REQUEST_PAYLOAD: u32 = 0x420079;
    pub(crate) const RESPONSE_MESSAGE: u32 = 0x42007B;
    pub(crate) const RESPONSE_PAYLOAD: u32 = 0x42007C;
    pub(crate) const RESULT_MESSAGE: u32 = 0x42007D;
    pub(crate) const RESULT_REASON: u32 = 0x42007E;
    pub(crate) const RESULT_STATUS: u32 = 0x42007F;
    pub(crate) const REVOCATION_REASON: u32 = 0x420081;
    pub(crate) const REVOCATION_REASON_CODE: u32 = 0x420082;
    pub(crate) const SECRET_DATA: u32 = 0x420085;
    pub(crate) const SECRET_DATA_TYPE: u32 = 0x420086;
    pub(crate) const SYMMETRIC_KEY: u32 = 0x42008F;
    pub(crate) const TAG_LENGTH: u32 = 0x4200CE;
    pub(crate) const TEMPLATE_ATTRIBUTE: u32 = 0x420091;
    pub(crate) const UNIQUE_IDENTIFIER: u32 = 0x420094;
    pub(crate) const AE_ADDITIONAL_DATA: u32 = 0x4200FE;
    pub(crate) const AE_TAG: u32 = 0x4200FF;
}

/// Operations (9.1.3.2.27).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Create = 0x01,
    Register = 0x03,
    Locate = 0x08,
    Get = 0x0A,
    GetAttributes = 0x0B,
    Activate = 0x12,
    Revoke = 0x13,
    Destroy = 0x14,
    Query = 0x18,
    Encrypt = 0x1F,
    Decrypt = 0x20,
}

/// Result reasons the provider tells apart (9.1.3.2.29).
pub(crate) mod reason {
    pub(crate) const ITEM_NOT_FOUND: u32 = 0x01;
    pub(crate) const OPERATION_NOT_SUPPORTED: u32 = 0x05;
    pub(crate) const CRYPTOGRAPHIC_FAILURE: u32 = 0x0A;
    pub(crate) const GENERAL_FAILURE: u32 = 0x100;
}

const OBJECT_TYPE_SYMMETRIC_KEY: u32 = 0x02;
const OBJECT_TYPE_SECRET_DATA: u32 = 0x07;
/// Secret Data Type "Seed" (9.1.3.2.9): opaque bytes that are not a password.
const SECRET_DATA_TYPE_SEED: u32 = 0x02;
const KEY_FORMAT_OPAQUE: u32 = 0x02;
const ALGORITHM_AES: u32 = 0x03;
const MODE_GCM: u32 = 0x09;
const USAGE_ENCRYPT_DECRYPT: i32 = 0x04 | 0x08;
const NAME_TYPE_TEXT: u32 = 0x01;
const QUERY_OPERATIONS: u32 = 0x01;
const REVOKE_CESSATION_OF_OPERATION: u32 = 0x06;
/// The GCM tag length asked of the server.
pub(crate) const GCM_TAG_LEN: usize = 16;

/// The State attribute (9.1.3.2.17), by name for messages.
pub(crate) fn state_name(state: u32) -> String {
    match state {
        1 => "pre-active".into(),
        2 => "active".into(),
        3 => "deactivated (revoked)".into(),
        4 => "compromised (revoked)".into(),
        5 => "destroyed".into(),
        6 => "destroyed (compromised)".into(),
        n => format!("in unknown state {n}"),
    }
}

/// The Active state.
pub(crate) const STATE_ACTIVE: u32 = 2;

fn text(tag: u32, s: &str) -> Item {
    Item::new(tag, Value::TextString(s.to_owned()))
}

fn bytes(tag: u32, b: &[u8]) -> Item {
    Item::new(tag, Value::ByteString(b.to_vec()))
}

fn enumeration(tag: u32, v: u32) -> Item {
    Item::new(tag, Value::Enumeration(v))
}

fn attribute(name: &str, value: Item) -> Item {
    Item::structure(tag::ATTRIBUTE, vec![text(tag::ATTRIBUTE_NAME, name), Item { tag: tag::ATTRIBUTE_VALUE, ..value }])
}

fn name_attribute(name: &str) -> Item {
    attribute(
        "Name",
        Item::structure(0, vec![text(tag::NAME_VALUE, name), enumeration(tag::NAME_TYPE, NAME_TYPE_TEXT)]),
    )
}

fn uid(id: &str) -> Item {
    text(tag::UNIQUE_IDENTIFIER, id)
}

fn gcm_parameters() -> Item {
    Item::structure(
        tag::CRYPTOGRAPHIC_PARAMETERS,
        vec![
            enumeration(tag::BLOCK_CIPHER_MODE, MODE_GCM),
            enumeration(tag::CRYPTOGRAPHIC_ALGORITHM, ALGORITHM_AES),
            Item::new(tag::TAG_LENGTH, Value::Integer(GCM_TAG_LEN as i32)),
        ],
    )
}

/// A whole request message for one operation.
pub(crate) fn request(op: Operation, payload: Vec<Item>) -> Vec<u8> {
    let int = |tag, v| Item::new(tag, Value::Integer(v));
    Item::structure(
        tag::REQUEST_MESSAGE,
        vec![
            Item::structure(
                tag::REQUEST_HEADER,
                vec![
                    Item::structure(
                        tag::PROTOCOL_VERSION,
                        vec![int(tag::PROTOCOL_VERSION_MAJOR, 1), int(tag::PROTOCOL_VERSION_MINOR, 4)],
                    ),
                    int(tag::BATCH_COUNT, 1),
                ],
            ),
            Item::structure(
                tag::BATCH_ITEM,
                vec![enumeration(tag::OPERATION, op as u32), Item::structure(tag::REQUEST_PAYLOAD, payload)],
            ),
        ],
    )
    .encode()
}

/// Create: a 256-bit AES key named `name`, usable to encrypt and decrypt.
pub(crate) fn create_aes256(name: &str) -> Vec<Item> {
    let template = vec![
        attribute("Cryptographic Algorithm", enumeration(0, ALGORITHM_AES)),
        attribute("Cryptographic Length", Item::new(0, Value::Integer(256))),
        attribute("Cryptographic Usage Mask", Item::new(0, Value::Integer(USAGE_ENCRYPT_DECRYPT))),
        name_attribute(name),
    ];
    vec![enumeration(tag::OBJECT_TYPE, OBJECT_TYPE_SYMMETRIC_KEY), Item::structure(tag::TEMPLATE_ATTRIBUTE, template)]
}

/// Locate: the objects named `name`, or every object when `None`.
pub(crate) fn locate(name: Option<&str>) -> Vec<Item> {
    name.map(name_attribute).into_iter().collect()
}

/// Locate: every symmetric key (master keys, not the state records kept as secret data).
pub(crate) fn locate_symmetric_keys() -> Vec<Item> {
    vec![attribute("Object Type", enumeration(0, OBJECT_TYPE_SYMMETRIC_KEY))]
}

/// Register: `value` as a Secret Data object (opaque bytes) named `name`, left pre-active (it is only read
/// with Get, and a pre-active object can be destroyed when it is replaced).
pub(crate) fn register_secret(name: &str, value: &[u8]) -> Vec<Item> {
    let key_block = Item::structure(
        tag::KEY_BLOCK,
        vec![
            enumeration(tag::KEY_FORMAT_TYPE, KEY_FORMAT_OPAQUE),
            Item::structure(tag::KEY_VALUE, vec![bytes(tag::KEY_MATERIAL, value)]),
        ],
    );
    vec![
        enumeration(tag::OBJECT_TYPE, OBJECT_TYPE_SECRET_DATA),
        Item::structure(tag::TEMPLATE_ATTRIBUTE, vec![name_attribute(name)]),
        Item::structure(tag::SECRET_DATA, vec![enumeration(tag::SECRET_DATA_TYPE, SECRET_DATA_TYPE_SEED), key_block]),
    ]
}

/// Activate, Destroy, Get: the object alone.
pub(crate) fn object(id: &str) -> Vec<Item> {
    vec![uid(id)]
}

/// Get Attributes: one attribute of one object.
pub(crate) fn get_attribute(id: &str, attribute_name: &str) -> Vec<Item> {
    vec![uid(id), text(tag::ATTRIBUTE_NAME, attribute_name)]
}

/// Revoke with reason "cessation of operation" (the key was replaced by rotation).
pub(crate) fn revoke(id: &str) -> Vec<Item> {
    vec![
        uid(id),
        Item::structure(
            tag::REVOCATION_REASON,
            vec![enumeration(tag::REVOCATION_REASON_CODE, REVOKE_CESSATION_OF_OPERATION)],
        ),
    ]
}

/// Query: the operations the server supports.
pub(crate) fn query_operations() -> Vec<Item> {
    vec![enumeration(tag::QUERY_FUNCTION, QUERY_OPERATIONS)]
}

/// Encrypt with AES-GCM: `iv` chosen here, `aad` bound, a 16-byte tag.
pub(crate) fn encrypt(id: &str, data: &[u8], iv: &[u8], aad: &[u8]) -> Vec<Item> {
    vec![
        uid(id),
        gcm_parameters(),
        bytes(tag::DATA, data),
        bytes(tag::IV_COUNTER_NONCE, iv),
        bytes(tag::AE_ADDITIONAL_DATA, aad),
    ]
}

/// Decrypt with AES-GCM, checking `gcm_tag`: the Encrypt fields, then the tag.
pub(crate) fn decrypt(id: &str, data: &[u8], iv: &[u8], aad: &[u8], gcm_tag: &[u8]) -> Vec<Item> {
    let mut payload = encrypt(id, data, iv, aad);
    payload.push(bytes(tag::AE_TAG, gcm_tag));
    payload
}

/// A batch item that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// Result Reason, when the server gave one.
    pub(crate) reason: Option<u32>,
    /// Result Message, when the server gave one.
    pub(crate) message: String,
}

/// What a response said: the payload of a successful batch item, or why it failed. `Err(String)` is a
/// response that is not a well-formed KMIP response at all.
pub(crate) fn response(bytes: &[u8]) -> Result<Result<Item, Failure>, String> {
    let msg = Item::decode(bytes).map_err(|e| e.to_string())?;
    if msg.tag != tag::RESPONSE_MESSAGE {
        return Err(format!("not a response message (tag {:06X})", msg.tag));
    }
    let batch = msg.find(tag::BATCH_ITEM).ok_or("the response has no batch item")?;
    let status = batch.find(tag::RESULT_STATUS).and_then(Item::as_enum).ok_or("the response has no result status")?;
    if status != 0 {
        return Ok(Err(Failure {
            reason: batch.find(tag::RESULT_REASON).and_then(Item::as_enum),
            message: batch.find(tag::RESULT_MESSAGE).and_then(Item::as_text).unwrap_or("").to_owned(),
        }));
    }
    Ok(Ok(batch.find(tag::RESPONSE_PAYLOAD).cloned().unwrap_or_else(|| Item::structure(tag::RESPONSE_PAYLOAD, vec![]))))
}

/// The Unique Identifier of a payload.
pub(crate) fn payload_uid(payload: &Item) -> Option<String> {
    payload.find(tag::UNIQUE_IDENTIFIER).and_then(Item::as_text).map(str::to_owned)
}

/// Every Unique Identifier of a Locate payload.
pub(crate) fn payload_uids(payload: &Item) -> Vec<String> {
    payload.find_all(tag::UNIQUE_IDENTIFIER).filter_map(Item::as_text).map(str::to_owned).collect()
}

/// The value of the attribute in a Get Attributes payload.
pub(crate) fn payload_attribute(payload: &Item) -> Option<&Item> {
    payload.find(tag::ATTRIBUTE).and_then(|a| a.find(tag::ATTRIBUTE_VALUE))
}

/// The name text of a Name attribute value.
pub(crate) fn name_text(value: &Item) -> Option<&str> {
    value.find(tag::NAME_VALUE).and_then(Item::as_text)
}

/// The operations listed by a Query payload.
pub(crate) fn payload_operations(payload: &Item) -> Vec<u32> {
    payload.find_all(tag::OPERATION).filter_map(Item::as_enum).collect()
}

/// Data (and the tag, for Encrypt) of an Encrypt or Decrypt payload.
pub(crate) fn payload_data(payload: &Item) -> (Option<&[u8]>, Option<&[u8]>) {
    (payload.find(tag::DATA).and_then(Item::as_bytes), payload.find(tag::AE_TAG).and_then(Item::as_bytes))
}

/// The bytes of a Get payload holding secret data.
pub(crate) fn payload_secret(payload: &Item) -> Option<&[u8]> {
    let value = payload.find(tag::SECRET_DATA)?.find(tag::KEY_BLOCK)?.find(tag::KEY_VALUE)?;
    value.find(tag::KEY_MATERIAL).and_then(Item::as_bytes)
}

/// The raw key bytes of a Get payload holding a symmetric key.
pub(crate) fn payload_key(payload: &Item) -> Option<&[u8]> {
    let value = payload.find(tag::SYMMETRIC_KEY)?.find(tag::KEY_BLOCK)?.find(tag::KEY_VALUE)?;
    // Key Value holds Key Material (Raw format: a byte string) or is itself a byte string when wrapped.
    value.find(tag::KEY_MATERIAL).and_then(Item::as_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response_with(batch: Vec<Item>) -> Vec<u8> {
        Item::structure(tag::RESPONSE_MESSAGE, vec![Item::structure(tag::BATCH_ITEM, batch)]).encode()
    }

    #[test]
    fn request_layout() {
        // The Query request of the KMIP 1.4 test cases' layout: message, header with version and count, one item.
        let m = Item::decode(&request(Operation::Query, query_operations())).unwrap();
        assert_eq!(m.tag, tag::REQUEST_MESSAGE);
        let header = m.find(tag::REQUEST_HEADER).unwrap();
        let version = header.find(tag::PROTOCOL_VERSION).unwrap();
        assert_eq!(version.find(tag::PROTOCOL_VERSION_MINOR).unwrap().as_integer(), Some(4));
        let item = m.find(tag::BATCH_ITEM).unwrap();
        assert_eq!(item.find(tag::OPERATION).unwrap().as_enum(), Some(0x18));
        assert_eq!(item.find(tag::REQUEST_PAYLOAD).unwrap().find(tag::QUERY_FUNCTION).unwrap().as_enum(), Some(1));
        // The Name attribute's value is a structure under the Attribute Value tag.
        let c = Item::structure(0, create_aes256("atrest-m1"));
        let attrs: Vec<&Item> = c.find(tag::TEMPLATE_ATTRIBUTE).unwrap().find_all(tag::ATTRIBUTE).collect();
        assert_eq!(attrs.len(), 4);
        assert_eq!(name_text(attrs[3].find(tag::ATTRIBUTE_VALUE).unwrap()), Some("atrest-m1"));
    }

    #[test]
    fn responses() {
        let ok = response_with(vec![
            enumeration(tag::OPERATION, Operation::Locate as u32),
            enumeration(tag::RESULT_STATUS, 0),
            Item::structure(tag::RESPONSE_PAYLOAD, vec![uid("1"), uid("7")]),
        ]);
        assert_eq!(payload_uids(&response(&ok).unwrap().unwrap()), ["1", "7"]);
        let failed = response_with(vec![
            enumeration(tag::RESULT_STATUS, 1),
            enumeration(tag::RESULT_REASON, reason::ITEM_NOT_FOUND),
            text(tag::RESULT_MESSAGE, "no such object"),
        ]);
        assert_eq!(
            response(&failed).unwrap().unwrap_err(),
            Failure { reason: Some(1), message: "no such object".into() }
        );
        assert!(response(&request(Operation::Get, object("1"))).unwrap_err().contains("not a response"));
        assert!(response(&Item::structure(tag::RESPONSE_MESSAGE, vec![]).encode()).unwrap_err().contains("batch"));
        assert!(response(b"junk").is_err());
    }
}
