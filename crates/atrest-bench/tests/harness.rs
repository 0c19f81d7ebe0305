//! Runs the whole harness on a tiny size in a temporary directory and checks the report's shape: every
//! required field present, every rate positive and finite. Nothing here asserts a speed.

use std::time::Duration;

use atrest_bench::{BenchOptions, run};
use serde_json::Value;

fn positive(v: &Value, path: &str) -> f64 {
    let x = v.pointer(path).and_then(Value::as_f64).unwrap_or_else(|| panic!("{path} missing or not a number"));
    assert!(x.is_finite() && x > 0.0, "{path} = {x}");
    x
}

#[test]
fn tiny_run_reports_every_required_number() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ram = tempfile::tempdir().expect("tempdir for the ceiling");
    let opts = BenchOptions {
        data: Some(dir.path().to_owned()),
        size: 600_000,
        threads: 2,
        progress: false,
        crypto_budget: Duration::from_millis(2),
        ram_dir: Some(ram.path().to_owned()),
        ..BenchOptions::default()
    };
    let report = run(&opts).expect("bench run");
    let json: Value = serde_json::from_str(&report.to_json()).expect("report is JSON");

    assert!(!json["machine"]["backend"].as_str().expect("backend").is_empty());
    assert!(json["machine"]["cpu_features"].is_array());
    let backends = json["backends"].as_array().expect("backends");
    assert_eq!(backends.len(), atrest_core::backend::supported().len());
    for b in backends {
        let rates = b["single_thread"].as_array().expect("single_thread");
        let sizes: Vec<u64> = rates.iter().map(|r| r["page_bytes"].as_u64().expect("page_bytes")).collect();
        assert_eq!(sizes, [4096, 16384, 65536]);
        for r in rates {
            positive(r, "/seal_gb_s");
            positive(r, "/open_gb_s");
        }
        positive(b, "/batch_seal_gb_s");
    }
    for ingest in ["/store/ingest_no_index", "/store/ingest_default_index", "/cpu_ceiling/ingest"] {
        for field in ["doc_mb_s", "written_mb_s", "cpu_seconds", "cpu_bound_mb_s", "seconds"] {
            positive(&json, &format!("{ingest}/{field}"));
        }
        let docs = json.pointer(&format!("{ingest}/doc_bytes")).and_then(Value::as_u64).expect("doc_bytes");
        assert!(docs >= 600_000, "{ingest} wrote only {docs} document bytes");
    }
    positive(&json, "/store/gets/gets_per_s");
    positive(&json, "/store/gets/p99_us");
    positive(&json, "/store/scan/doc_mb_s");
    for headline in ["/gets/per_s", "/gets/p99_us", "/ingest/cores_busy", "/ingest/indexed_doc_mb_s"] {
        positive(&json, headline);
    }
    positive(&json, "/store/scan/stored_mb_s");
    assert_eq!(json["store"]["scan"]["docs"], json["store"]["ingest_no_index"]["docs"]);
    positive(&json, "/disk/write_fdatasync_mb_s");
    positive(&json, "/disk/read_mb_s");
    positive(&json, "/disk/write_direct_mb_s");
    for ratio in [
        "ingest_vs_disk_write",
        "scan_vs_disk_read",
        "ingest_docs_vs_disk_write",
        "ingest_vs_disk_fdatasync_write",
        "indexed_ingest_vs_disk_write",
        "cpu_bound_ingest_vs_disk_write",
    ] {
        positive(&json, &format!("/ratios/{ratio}"));
    }
    let share = positive(&json, "/analysis/sealing_share");
    assert!(share < 1.5, "sealing share {share} is not a share");
    positive(&json, "/analysis/cpu_ms_per_doc_mb/total");
    assert!(json["analysis"]["limits"].is_array());
    let nvme = json["nvme"].as_array().expect("nvme");
    assert_eq!(nvme.len(), backends.len());
    for row in nvme {
        positive(row, "/store_cores_pcie4");
        positive(row, "/seal_cores_pcie5");
    }
    let text = report.render();
    assert!(text.contains("ratios") && text.contains("Where the time goes"), "{text}");
    assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0, "run directory removed");
    assert_eq!(std::fs::read_dir(ram.path()).expect("list").count(), 0, "ceiling directory removed");
}

#[test]
fn bad_options_are_refused_with_their_name() {
    let err = run(&BenchOptions { size: 0, progress: false, ..BenchOptions::default() }).expect_err("size 0");
    assert!(err.to_string().contains("--size"), "{err}");
    let missing = BenchOptions {
        data: Some("/nonexistent/atrest-bench".into()),
        size: 1000,
        progress: false,
        ..BenchOptions::default()
    };
    let err = run(&missing).expect_err("missing data dir");
    assert!(err.to_string().contains("/nonexistent/atrest-bench"), "{err}");
}
