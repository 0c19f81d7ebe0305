//! `atrest bench` end to end through the binary, on a tiny size: it runs without a store, prints JSON with
//! the `ratios` object, refuses a bad size by name, and leaves nothing behind in --data.

use std::process::Command;

fn atrest() -> Command {
    Command::new(env!("CARGO_BIN_EXE_atrest"))
}

#[test]
fn bench_prints_json_with_ratios_and_cleans_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = atrest()
        .args(["bench", "--size", "200KiB", "--threads", "2", "--json", "--data"])
        .arg(dir.path())
        .output()
        .expect("run atrest bench");
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    for ratio in ["ingest_vs_disk_write", "scan_vs_disk_read"] {
        let r = report["ratios"][ratio].as_f64().unwrap_or_else(|| panic!("ratios.{ratio} missing"));
        assert!(r.is_finite() && r > 0.0, "ratios.{ratio} = {r}");
    }
    assert_eq!(report["run"]["threads"], 2);
    assert!(report["run"]["size"].as_u64() == Some(200 * 1024));
    assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0, "bench left files in --data");
}

#[test]
fn bench_refuses_a_bad_size_by_name() {
    let out = atrest().args(["bench", "--size", "12XB"]).output().expect("run atrest bench");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--size") && err.contains("12XB"), "{err}");
}
