//! Structured round trips: random keys, key ids, nonces, sizes, kinds, contexts and bodies seal and open back
//! to the same plaintext, alone and in batches; any single-byte change or a moved context fails to open.

#![no_main]

use std::collections::HashMap;
use std::sync::Arc;

use arbitrary::Arbitrary;
use atrest_core::Xaes256Gcm;
use atrest_core::page::{
    OpenJob, Opener, PageContext, PageError, PageHeader, PageKind, PageSize, SealJob, Sealer, seal_with_nonce,
};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Page {
    size: u8,
    kind: u8,
    file_id: u64,
    page_no: u64,
    extra: Vec<u8>,
    body_seed: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
struct Input {
    key: [u8; 32],
    key_id: u32,
    nonce: [u8; 24],
    first: Page,
    flip_at: u16,
    flip: u8,
    batch: Vec<Page>,
    epoch_pages: u8,
}

fn size(p: &Page) -> PageSize {
    PageSize::ALL[usize::from(p.size) % PageSize::ALL.len()]
}

fn kind(p: &Page) -> PageKind {
    PageKind::ALL[usize::from(p.kind) % PageKind::ALL.len()]
}

fn ctx(p: &Page) -> PageContext<'_> {
    PageContext { file_id: p.file_id, page_no: p.page_no, extra: &p.extra }
}

fn body(p: &Page) -> Vec<u8> {
    let seed: &[u8] = if p.body_seed.is_empty() { &[0x5a] } else { &p.body_seed };
    seed.iter().copied().cycle().take(size(p).capacity()).collect()
}

fuzz_target!(|input: Input| {
    let key = Arc::new(Xaes256Gcm::try_new(&input.key).unwrap());
    let opener = Opener::new(HashMap::from([(input.key_id, Arc::clone(&key))]));

    // One page under a chosen nonce.
    let p = &input.first;
    let plain = body(p);
    let mut page = vec![0u8; size(p).bytes()];
    seal_with_nonce(&key, input.key_id, &input.nonce, kind(p), &ctx(p), &plain, &mut page).unwrap();
    let header = PageHeader::parse(&page).unwrap();
    assert_eq!((header.kind, header.size, header.key_id, header.nonce), (kind(p), size(p), input.key_id, input.nonce));
    let mut copy = page.clone();
    let opened = opener.open(&mut copy, &ctx(p)).unwrap();
    assert_eq!(opened.body, &plain[..]);

    if input.flip != 0 {
        let mut altered = page.clone();
        altered[usize::from(input.flip_at) % page.len()] ^= input.flip;
        assert!(opener.open(&mut altered, &ctx(p)).is_err());
    }
    let moved = PageContext { page_no: p.page_no ^ 1, ..ctx(p) };
    assert_eq!(opener.open(&mut page.clone(), &moved).unwrap_err(), PageError::Authentication);

    // A batch through a sealer with short epochs, opened as a batch and one by one.
    let batch = &input.batch[..input.batch.len().min(6)];
    let sealer =
        Sealer::with_key(Arc::clone(&key), input.key_id).unwrap().with_epoch_pages(u64::from(input.epoch_pages));
    let bodies: Vec<Vec<u8>> = batch.iter().map(body).collect();
    let mut pages: Vec<Vec<u8>> = batch.iter().map(|p| vec![0u8; size(p).bytes()]).collect();
    let mut jobs: Vec<SealJob<'_>> = pages
        .iter_mut()
        .zip(batch.iter().zip(&bodies))
        .map(|(page, (p, b))| SealJob::new(kind(p), ctx(p), b, page))
        .collect();
    sealer.seal_batch(&mut jobs).unwrap();
    drop(jobs);
    let mut nonces: Vec<[u8; 24]> = pages.iter().map(|p| PageHeader::parse(p).unwrap().nonce).collect();
    nonces.sort_unstable();
    nonces.dedup();
    assert_eq!(nonces.len(), pages.len(), "nonces are unique");
    let mut alone = pages.clone();
    let expected: Vec<Vec<u8>> =
        alone.iter_mut().zip(batch).map(|(page, p)| opener.open(page, &ctx(p)).unwrap().body.to_vec()).collect();
    assert_eq!(expected, bodies);
    let mut open_jobs: Vec<OpenJob<'_>> =
        pages.iter_mut().zip(batch).map(|(page, p)| OpenJob::new(page, ctx(p))).collect();
    for (i, result) in opener.open_batch(&mut open_jobs).into_iter().enumerate() {
        assert_eq!(result.unwrap().body, &bodies[i][..]);
    }
});
