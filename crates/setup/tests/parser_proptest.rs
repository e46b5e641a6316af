//! spec/scenario.md "The statements understood": whatever a step's `sql` holds, the parser
//! answers with statements or a column-numbered error, and never panics.

use mirror_setup::{parse_batch, ParseError};
use proptest::prelude::*;

/// Valid statements, as DBAs write them (and as the acceptance scenarios do).
const VALID: &[&str] = &[
    "CREATE ENDPOINT Mirroring STATE = STARTED AS TCP (LISTENER_PORT = 7022) FOR DATABASE_MIRRORING (ROLE = PARTNER)",
    "CREATE ENDPOINT [Mirroring] STATE=STARTED AS TCP (LISTENER_PORT=5022, LISTENER_IP = ALL) FOR DATABASE_MIRRORING (AUTHENTICATION = CERTIFICATE alpha_cert, ENCRYPTION = REQUIRED ALGORITHM AES RC4, ROLE = ALL)",
    "ALTER ENDPOINT Mirroring STATE = STOPPED",
    "DROP ENDPOINT Mirroring",
    "CREATE CERTIFICATE alpha_cert WITH SUBJECT = 'alpha''s mirroring certificate'",
    "BACKUP CERTIFICATE alpha_cert TO FILE = 'C:\\certs\\alpha.cer'",
    "CREATE CERTIFICATE beta_cert AUTHORIZATION beta_login FROM FILE = 'beta.cer'",
    "CREATE LOGIN [CORP\\svc-beta] FROM WINDOWS; GRANT CONNECT ON ENDPOINT::Mirroring TO [CORP\\svc-beta]",
    "CREATE LOGIN beta_login FROM CERTIFICATE beta_cert",
    "ALTER DATABASE Sales SET RECOVERY FULL",
    "BACKUP DATABASE Sales TO DISK = 'sales_full.bak' WITH DIFFERENTIAL",
    "BACKUP LOG Sales TO DISK = 'sales_log1.trn';",
    "RESTORE DATABASE Sales FROM DISK = 'sales_full.bak' WITH NORECOVERY, REPLACE",
    "RESTORE LOG Sales FROM DISK = 'sales_log1.trn' WITH NORECOVERY",
    "RESTORE DATABASE Sales WITH RECOVERY",
    "ALTER DATABASE Sales SET PARTNER = 'TCP://alpha.corp.example:7022'",
    "ALTER DATABASE Sales SET WITNESS = 'TCP://gamma.corp.example:7022'",
    "ALTER DATABASE Sales SET PARTNER SAFETY OFF; ALTER DATABASE Sales SET PARTNER TIMEOUT 30",
    "ALTER DATABASE Sales SET PARTNER FORCE_SERVICE_ALLOW_DATA_LOSS",
    "ALTER DATABASE Sales SET WITNESS OFF",
    "SELECT * FROM sys.database_mirroring; SELECT * FROM sys.database_mirroring_witnesses",
    "EXEC msdb.dbo.sp_dbmmonitorresults @database_name = N'Sales', @mode = 0, @update_table = 1",
    "/* comment */ ALTER DATABASE Sales SET PARTNER OFF -- trailing",
];

fn check(sql: &str) -> Result<(), TestCaseError> {
    match parse_batch(sql) {
        Ok(statements) => prop_assert!(!statements.is_empty()),
        Err(ParseError { column, message }) => {
            let end = sql.chars().count() + 1;
            prop_assert!(
                (1..=end).contains(&column),
                "column {} outside 1..={}: {}",
                column,
                end,
                message
            );
            prop_assert!(!message.is_empty());
        }
    }
    Ok(())
}

/// One random edit of a string, by character positions.
#[derive(Clone, Debug)]
enum Edit {
    Insert(usize, char),
    Delete(usize, usize),
    Replace(usize, char),
    Duplicate(usize, usize),
    Truncate(usize),
    Swap(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let interesting = prop_oneof![
        Just('\''),
        Just('['),
        Just(']'),
        Just(';'),
        Just(','),
        Just('('),
        Just(')'),
        Just('='),
        Just(':'),
        Just('-'),
        Just('/'),
        Just('*'),
        Just('@'),
        Just('N'),
        Just(' '),
        Just('é'),
        Just('\u{0}'),
        Just('9'),
        any::<char>(),
    ];
    prop_oneof![
        (any::<usize>(), interesting.clone()).prop_map(|(at, c)| Edit::Insert(at, c)),
        (any::<usize>(), 0usize..12).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<usize>(), interesting).prop_map(|(at, c)| Edit::Replace(at, c)),
        (any::<usize>(), 0usize..20).prop_map(|(at, n)| Edit::Duplicate(at, n)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Swap(a, b)),
    ]
}

fn apply(sql: &str, edit: &Edit) -> String {
    let mut chars: Vec<char> = sql.chars().collect();
    let len = chars.len();
    let at = |i: usize| if len == 0 { 0 } else { i % (len + 1) };
    match *edit {
        Edit::Insert(i, c) => chars.insert(at(i), c),
        Edit::Delete(i, n) => {
            let start = at(i);
            chars.drain(start..(start + n).min(len));
        }
        Edit::Replace(i, c) => {
            if len > 0 {
                chars[i % len] = c;
            }
        }
        Edit::Duplicate(i, n) => {
            let start = at(i);
            let slice: Vec<char> = chars[start..(start + n).min(len)].to_vec();
            chars.splice(start..start, slice);
        }
        Edit::Truncate(i) => chars.truncate(at(i)),
        Edit::Swap(a, b) => {
            if len > 0 {
                chars.swap(a % len, b % len);
            }
        }
    }
    chars.into_iter().collect()
}

/// Changes the case of ASCII letters outside quotes and brackets (keywords are
/// case-insensitive; names compare without case in the catalogs but keep their spelling here,
/// so only keywords are touched: the letters of words that are not names).
fn recase(sql: &str, pattern: &[bool]) -> String {
    let mut quoted = false;
    let mut bracketed = false;
    sql.chars()
        .enumerate()
        .map(|(i, c)| {
            match c {
                '\'' if !bracketed => quoted = !quoted,
                '[' if !quoted => bracketed = true,
                ']' if !quoted => bracketed = false,
                _ => {}
            }
            let flip = !quoted
                && !bracketed
                && pattern
                    .get(i % pattern.len().max(1))
                    .copied()
                    .unwrap_or(false);
            if flip && c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else if flip && c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn random_strings_never_panic(sql in any::<String>()) {
        check(&sql)?;
    }

    #[test]
    fn random_tsql_like_strings_never_panic(sql in "[A-Za-z_ \\[\\]'(),;=:*.@0-9\\\\/-]{0,80}") {
        check(&sql)?;
    }

    #[test]
    fn mutated_valid_statements_never_panic(
        index in 0..VALID.len(),
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        let mut sql = VALID[index].to_string();
        for edit in &edits {
            sql = apply(&sql, edit);
        }
        check(&sql)?;
    }

    #[test]
    fn keyword_case_never_matters(index in 0..VALID.len(), pattern in prop::collection::vec(any::<bool>(), 1..16)) {
        let sql = VALID[index];
        let original = parse_batch(sql).expect("valid");
        let recased = recase(sql, &pattern);
        // Names outside brackets change case too: compare the canonical SQL without case.
        let again = parse_batch(&recased).expect("case does not matter");
        let canonical = |statements: &[mirror_setup::Statement]| {
            statements.iter().map(|s| s.to_string().to_lowercase()).collect::<Vec<_>>()
        };
        prop_assert_eq!(canonical(&original), canonical(&again));
    }
}

#[test]
fn every_valid_statement_parses_and_prints_back() {
    for sql in VALID {
        let statements = parse_batch(sql).unwrap_or_else(|error| panic!("{sql}: {error}"));
        for statement in statements {
            let printed = statement.to_string();
            let reparsed =
                parse_batch(&printed).unwrap_or_else(|error| panic!("{printed}: {error}"));
            assert_eq!(reparsed, vec![statement], "{printed}");
        }
    }
}
