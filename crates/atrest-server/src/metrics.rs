//! Prometheus metrics: requests by route, method and status; request latencies by route (a histogram);
//! documents per import commit; bytes of documents and attachments handed to the store to be sealed; and,
//! read from the store at scrape time, its documents, bytes on disk and cache use.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use atrest_store::StoreStats;

/// Upper bounds of the latency buckets, in seconds.
const LATENCY_BOUNDS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Upper bounds of the batch-size buckets, in documents.
const BATCH_BOUNDS: [f64; 8] = [1.0, 10.0, 100.0, 1000.0, 5000.0, 10_000.0, 50_000.0, 100_000.0];

#[derive(Debug, Default)]
struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], v: f64) {
        if self.buckets.is_empty() {
            self.buckets = vec![0; bounds.len()];
        }
        for (b, bound) in self.buckets.iter_mut().zip(bounds) {
            if v <= *bound {
                *b += 1;
            }
        }
        self.count += 1;
        self.sum += v;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64]) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (b, bound) in self.buckets.iter().zip(bounds) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {b}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// The server's counters.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    import_batches: Mutex<Histogram>,
    document_bytes: AtomicU64,
    attachment_bytes: AtomicU64,
}

/// A label value with `\` and `"` escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    pub(crate) fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let key = (route.to_owned(), method.to_owned(), status);
        *self.requests.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_default() += 1;
        let mut latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        latency.entry(route.to_owned()).or_default().observe(&LATENCY_BOUNDS, took.as_secs_f64());
    }

    pub(crate) fn import_batch(&self, documents: usize) {
        self.import_batches.lock().unwrap_or_else(|p| p.into_inner()).observe(&BATCH_BOUNDS, documents as f64);
    }

    pub(crate) fn document_bytes(&self, n: u64) {
        self.document_bytes.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn attachment_bytes(&self, n: u64) {
        self.attachment_bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// The exposition text.
    pub(crate) fn render(&self, st: &StoreStats) -> String {
        let mut out = String::new();
        out.push_str("# HELP atrest_http_requests_total HTTP requests answered, by route, method and status.\n");
        out.push_str("# TYPE atrest_http_requests_total counter\n");
        for ((route, method, status), n) in self.requests.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "atrest_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                label(route)
            );
        }
        out.push_str("# HELP atrest_http_request_duration_seconds Time to answer a request, by route.\n");
        out.push_str("# TYPE atrest_http_request_duration_seconds histogram\n");
        for (route, h) in self.latency.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let labels = format!("route=\"{}\"", label(route));
            h.render(&mut out, "atrest_http_request_duration_seconds", &labels, &LATENCY_BOUNDS);
        }
        out.push_str("# HELP atrest_import_commit_documents Documents per group commit of a streamed import.\n");
        out.push_str("# TYPE atrest_import_commit_documents histogram\n");
        let batches = self.import_batches.lock().unwrap_or_else(|p| p.into_inner());
        if batches.count > 0 {
            batches.render(&mut out, "atrest_import_commit_documents", "", &BATCH_BOUNDS);
        }
        drop(batches);
        let counters = [
            (
                "atrest_sealed_document_bytes_total",
                "Document bytes handed to the store (sealed at rest).",
                &self.document_bytes,
            ),
            (
                "atrest_sealed_attachment_bytes_total",
                "Attachment bytes handed to the store (sealed at rest).",
                &self.attachment_bytes,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Ordering::Relaxed));
        }
        let documents: u64 = st.collections.iter().map(|c| c.documents).sum();
        let gauges = [
            ("atrest_store_documents", "Live documents in all collections.", documents),
            ("atrest_store_collections", "Collections.", st.collections.len() as u64),
            ("atrest_store_bytes_on_disk", "Bytes of all the store's files.", st.bytes_on_disk),
            ("atrest_store_segments", "Log segment files.", st.segments as u64),
            ("atrest_store_cache_bytes", "Bytes of opened pages in the page cache.", st.cache_bytes as u64),
            (
                "atrest_store_buffer_bytes",
                "Bytes in the index buffers not yet written as runs.",
                st.buffer_bytes as u64,
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        out
    }
}
