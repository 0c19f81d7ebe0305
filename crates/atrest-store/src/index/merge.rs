//! Merging sorted sources (the buffer and runs, newest first) into one ordered stream in which the newest
//! entry of each key wins, and choosing which runs to merge.

use super::reader::Entry;
use crate::error::Result;

/// A sorted source of entries.
pub(crate) type Source<'a> = Box<dyn Iterator<Item = Result<Entry>> + 'a>;

/// Merges sources given newest first: each key comes out once, with the value of the newest source that has
/// it.
pub(crate) struct MergeIter<'a> {
    sources: Vec<Source<'a>>,
    heads: Vec<Option<Entry>>,
    started: bool,
    failed: bool,
}

impl<'a> MergeIter<'a> {
    pub(crate) fn new(sources: Vec<Source<'a>>) -> MergeIter<'a> {
        let heads = sources.iter().map(|_| None).collect();
        MergeIter { sources, heads, started: false, failed: false }
    }

    fn advance(&mut self, i: usize) -> Result<()> {
        self.heads[i] = self.sources[i].next().transpose()?;
        Ok(())
    }
}

impl Iterator for MergeIter<'_> {
    type Item = Result<Entry>;
    fn next(&mut self) -> Option<Result<Entry>> {
        if self.failed {
            return None;
        }
        if !self.started {
            self.started = true;
            for i in 0..self.sources.len() {
                if let Err(e) = self.advance(i) {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
        // Few sources (the buffer and a bounded number of runs): a linear scan for the smallest key.
        let mut best: Option<usize> = None;
        for (i, h) in self.heads.iter().enumerate() {
            if let Some((k, _)) = h
                && best.is_none_or(|b| k < &self.heads[b].as_ref().expect("best is set").0)
            {
                best = Some(i);
            }
        }
        let b = best?;
        let out = self.heads[b].take().expect("best is set");
        let step = (|| {
            self.advance(b)?;
            for i in b + 1..self.heads.len() {
                if self.heads[i].as_ref().is_some_and(|(k, _)| *k == out.0) {
                    self.advance(i)?;
                }
            }
            Ok(())
        })();
        if let Err(e) = step {
            self.failed = true;
            return Some(Err(e));
        }
        Some(Ok(out))
    }
}

/// Merges are due once this many runs can be merged together.
const MIN_MERGE: usize = 4;
/// Past this many runs of one tree, the newest are merged whatever their sizes.
const MAX_RUNS: usize = 8;

/// Given the sizes of a tree's runs, newest first, how many of the newest to merge now, if any.
///
/// The newest runs are taken while the next older one is at most twice their sum, so run sizes grow
/// geometrically from newest to oldest: a lookup touches O(log n) runs (at most [`MAX_RUNS`] plus the merges
/// in flight) and each entry is rewritten O(log n) times.
pub(crate) fn plan(sizes: &[u64]) -> Option<usize> {
    let (&first, rest) = sizes.split_first()?;
    let mut sum = first;
    let mut k = 1;
    for &s in rest {
        if s > sum.saturating_mul(2) {
            break;
        }
        sum += s;
        k += 1;
    }
    if k >= MIN_MERGE {
        Some(k)
    } else if sizes.len() > MAX_RUNS {
        Some(k.max(2))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(v: &[(&str, &str)]) -> Source<'static> {
        let owned: Vec<Result<Entry>> =
            v.iter().map(|(k, v)| Ok((k.as_bytes().to_vec(), v.as_bytes().to_vec()))).collect();
        Box::new(owned.into_iter())
    }

    #[test]
    fn newest_source_wins_each_key() {
        let m = MergeIter::new(vec![src(&[("b", "new"), ("d", "4")]), src(&[("a", "1"), ("b", "old"), ("c", "3")])]);
        let got: Vec<(String, String)> = m
            .map(|e| e.unwrap())
            .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
            .collect();
        let want = [("a", "1"), ("b", "new"), ("c", "3"), ("d", "4")];
        assert_eq!(got, want.map(|(k, v)| (k.to_owned(), v.to_owned())));
    }

    #[test]
    fn plan_keeps_runs_few_and_geometric() {
        assert_eq!(plan(&[1, 1, 1]), None);
        assert_eq!(plan(&[1, 1, 1, 1]), Some(4));
        assert_eq!(plan(&[1, 1, 1, 1, 100]), Some(4));
        assert_eq!(plan(&[1, 1, 2, 4, 100]), Some(4));
        // Simulate steady flushes: the number of runs stays logarithmic.
        let mut runs: Vec<u64> = Vec::new();
        for _ in 0..10_000 {
            runs.insert(0, 1);
            while let Some(k) = plan(&runs) {
                let sum: u64 = runs.drain(..k).sum();
                runs.insert(0, sum);
            }
            assert!(runs.len() <= MAX_RUNS, "{runs:?}");
        }
    }
}
