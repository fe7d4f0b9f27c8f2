//! Shell words without a shell: splitting `SCX_FLAGS` into arguments, and quoting values and
//! word lists so that the file (and a shell) reads them back unchanged.

/// A problem with a word list (`SCX_FLAGS`): what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordsError {
    pub problem: String,
    pub fix: String,
}

/// Splits a string into words the way a shell does, without running one: whitespace separates,
/// quotes group, backslashes escape. Nothing is expanded and no character is special otherwise,
/// so `; rm -rf /` is just the words `;`, `rm`, `-rf` and `/`.
pub fn split_words(text: &str) -> Result<Vec<String>, WordsError> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\\' => {
                let w = word.get_or_insert_with(String::new);
                match chars.next() {
                    Some('\n') | None => {}
                    Some(c) => w.push(c),
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        None => return Err(unbalanced_word('\'')),
                        Some('\'') => break,
                        Some(c) => w.push(c),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        None => return Err(unbalanced_word('"')),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            None => return Err(unbalanced_word('"')),
                            Some('\n') => {}
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                        },
                        Some(c) => w.push(c),
                    }
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(w) = word {
        words.push(w);
    }
    Ok(words)
}

fn unbalanced_word(quote: char) -> WordsError {
    WordsError {
        problem: format!("unbalanced {quote} in the flags"),
        fix: format!("close the {quote}, or escape it as \\{quote}"),
    }
}

/// Quotes a value so that [`parse`] (and a shell) reads it back unchanged.
pub fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.,/:=+@%".contains(c));
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// Quotes a word list so that [`split_words`] (and a shell) reads it back unchanged.
pub fn join_words(words: &[String]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_a_shell_without_one() {
        let w = split_words(r#"--a 1  -b 'x y' "q\"z" c\ d ; rm -rf / $(id)"#).unwrap();
        assert_eq!(
            w,
            vec!["--a", "1", "-b", "x y", "q\"z", "c d", ";", "rm", "-rf", "/", "$(id)"]
        );
        assert_eq!(split_words("  ").unwrap(), Vec::<String>::new());
        assert_eq!(split_words("''").unwrap(), vec![String::new()]);
        assert!(split_words("'x").is_err());
        assert!(split_words("\"x").is_err());
    }
}
