//! Data-key wrapping with XAES-256-GCM for providers that hold the master-key bytes in process memory.
//!
//! Wrapped form (72 bytes): `nonce (24, random) || ciphertext (32) || tag (16)`. The associated data is
//! `"atrest-xaes-wrap-v1" || len(master id) || master id || caller aad`, so a wrapped key moved to another
//! entry, or presented under another master-key id, fails to unwrap.

use atrest_core::{TAG_LEN, XAES_NONCE_LEN, Xaes256Gcm};
use zeroize::Zeroizing;

use crate::error::{KeyError, Result, random};
use crate::secret::{DataKey, KEY_LEN, MasterKeyId, MasterKeyMaterial};

/// Length of a wrapped data key.
pub(crate) const WRAPPED_LEN: usize = XAES_NONCE_LEN + KEY_LEN + TAG_LEN;

const DOMAIN: &[u8] = b"atrest-xaes-wrap-v1";

fn aad_for(master: &MasterKeyId, aad: &[u8]) -> Vec<u8> {
    let id = master.as_str().as_bytes();
    let mut out = Vec::with_capacity(DOMAIN.len() + 1 + id.len() + aad.len());
    out.extend_from_slice(DOMAIN);
    out.push(id.len() as u8); // ids are at most 64 bytes
    out.extend_from_slice(id);
    out.extend_from_slice(aad);
    out
}

fn cipher(provider: &str, kek: &MasterKeyMaterial) -> Result<Xaes256Gcm> {
    Xaes256Gcm::try_new(kek.expose_secret())
        .map_err(|e| KeyError::Provider { provider: provider.to_owned(), reason: e.to_string() })
}

/// Wraps `key` under `kek`.
pub(crate) fn wrap(
    provider: &str,
    master: &MasterKeyId,
    kek: &MasterKeyMaterial,
    key: &DataKey,
    aad: &[u8],
) -> Result<Vec<u8>> {
    let mut nonce = [0u8; XAES_NONCE_LEN];
    random(&mut nonce)?;
    let mut body = Zeroizing::new(*key.expose_secret());
    let tag = cipher(provider, kek)?
        .seal_in_place(&nonce, &aad_for(master, aad), &mut body[..])
        .map_err(|e| KeyError::Provider { provider: provider.to_owned(), reason: e.to_string() })?;
    let mut out = Vec::with_capacity(WRAPPED_LEN);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body[..]);
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Unwraps what [`wrap`] returned; any mismatch is the one opaque [`KeyError::UnwrapFailed`].
pub(crate) fn unwrap(
    provider: &str,
    master: &MasterKeyId,
    kek: &MasterKeyMaterial,
    wrapped: &[u8],
    aad: &[u8],
) -> Result<DataKey> {
    let failed = || KeyError::UnwrapFailed { master_key: master.to_string() };
    if wrapped.len() != WRAPPED_LEN {
        return Err(failed());
    }
    let (nonce, rest) = wrapped.split_at(XAES_NONCE_LEN);
    let (body, tag) = rest.split_at(KEY_LEN);
    let nonce: &[u8; XAES_NONCE_LEN] = nonce.try_into().map_err(|_| failed())?;
    let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| failed())?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(body);
    cipher(provider, kek)?.open_in_place(nonce, &aad_for(master, aad), &mut key[..], tag).map_err(|_| failed())?;
    Ok(DataKey::from_zeroizing(key))
}
