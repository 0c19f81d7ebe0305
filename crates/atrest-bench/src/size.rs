//! Byte counts on the command line: `268435456`, `256MiB`, `256M`, `1.5GB`.

/// Parses a byte count: an integer or decimal with an optional unit (`K`/`KiB` = 1024, `KB` = 1000, and the
/// same for `M` and `G`; case-insensitive).
///
/// # Errors
/// A message naming the input when it is not a number with a known unit, or is zero.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| format!("{text:?} is not a byte count (e.g. 268435456 or 256MiB)"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "kb" => 1e3,
        "m" | "mib" => 1024.0 * 1024.0,
        "mb" => 1e6,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "gb" => 1e9,
        other => return Err(format!("unknown unit {other:?} in {text:?} (use K, KiB, KB, M, MiB, MB, G, GiB or GB)")),
    };
    let bytes = (value * mult).round();
    if !(1.0..1e18).contains(&bytes) {
        return Err(format!("{text:?} must be at least 1 byte"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_with_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("256m"), Ok(256 << 20));
        assert_eq!(parse_size("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse_size(" 2 KiB "), Ok(2048));
        for bad in ["", "0", "abc", "12XB", "-5", "1e3"] {
            assert!(parse_size(bad).is_err(), "{bad:?} accepted");
        }
    }
}
