//! Aligned columns, as `kubectl get` prints them.

/// `headers` and `rows` in columns two spaces apart; the last column is not
/// padded. Widths count characters, not bytes.
pub fn columns(headers: &[&str], rows: &[Vec<String>]) -> String {
    let count = headers.len();
    let mut widths: Vec<usize> = headers
        .iter()
        .map(|header| header.chars().count())
        .collect();
    for row in rows {
        for (index, cell) in row.iter().enumerate().take(count) {
            widths[index] = widths[index].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header_cells: Vec<String> = headers.iter().map(|header| (*header).to_owned()).collect();
    for row in std::iter::once(&header_cells).chain(rows) {
        let mut line = String::new();
        for (index, cell) in row.iter().enumerate().take(count) {
            if index + 1 == count {
                line.push_str(cell);
            } else {
                let pad = widths[index] - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `text` cut to `width` characters, ending in `…` when cut.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_on_the_widest_cell() {
        let text = columns(
            &["SERVICE", "STATUS"],
            &[
                vec!["account".to_owned(), "serving".to_owned()],
                vec!["notification".to_owned(), "unreachable".to_owned()],
            ],
        );
        assert_eq!(
            text,
            "SERVICE       STATUS\naccount       serving\nnotification  unreachable\n"
        );
    }

    #[test]
    fn fit_cuts_with_an_ellipsis() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
    }
}
