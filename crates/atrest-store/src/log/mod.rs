//! The append-only log: commit batches packed into pages (`batch.rs`) of records (`record.rs`), placed,
//! sealed and written to segment files (`writer.rs`, with the background write of `pipe.rs` into aligned
//! buffers, `aligned.rs`), and read back page by page by one scanner (`scan.rs`) that replay and `verify`
//! share.

pub(crate) mod aligned;
pub(crate) mod batch;
pub(crate) mod pipe;
pub(crate) mod record;
pub(crate) mod scan;
pub(crate) mod writer;
