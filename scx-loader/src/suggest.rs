//! Did-you-mean: the closest known word to a misspelt one, by edit distance.

/// The edit distance between two strings (insertions, deletions, substitutions).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate within `max` edits, if any.
pub fn closest<'a>(word: &str, candidates: &[&'a str], max: usize) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_distance() {
        const KEYS: &[&str] = &["SCX_SCHEDULER", "SCX_FLAGS", "SCX_FALLBACK_SCHEDULER"];
        assert_eq!(edit_distance("SCX_SCHEDUER", "SCX_SCHEDULER"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(closest("SCX_FLAG", KEYS, 2), Some("SCX_FLAGS"));
        assert_eq!(closest("HOME", KEYS, 2), None);
    }
}
