//! The placeholder lists of statements over many rows (multi-row inserts,
//! row-constructor `IN` lists), and their values, for the MySQL backend.

use mysql::Value;

/// `rows` groups of `columns` placeholders: `(?, ?), (?, ?)`.
pub(crate) fn placeholders(rows: usize, columns: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    vec![row.as_str(); rows].join(", ")
}

/// `count` placeholders for an `IN` list of single values: `?, ?, ?`.
pub(crate) fn value_list(count: usize) -> String {
    vec!["?"; count].join(", ")
}

/// The values of `(?, ?)` rows, in order: `(a, b), (c, d)` → `a, b, c, d`.
pub(crate) fn pair_values(pairs: &[(u64, u64)]) -> Vec<Value> {
    pairs.iter().flat_map(|&(a, b)| [a.into(), b.into()]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_group_columns_by_row() {
        assert_eq!(placeholders(2, 3), "(?, ?, ?), (?, ?, ?)");
        assert_eq!(placeholders(1, 1), "(?)");
        assert_eq!(value_list(3), "?, ?, ?");
    }
}
