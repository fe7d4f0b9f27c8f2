//! The file's syntax, the shell / systemd `EnvironmentFile` subset: parsing it into assignments
//! and rewriting assignments in place.
//!
//! Syntax: one `KEY=VALUE` per logical line; blank lines and lines starting with `#` or `;` are
//! comments; an unquoted `#` after whitespace starts a comment; `'single'` quotes keep everything
//! literally; `"double"` quotes honour `\"`, `\\`, `\$`, `` \` `` and backslash-newline; outside
//! quotes a backslash escapes the next character and a backslash at the end of a line joins the
//! next one. Nothing is expanded: `$HOME` stays `$HOME`. A leading `export ` is accepted.

use super::words::quote;

/// One `KEY=VALUE` of the file, with the lines it spans (1-based, inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub key: String,
    pub value: String,
    pub first_line: usize,
    pub last_line: usize,
}

/// A syntax error: the line, what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub problem: String,
    pub fix: String,
}

/// Parses the file text into its assignments.
pub fn parse(text: &str) -> Result<Vec<Assignment>, SyntaxError> {
    Parser::new(text).run()
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    line: usize,
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\r'
}

impl Parser {
    fn new(text: &str) -> Self {
        Parser {
            chars: text.chars().collect(),
            pos: 0,
            line: 1,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.bump();
        }
    }

    fn skip_to_eol(&mut self) {
        while self.peek().is_some_and(|c| c != '\n') {
            self.bump();
        }
    }

    fn read_key(&mut self) -> String {
        let mut key = String::new();
        while let Some(c) = self
            .peek()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            key.push(c);
            self.bump();
        }
        key
    }

    fn run(mut self) -> Result<Vec<Assignment>, SyntaxError> {
        let mut out = Vec::new();
        loop {
            self.skip_blanks();
            let Some(c) = self.peek() else { break };
            if c == '\n' {
                self.bump();
                continue;
            }
            if c == '#' || c == ';' {
                self.skip_to_eol();
                continue;
            }
            let first_line = self.line;
            let mut key = self.read_key();
            if key == "export" && self.peek().is_some_and(is_blank) {
                self.skip_blanks();
                key = self.read_key();
            }
            if key.is_empty() || key.starts_with(|c: char| c.is_ascii_digit()) {
                let found = self.peek().map(|c| c.to_string()).unwrap_or_default();
                return Err(SyntaxError {
                    line: first_line,
                    problem: if key.is_empty() {
                        format!("expected KEY=VALUE, found {found:?}")
                    } else {
                        format!("{key:?} is not a valid key (keys start with a letter or _)")
                    },
                    fix: "write KEY=VALUE, or start the line with # to make it a comment".into(),
                });
            }
            self.skip_blanks();
            if self.peek() != Some('=') {
                return Err(SyntaxError {
                    line: first_line,
                    problem: format!("{key} has no '=' after it"),
                    fix: format!("write {key}=VALUE (use quotes around values with spaces)"),
                });
            }
            self.bump();
            let value = self.read_value()?;
            out.push(Assignment {
                key,
                value,
                first_line,
                last_line: self.line,
            });
        }
        Ok(out)
    }

    fn unbalanced(&self, quote: char, line: usize) -> SyntaxError {
        let name = if quote == '\'' { "single" } else { "double" };
        SyntaxError {
            line,
            problem: format!("unbalanced {name} quote ({quote} opened here is never closed)"),
            fix: format!("add the closing {quote}, or escape the quote as \\{quote}"),
        }
    }

    /// Reads a value up to the end of its logical line (the newline is left in place).
    fn read_value(&mut self) -> Result<String, SyntaxError> {
        let mut value = String::new();
        let mut started = false;
        let mut blanks = String::new();
        while let Some(c) = self.peek() {
            match c {
                '\n' => break,
                '#' if !blanks.is_empty() => {
                    self.skip_to_eol();
                    break;
                }
                c if is_blank(c) => {
                    blanks.push(c);
                    self.bump();
                }
                '\\' => {
                    self.bump();
                    match self.bump() {
                        None => break,
                        Some('\n') => {}
                        Some(c) => {
                            flush(&mut value, &mut blanks, &mut started);
                            value.push(c);
                        }
                    }
                }
                '\'' => {
                    flush(&mut value, &mut blanks, &mut started);
                    let open = self.line;
                    self.bump();
                    loop {
                        match self.bump() {
                            None => return Err(self.unbalanced('\'', open)),
                            Some('\'') => break,
                            Some(c) => value.push(c),
                        }
                    }
                }
                '"' => {
                    flush(&mut value, &mut blanks, &mut started);
                    let open = self.line;
                    self.bump();
                    loop {
                        match self.bump() {
                            None => return Err(self.unbalanced('"', open)),
                            Some('"') => break,
                            Some('\\') => match self.bump() {
                                None => return Err(self.unbalanced('"', open)),
                                Some('\n') => {}
                                Some(c @ ('"' | '\\' | '$' | '`')) => value.push(c),
                                Some(c) => {
                                    value.push('\\');
                                    value.push(c);
                                }
                            },
                            Some(c) => value.push(c),
                        }
                    }
                }
                c => {
                    flush(&mut value, &mut blanks, &mut started);
                    value.push(c);
                    self.bump();
                }
            }
        }
        Ok(value)
    }
}

/// Adds the whitespace held back between words, unless the value has not started yet.
fn flush(value: &mut String, blanks: &mut String, started: &mut bool) {
    if *started {
        value.push_str(blanks);
    }
    blanks.clear();
    *started = true;
}

/// Sets `updates` in the file text, keeping every other line (comments, unknown keys) as it is:
/// the effective (last) assignment of a key is replaced in place, a missing key is appended.
pub fn rewrite(text: &str, updates: &[(&str, &str)]) -> Result<String, SyntaxError> {
    let assignments = parse(text)?;
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    let mut appended = Vec::new();
    let mut replacements: Vec<(usize, usize, String)> = Vec::new();
    for (key, value) in updates {
        let line = format!("{key}={}\n", quote(value));
        match assignments.iter().rev().find(|a| a.key == *key) {
            Some(a) => replacements.push((a.first_line, a.last_line, line)),
            None => appended.push(line),
        }
    }
    replacements.sort_by_key(|r| std::cmp::Reverse(r.0));
    for (first, last, line) in replacements {
        let last = last.min(lines.len());
        lines.splice(first - 1..last, std::iter::once(line));
    }
    if !appended.is_empty() {
        if lines.last().is_some_and(|l| !l.ends_with('\n')) {
            if let Some(l) = lines.last_mut() {
                l.push('\n');
            }
        }
        lines.extend(appended);
    }
    Ok(lines.concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{KEY_FLAGS, KEY_SCHEDULER};

    fn values(text: &str) -> Vec<(String, String)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|a| (a.key, a.value))
            .collect()
    }

    fn kv(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn plain_assignments_comments_and_blank_lines() {
        let text =
            "# comment\n\n; also a comment\nSCX_SCHEDULER=scx_rustland\n  SCX_FLAGS = -s 5000  \n";
        assert_eq!(
            values(text),
            vec![
                kv("SCX_SCHEDULER", "scx_rustland"),
                kv("SCX_FLAGS", "-s 5000")
            ]
        );
    }

    #[test]
    fn quotes() {
        assert_eq!(values("A='x  y # z'"), vec![kv("A", "x  y # z")]);
        assert_eq!(
            values(r#"A="a \"b\" \$c \n""#),
            vec![kv("A", r#"a "b" $c \n"#)]
        );
        assert_eq!(values(r"A='it'\''s'"), vec![kv("A", "it's")]);
        assert_eq!(values("A=''"), vec![kv("A", "")]);
        assert_eq!(values("A=pre'mid'post"), vec![kv("A", "premidpost")]);
        assert_eq!(
            values("A='multi\nline'\nB=1"),
            vec![kv("A", "multi\nline"), kv("B", "1")]
        );
    }

    #[test]
    fn inline_comments_need_whitespace_before_them() {
        assert_eq!(values("A=x # note"), vec![kv("A", "x")]);
        assert_eq!(values("A=x#y"), vec![kv("A", "x#y")]);
        assert_eq!(values("A= # only a comment"), vec![kv("A", "")]);
    }

    #[test]
    fn backslash_continuations_and_escapes() {
        let parsed = parse("A=one \\\n  two\nB=\"x\\\ny\"\nC=a\\ b\n").unwrap();
        assert_eq!(parsed[0].value, "one   two");
        assert_eq!((parsed[0].first_line, parsed[0].last_line), (1, 2));
        assert_eq!(parsed[1].value, "xy");
        assert_eq!(parsed[2].value, "a b");
        assert_eq!(parsed[2].first_line, 5);
    }

    #[test]
    fn export_prefix_and_crlf() {
        assert_eq!(
            values("export A=1\r\nB=2\r\n"),
            vec![kv("A", "1"), kv("B", "2")]
        );
    }

    #[test]
    fn unbalanced_quotes_name_the_opening_line() {
        let err = parse("A=1\nB='open\nC=3\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.problem.contains("unbalanced single quote"), "{err:?}");
        let err = parse("A=\"x\\\"").unwrap_err();
        assert!(err.problem.contains("unbalanced double quote"), "{err:?}");
    }

    #[test]
    fn lines_that_are_not_assignments() {
        let err = parse("A=1\nthis is prose\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.problem.contains("no '='"), "{err:?}");
        let err = parse("=x").unwrap_err();
        assert!(err.problem.contains("expected KEY=VALUE"), "{err:?}");
        let err = parse("9A=x").unwrap_err();
        assert!(err.problem.contains("not a valid key"), "{err:?}");
    }

    #[test]
    fn rewrite_keeps_everything_else() {
        let text =
            "# head\nSCX_SCHEDULER=scx_a # old\nOTHER='keep me'\nSCX_FLAGS='-x \\\n -y'\n# tail";
        let out = rewrite(text, &[(KEY_SCHEDULER, "scx_b"), (KEY_FLAGS, "-s 1")]).unwrap();
        assert_eq!(
            out,
            "# head\nSCX_SCHEDULER=scx_b\nOTHER='keep me'\nSCX_FLAGS='-s 1'\n# tail"
        );
        let out = rewrite("# only a comment", &[(KEY_SCHEDULER, "scx_b")]).unwrap();
        assert_eq!(out, "# only a comment\nSCX_SCHEDULER=scx_b\n");
        let out = rewrite(
            "SCX_SCHEDULER=a\nSCX_SCHEDULER=b\n",
            &[(KEY_SCHEDULER, "scx_c")],
        )
        .unwrap();
        assert_eq!(out, "SCX_SCHEDULER=a\nSCX_SCHEDULER=scx_c\n");
        assert!(rewrite("A='x", &[(KEY_SCHEDULER, "scx_c")]).is_err());
    }
}
