//! Tables for people: columns aligned by `comfy-table`, no borders (easy to read and to
//! `grep`/`cut`), a header line first, trailing spaces trimmed.

use comfy_table::presets::NOTHING;

use crate::Result;
use crate::output::line;

/// The longest cell of a table made [`Table::cut`], in characters; longer ones end in `…`.
const MAX_CELL: usize = 48;

/// Spaces between columns.
const GAP: u16 = 2;

/// A table being filled.
pub(crate) struct Table {
    inner: comfy_table::Table,
    /// Whether long cells are cut (wide listings) or kept whole.
    cut: bool,
}

impl Table {
    /// A table with a header line.
    pub(crate) fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        let mut table = Self::pairs();
        let headers: Vec<String> = headers.into_iter().map(Into::into).collect();
        table.inner.set_header(headers);
        table
    }

    /// Key/value lines, without a header.
    pub(crate) fn pairs() -> Self {
        let mut inner = comfy_table::Table::new();
        inner.load_style(NOTHING);
        Self { inner, cut: false }
    }

    /// The same table with the cells of rows added from now on cut to 48 characters (wide
    /// listings whose free-text cells would push the other columns off the screen).
    pub(crate) fn cut(mut self) -> Self {
        self.cut = true;
        self
    }

    /// Adds a row.
    pub(crate) fn row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let cut = self.cut;
        let cells: Vec<String> = cells.into_iter().map(|c| cell(c.as_ref(), cut)).collect();
        self.inner.add_row(cells);
    }

    /// The table as text, one line per row, no trailing newline.
    pub(crate) fn render(mut self) -> String {
        for column in self.inner.column_iter_mut() {
            column.set_padding((0, GAP));
        }
        self.inner.trim_fmt()
    }

    /// Prints the table on stdout.
    pub(crate) fn print(self) -> Result<()> {
        line(&self.render())
    }
}

/// A cell on one line (a line break would break the columns), cut to [`MAX_CELL`]
/// characters when `cut` is set.
fn cell(text: &str, cut: bool) -> String {
    let one_line = text.replace(['\n', '\r', '\t'], " ");
    if cut && one_line.chars().count() > MAX_CELL {
        let mut short: String = one_line.chars().take(MAX_CELL - 1).collect();
        short.push('…');
        short
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_without_borders() {
        let mut table = Table::new(["name", "id"]);
        table.row(["alpha", "1"]);
        table.row(["b", "12345"]);
        assert_eq!(table.render(), "name   id\nalpha  1\nb      12345");
    }

    #[test]
    fn long_cells_are_cut_only_when_asked() {
        let long = "x".repeat(60);
        let mut table = Table::new(["v"]).cut();
        table.row([long.as_str()]);
        let text = table.render();
        assert_eq!(text.lines().nth(1).map(|l| l.chars().count()), Some(48));
        assert!(text.ends_with('…'));
        let mut pairs = Table::pairs();
        pairs.row(["key", &format!("a\n{long}")]);
        assert_eq!(pairs.render(), format!("key  a {long}"));
        let mut whole = Table::new(["v"]);
        whole.row([long.as_str()]);
        assert!(whole.render().ends_with(&long));
    }
}
