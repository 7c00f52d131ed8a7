//! The placeholder lists of statements over many rows (multi-row inserts,
//! row-constructor `IN` lists), for the MySQL backend.

/// `rows` groups of `columns` placeholders: `(?, ?), (?, ?)`.
pub(crate) fn placeholders(rows: usize, columns: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    vec![row.as_str(); rows].join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_group_columns_by_row() {
        assert_eq!(placeholders(2, 3), "(?, ?, ?), (?, ?, ?)");
        assert_eq!(placeholders(1, 1), "(?)");
    }
}
