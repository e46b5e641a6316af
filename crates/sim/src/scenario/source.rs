//! Positions in the scenario's text: byte offsets (as toml's spans give them) to the 1-based
//! line and column a person looks for, and characters of a decoded TOML string (a step's
//! `sql`) back to where they stand in the file.

use std::fmt;

/// A 1-based line and column (in characters) in a scenario file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

impl Location {
    /// The start of the file, for errors that belong to the whole file (a missing key).
    pub const START: Location = Location { line: 1, column: 1 };

    /// The line and column of byte `offset` in `source`. An offset past the end, or inside a
    /// multi-byte character, is clamped to a character boundary before it.
    pub fn of_offset(source: &str, offset: usize) -> Location {
        let mut offset = offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &source[..offset];
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        Location {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}", self.line, self.column)
    }
}

/// The byte offset, within `literal` (a TOML string exactly as written, quotes included), of
/// the `column`-th character (1-based) of the string's value. A column past the end maps to the
/// closing quote. Escapes (`\\`, `\"`, `\u00e9`, a line-ending backslash) are accounted for, so
/// that a SQL parse error points at the right character of the file.
pub fn offset_of_character(literal: &str, column: usize) -> usize {
    let (open, close, escapes, trims_first_newline) = delimiters(literal);
    let body_end = literal.len().saturating_sub(close).max(open);
    let body = literal.get(open..body_end).unwrap_or("");
    let starts = character_starts(body, escapes, trims_first_newline);
    let index = column.saturating_sub(1);
    open + starts.get(index).copied().unwrap_or(body.len())
}

/// The opening and closing delimiter lengths, whether escapes apply, and whether a newline
/// right after the opening delimiter is dropped (multi-line strings).
fn delimiters(literal: &str) -> (usize, usize, bool, bool) {
    if literal.starts_with("\"\"\"") {
        (3, 3, true, true)
    } else if literal.starts_with("'''") {
        (3, 3, false, true)
    } else if literal.starts_with('"') {
        (1, 1, true, false)
    } else if literal.starts_with('\'') {
        (1, 1, false, false)
    } else {
        (0, 0, false, false)
    }
}

/// The byte offset in `body` where each decoded character starts.
fn character_starts(body: &str, escapes: bool, trims_first_newline: bool) -> Vec<usize> {
    let mut skip = 0;
    if trims_first_newline {
        if body.starts_with("\r\n") {
            skip = 2;
        } else if body.starts_with('\n') {
            skip = 1;
        }
    }
    let mut starts = Vec::new();
    let mut characters = body
        .char_indices()
        .skip_while(|(index, _)| *index < skip)
        .peekable();
    while let Some((index, character)) = characters.next() {
        if !(escapes && character == '\\') {
            starts.push(index);
            continue;
        }
        match characters.peek().map(|(_, next)| *next) {
            Some('u') => skip_escape_digits(&mut characters, 4),
            Some('U') => skip_escape_digits(&mut characters, 8),
            Some(next) if next.is_whitespace() => {
                // A line-ending backslash: it and the whitespace after it vanish.
                while characters
                    .next_if(|(_, next)| next.is_whitespace())
                    .is_some()
                {}
                continue;
            }
            Some(_) => {
                characters.next();
            }
            None => {}
        }
        starts.push(index);
    }
    starts
}

fn skip_escape_digits(
    characters: &mut std::iter::Peekable<impl Iterator<Item = (usize, char)>>,
    digits: usize,
) {
    characters.next();
    for _ in 0..digits {
        if characters
            .next_if(|(_, next)| next.is_ascii_hexdigit())
            .is_none()
        {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let source = "a = 1\nbb = \"µs\"\n";
        assert_eq!(
            Location::of_offset(source, 0),
            Location { line: 1, column: 1 }
        );
        assert_eq!(
            Location::of_offset(source, 4),
            Location { line: 1, column: 5 }
        );
        assert_eq!(
            Location::of_offset(source, 6),
            Location { line: 2, column: 1 }
        );
        // After the two-byte 'µ', the column counts characters, not bytes.
        let after_micro = source.find('s').unwrap();
        assert_eq!(
            Location::of_offset(source, after_micro),
            Location { line: 2, column: 8 }
        );
        // Inside the 'µ' and past the end: clamped, never a panic.
        let _ = Location::of_offset(source, after_micro - 1);
        assert_eq!(
            Location::of_offset(source, 1_000),
            Location { line: 3, column: 1 }
        );
    }

    #[test]
    fn characters_of_a_basic_string_map_past_its_escapes() {
        let literal = r#""CREATE LOGIN [CORP\\svc-beta] FROM WINDOWS""#;
        // Column 1 is 'C', just after the opening quote.
        assert_eq!(offset_of_character(literal, 1), 1);
        // 'L' of LOGIN: column 8 of the value, byte 8 of the literal.
        assert_eq!(&literal[offset_of_character(literal, 8)..][..5], "LOGIN");
        // 's' of svc-beta: column 20 of the value, after the two-byte escape `\\`.
        assert_eq!(&literal[offset_of_character(literal, 20)..][..3], "svc");
        // Past the end: the closing quote.
        assert_eq!(offset_of_character(literal, 500), literal.len() - 1);
    }

    #[test]
    fn unicode_escapes_and_literal_strings() {
        let literal = r#""\u00e9X""#;
        assert_eq!(&literal[offset_of_character(literal, 2)..][..1], "X");
        let literal = r"'a\b'";
        assert_eq!(&literal[offset_of_character(literal, 3)..][..1], "b");
    }

    #[test]
    fn multi_line_strings_drop_the_first_newline_and_line_continuations() {
        let literal = "\"\"\"\nAB \\\n   CD\"\"\"";
        // Value is "AB CD": column 4 is 'C'.
        assert_eq!(&literal[offset_of_character(literal, 4)..][..1], "C");
        let literal = "'''\nxy'''";
        assert_eq!(&literal[offset_of_character(literal, 2)..][..1], "y");
    }

    #[test]
    fn garbage_never_panics() {
        for literal in ["", "\"", "\"\"\"", "'", "\\", "\"\\u12", "\"\\", "x"] {
            for column in 0..6 {
                let offset = offset_of_character(literal, column);
                assert!(offset <= literal.len());
            }
        }
    }
}
