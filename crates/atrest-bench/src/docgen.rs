//! Deterministic JSON documents of realistic shapes, 1 to 4 KiB each.
//!
//! Three shapes alternate (an order with line items, a user profile, a batch of sensor readings): nested
//! objects, arrays of objects and scalars, strings with escapes, integers and floats. Document `n` depends
//! only on `(seed, n)`, so two runs ingest exactly the same bytes and a batch can be regenerated instead of
//! kept in memory.

use serde_json::{Map, Value, json};

/// Smallest document the generator aims for, in bytes.
pub const MIN_DOC_BYTES: usize = 1024;
/// Largest document the generator aims for, in bytes.
pub const MAX_DOC_BYTES: usize = 4096;

/// SplitMix64: tiny, fast and good enough to vary document shapes (not for anything secret).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "amber",
    "basalt",
    "cedar",
    "delta",
    "ember",
    "fjord",
    "granite",
    "harbor",
    "iris",
    "juniper",
    "kelp",
    "lumen",
    "meadow",
    "nickel",
    "orchid",
    "pine",
    "quartz",
    "river",
    "saffron",
    "tundra",
    "umber",
    "violet",
    "willow",
    "xenon",
    "yarrow",
    "zephyr",
    "\"quoted\"",
    "tab\there",
    "naïve",
    "Zürich",
    "東京",
    "line\nbreak",
];
const CITIES: &[&str] = &["Oslo", "Lyon", "Porto", "Kraków", "Austin", "Osaka", "Recife", "Tartu", "Gent", "Perth"];
const STATUS: &[&str] = &["pending", "paid", "shipped", "delivered", "returned"];

/// The id of document `n`: fixed width, so ids sort in ingest order.
pub fn doc_id(n: u64) -> String {
    format!("doc-{n:012}")
}

/// Document `n` of the stream seeded by `seed`, serialised compactly.
pub fn document(seed: u64, n: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed ^ n.wrapping_mul(0xA076_1D64_78BD_642F));
    let target = MIN_DOC_BYTES + rng.below((MAX_DOC_BYTES - MIN_DOC_BYTES) as u64) as usize;
    let mut doc = match n % 3 {
        0 => order(&mut rng, n),
        1 => profile(&mut rng, n),
        _ => readings(&mut rng, n),
    };
    let base = serde_json::to_vec(&doc).unwrap_or_default().len();
    // Free text pads the document to its target size (real documents carry notes, descriptions, bios).
    let mut notes = String::new();
    while base + notes.len() + 12 < target {
        notes.push_str(rng.pick(WORDS));
        notes.push(' ');
    }
    if let Value::Object(map) = &mut doc {
        map.insert("notes".into(), Value::String(notes));
    }
    serde_json::to_vec(&doc).unwrap_or_default()
}

fn sentence(rng: &mut Rng, words: u64) -> String {
    (0..words).map(|_| rng.pick(WORDS)).collect::<Vec<_>>().join(" ")
}

fn address(rng: &mut Rng) -> Value {
    json!({
        "street": format!("{} {}", 1 + rng.below(400), sentence(rng, 2)),
        "city": rng.pick(CITIES),
        "zip": format!("{:05}", rng.below(100_000)),
        "geo": { "lat": rng.below(180_000) as f64 / 1000.0 - 90.0, "lon": rng.below(360_000) as f64 / 1000.0 - 180.0 },
    })
}

fn order(rng: &mut Rng, n: u64) -> Value {
    let items: Vec<Value> = (0..1 + rng.below(6))
        .map(|i| {
            json!({
                "line": i,
                "sku": format!("SKU-{:06}", rng.below(1_000_000)),
                "name": sentence(rng, 3),
                "qty": 1 + rng.below(9),
                "price": (rng.below(100_000) as f64) / 100.0,
                "tags": (0..rng.below(4)).map(|_| Value::from(rng.pick(WORDS))).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "type": "order",
        "order_no": n,
        "status": rng.pick(STATUS),
        "customer": { "name": sentence(rng, 2), "email": format!("user{}@example.com", rng.below(1 << 20)), "address": address(rng) },
        "items": items,
        "total": (rng.below(10_000_000) as f64) / 100.0,
        "paid": rng.below(2) == 1,
        "created": format!("2026-{:02}-{:02}T{:02}:{:02}:00Z", 1 + rng.below(12), 1 + rng.below(28), rng.below(24), rng.below(60)),
    })
}

fn profile(rng: &mut Rng, n: u64) -> Value {
    let mut prefs = Map::new();
    for _ in 0..2 + rng.below(6) {
        prefs.insert(rng.pick(WORDS).to_owned(), json!(rng.below(2) == 1));
    }
    let bio_words = 5 + rng.below(20);
    json!({
        "type": "user",
        "user_id": n,
        "name": { "first": rng.pick(WORDS), "last": rng.pick(WORDS) },
        "age": 18 + rng.below(70),
        "home": address(rng),
        "work": if rng.below(2) == 1 { address(rng) } else { Value::Null },
        "preferences": prefs,
        "scores": (0..rng.below(12)).map(|_| rng.below(1000)).collect::<Vec<_>>(),
        "bio": sentence(rng, bio_words),
    })
}

fn readings(rng: &mut Rng, n: u64) -> Value {
    let samples: Vec<Value> = (0..2 + rng.below(10))
        .map(|i| json!({ "t": 1_790_000_000 + n * 60 + i, "temp": rng.below(4000) as f64 / 100.0 - 10.0, "ok": rng.below(10) != 0 }))
        .collect();
    json!({
        "type": "readings",
        "device": format!("dev-{:04}", rng.below(5000)),
        "site": { "city": rng.pick(CITIES), "rack": rng.below(64), "labels": [rng.pick(WORDS), rng.pick(WORDS)] },
        "samples": samples,
        "firmware": format!("{}.{}.{}", rng.below(4), rng.below(20), rng.below(100)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_deterministic_objects_of_the_target_sizes() {
        let mut shapes = std::collections::BTreeSet::new();
        for n in 0..300 {
            let doc = document(7, n);
            assert_eq!(doc, document(7, n), "document {n} is not deterministic");
            let value: Value = serde_json::from_slice(&doc).expect("valid JSON");
            let obj = value.as_object().expect("an object");
            shapes.insert(obj["type"].as_str().expect("type").to_owned());
            assert!(
                (MIN_DOC_BYTES - 64..=MAX_DOC_BYTES + 256).contains(&doc.len()),
                "document {n} has {} bytes",
                doc.len()
            );
        }
        assert_eq!(shapes.len(), 3);
        assert_ne!(document(7, 1), document(8, 1));
        assert!(doc_id(2) < doc_id(10));
    }
}
