//! How a marker string could appear in stored bytes, for the "nothing readable at rest" searches of the store
//! and of backups (crates/atrest-backup includes this file by path), so both look for the same forms.
#![allow(dead_code)]

/// Standard base64 without padding characters.
pub fn base64(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = c.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..=c.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Every form a marker could take on disk: plain, UTF-16 (both orders) and base64 at the three alignments
/// (the inner run that does not depend on neighbouring bytes).
pub fn forms(marker: &str) -> Vec<Vec<u8>> {
    let mut v = vec![marker.as_bytes().to_vec()];
    v.push(marker.encode_utf16().flat_map(|u| u.to_le_bytes()).collect());
    v.push(marker.encode_utf16().flat_map(|u| u.to_be_bytes()).collect());
    for pad in 0..3 {
        let mut m = vec![b'Q'; pad];
        m.extend_from_slice(marker.as_bytes());
        let enc = base64(&m);
        let skip = (pad * 4).div_ceil(3) + 1;
        v.push(enc.as_bytes()[skip..enc.len() - 4].to_vec());
    }
    v
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
