//! `atrest collections`: each collection on a line, its name, its index policy and its document count (tab
//! separated), from the store or through a server.

use atrest_store::{IndexPolicy, Store};
use serde_json::Value;

use crate::output::outln;

/// A policy as the API spells it: `"all"`, `"none"` or a list of JSON Pointers.
pub fn policy_json(p: &IndexPolicy) -> Value {
    match p {
        IndexPolicy::All => "all".into(),
        IndexPolicy::None => "none".into(),
        IndexPolicy::Paths(paths) => paths.clone().into(),
    }
}

/// One collection as a line: `NAME<TAB>all|none|/a,/b<TAB>DOCUMENTS`.
pub fn line(name: &str, index: &Value, documents: u64) -> String {
    let index = match index {
        Value::String(s) => s.clone(),
        Value::Array(paths) => paths.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    };
    format!("{name}\t{index}\t{documents}")
}

/// Lists the collections of an open store.
pub fn list(store: &Store) -> Result<(), String> {
    for (name, policy) in store.collections() {
        let documents = store.count(&name).map_err(|e| e.to_string())?;
        outln!("{}", line(&name, &policy_json(&policy), documents));
    }
    Ok(())
}
