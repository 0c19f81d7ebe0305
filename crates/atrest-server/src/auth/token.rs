//! Access tokens: what a client holds, and what the store keeps of it.
//!
//! A token reads `atrest_<id>_<secret>`: a 64-bit id (16 hex digits) that names the token in lists and logs,
//! and a 256-bit random secret (64 hex digits) shown once, when the token is made. The store keeps only the
//! SHA-256 of the domain-separated id and secret, in the sealed catalog (one metadata value per token), so
//! neither the disk nor a backup holds a usable token. A presented token is checked by looking its record up
//! by id and comparing the hash of what was presented with the stored one in constant time; a token with an
//! unknown id is hashed and compared against a dummy all the same, so the time taken does not tell whether
//! the id exists.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefix of every token (and of the store's metadata names holding token records).
const TOKEN_PREFIX: &str = "atrest_";
/// Metadata names of token records: `token/<id>`.
pub(crate) const META_PREFIX: &str = "token/";
/// Domain separation of the stored hash.
const HASH_CONTEXT: &[u8] = b"atrest access token v1\0";

/// A token's id: 64 random bits, shown as 16 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId(pub [u8; 8]);

impl TokenId {
    /// Parses 16 hex digits.
    pub fn parse(text: &str) -> Option<TokenId> {
        let mut id = [0u8; 8];
        (text.len() == 16).then_some(())?;
        hex::decode_to_slice(text, &mut id).ok()?;
        Some(TokenId(id))
    }

    pub(crate) fn meta_name(self) -> String {
        format!("{META_PREFIX}{self}")
    }
}

impl std::fmt::Display for TokenId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// What a token may do: read, or read and write; in every collection or in the ones listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Only reads.
    pub read_only: bool,
    /// The collections it may touch; empty: all of them, present and future, and the store-wide operations
    /// (backup, rotation, tokens) when it may also write.
    pub collections: Vec<String>,
}

impl Scope {
    /// Whether this scope covers every collection.
    pub fn all_collections(&self) -> bool {
        self.collections.is_empty()
    }

    /// Whether collection `name` is in scope.
    pub fn covers(&self, name: &str) -> bool {
        self.all_collections() || self.collections.iter().any(|c| c == name)
    }

    /// Whether this scope may run store-wide administration: read-write over all collections.
    pub fn is_admin(&self) -> bool {
        !self.read_only && self.all_collections()
    }
}

/// A token's stored record: its hash and scope, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TokenRecord {
    /// SHA-256 of the context, the id and the secret, hex.
    pub(crate) hash: String,
    /// What it may do.
    #[serde(flatten)]
    pub(crate) scope: Scope,
    /// When it was made, seconds since the Unix epoch.
    pub(crate) created: u64,
}

/// A token as listed: id, scope, creation time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// The id, 16 hex digits.
    #[serde(serialize_with = "as_text")]
    pub id: TokenId,
    /// What it may do.
    #[serde(flatten)]
    pub scope: Scope,
    /// When it was made, seconds since the Unix epoch.
    pub created: u64,
}

fn as_text<S: serde::Serializer>(id: &TokenId, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(id)
}

/// A token as presented by a client, split into id and secret.
pub(crate) struct Presented<'a> {
    pub(crate) id: TokenId,
    secret: &'a str,
}

impl<'a> Presented<'a> {
    /// Splits `atrest_<16 hex>_<64 hex>`; `None` for anything else.
    pub(crate) fn parse(text: &'a str) -> Option<Presented<'a>> {
        let rest = text.strip_prefix(TOKEN_PREFIX)?;
        let (id, secret) = rest.split_once('_')?;
        let id = TokenId::parse(id)?;
        (secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit())).then_some(Presented { id, secret })
    }

    /// Whether this token's hash is `stored` (hex), in constant time over the hash bytes.
    pub(crate) fn matches(&self, stored: &str) -> bool {
        let mut expected = [0u8; 32];
        let valid = hex::decode_to_slice(stored, &mut expected).is_ok();
        let actual = hash(self.id, self.secret);
        bool::from(actual.ct_eq(&expected)) & valid
    }
}

/// The stored hash of a token.
fn hash(id: TokenId, secret: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(HASH_CONTEXT);
    h.update(id.0);
    h.update(secret.to_ascii_lowercase().as_bytes());
    h.finalize().into()
}

/// A new token: its id, the text to hand out once, and the record to store.
pub(crate) fn generate(scope: Scope, created: u64) -> Result<(TokenId, String, TokenRecord), getrandom::Error> {
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id)?;
    getrandom::fill(&mut secret)?;
    let id = TokenId(id);
    let secret = hex::encode(secret);
    let record = TokenRecord { hash: hex::encode(hash(id, &secret)), scope, created };
    Ok((id, format!("{TOKEN_PREFIX}{id}_{secret}"), record))
}

/// The hash every unknown id is compared against, so a miss costs what a hit costs.
pub(crate) const DUMMY_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope { read_only: false, collections: vec![] }
    }

    #[test]
    fn a_generated_token_matches_its_record_and_nothing_else() {
        let (id, text, record) = generate(scope(), 1).unwrap();
        assert_eq!(text.len(), "atrest_".len() + 16 + 1 + 64);
        let presented = Presented::parse(&text).unwrap();
        assert_eq!(presented.id, id);
        assert!(presented.matches(&record.hash));
        assert!(!record.hash.contains(&text[24..]), "the record must not hold the secret");
        // One secret digit changed, another token's record, the dummy: no match.
        let mut flipped = text.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert!(!Presented::parse(&flipped).unwrap().matches(&record.hash));
        let (_, _, other) = generate(scope(), 1).unwrap();
        assert!(!presented.matches(&other.hash));
        assert!(!presented.matches(DUMMY_HASH));
        assert!(!presented.matches("not hex"));
    }

    #[test]
    fn malformed_tokens_do_not_parse() {
        let good = format!("atrest_{}_{}", "0".repeat(16), "a".repeat(64));
        assert!(Presented::parse(&good).is_some());
        for bad in [
            String::new(),
            "atrest_".to_owned(),
            format!("atrest_{}_{}", "0".repeat(15), "a".repeat(64)),
            format!("atrest_{}_{}", "0".repeat(16), "a".repeat(63)),
            format!("atrest_{}_{}", "0".repeat(16), "g".repeat(64)),
            format!("other_{}_{}", "0".repeat(16), "a".repeat(64)),
            format!("atrest_{}-{}", "0".repeat(16), "a".repeat(64)),
        ] {
            assert!(Presented::parse(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn scopes() {
        let all = scope();
        assert!(all.covers("x") && all.is_admin());
        let some = Scope { read_only: false, collections: vec!["a".into()] };
        assert!(some.covers("a") && !some.covers("b") && !some.is_admin());
        assert!(!Scope { read_only: true, collections: vec![] }.is_admin());
    }
}
