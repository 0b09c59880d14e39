//! Docker's column layout: a port of Go's `text/tabwriter` as Docker's CLI configures it
//! (`tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`: minwidth 10, tabwidth 1, padding 3,
//! space padding, no flags), plus a small [`Table`] builder on top of it.
//!
//! Cells are terminated by `'\t'` (or `'\v'`), lines by `'\n'` (or `'\f'`, which also
//! ends every column, like Go). Tab-terminated cells in consecutive lines form a column
//! block whose width is the widest cell plus the padding, but at least the minimum width;
//! the text after the last tab of a line belongs to no column and is not padded. Width is
//! counted in Unicode scalar values, as Go's `text/tabwriter` counts runes.
//!
//! This module is a leaf: it uses nothing else of the crate.

/// Minimal cell width including padding (Docker's `minwidth`).
const MIN_WIDTH: usize = 10;
/// Padding added to the widest cell of a column (Docker's `padding`).
const PADDING: usize = 3;

/// Aligns tab-separated text exactly like Docker's tabwriter does.
///
/// The output is byte-for-byte what Go's `text/tabwriter` writes with Docker's settings,
/// including padding after an empty last tab-terminated cell (a line ending in `'\t'`).
/// Text after the final newline is written unpadded without adding a newline.
pub fn render(text: &str) -> String {
    let mut writer = Writer::default();
    writer.write(text);
    writer.flush();
    writer.out
}

/// A table of rows under a header line, rendered with Docker's column layout.
///
/// Cells never contain layout characters: tabs, newlines, vertical tabs, form feeds and
/// carriage returns inside a cell are replaced by spaces when rendering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Creates a table with the given column headers and no rows.
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| (*h).to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; it may have fewer or more cells than there are headers.
    pub fn push(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Number of rows (the header line not counted).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Renders the header line and then every row, each followed by a newline, aligned
    /// like Docker's tables. Trailing spaces are never emitted at the end of a line.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for cells in std::iter::once(&self.headers).chain(&self.rows) {
            for (i, cell) in cells.iter().enumerate() {
                if i > 0 {
                    text.push('\t');
                }
                text.extend(cell.chars().map(|c| match c {
                    '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r' => ' ',
                    c => c,
                }));
            }
            text.push('\n');
        }
        let aligned = render(&text);
        let mut out = String::with_capacity(aligned.len());
        for line in aligned.split_inclusive('\n') {
            let (body, newline) = match line.strip_suffix('\n') {
                Some(body) => (body, "\n"),
                None => (line, ""),
            };
            out.push_str(body.trim_end_matches(' '));
            out.push_str(newline);
        }
        out
    }
}

/// A cell: a segment of the buffer terminated by a tab or a line break.
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    /// Start of the cell's text in the buffer, in bytes.
    start: usize,
    /// Size of the cell's text, in bytes.
    size: usize,
    /// Width of the cell's text, in chars.
    width: usize,
}

/// The state of Go's `tabwriter.Writer`, minus escapes and HTML filtering (which Docker
/// does not enable and which cannot occur in valid UTF-8 text).
#[derive(Debug, Default)]
struct Writer {
    /// Collected text, excluding tabs and line breaks.
    buf: String,
    /// The current, incomplete cell.
    cell: Cell,
    /// Terminated cells per line; the last line is the one being filled.
    lines: Vec<Vec<Cell>>,
    /// Column widths during formatting.
    widths: Vec<usize>,
    /// Formatted output.
    out: String,
}

impl Writer {
    fn reset(&mut self) {
        self.buf.clear();
        self.cell = Cell::default();
        self.lines.clear();
        self.widths.clear();
        self.lines.push(Vec::new());
    }

    fn append(&mut self, text: &str) {
        self.buf.push_str(text);
        self.cell.size += text.len();
        self.cell.width += text.chars().count();
    }

    /// Terminates the current cell and returns the number of cells in the current line.
    fn terminate_cell(&mut self) -> usize {
        if self.lines.is_empty() {
            self.lines.push(Vec::new());
        }
        let next_start = self.cell.start + self.cell.size;
        let cell = std::mem::replace(
            &mut self.cell,
            Cell {
                start: next_start,
                ..Cell::default()
            },
        );
        let line_index = self.lines.len() - 1;
        let line = &mut self.lines[line_index];
        line.push(cell);
        line.len()
    }

    fn write(&mut self, text: &str) {
        if self.lines.is_empty() {
            self.reset();
        }
        let mut segment_start = 0;
        for (i, ch) in text.char_indices() {
            if !matches!(ch, '\t' | '\u{0b}' | '\n' | '\u{0c}') {
                continue;
            }
            self.append(&text[segment_start..i]);
            segment_start = i + 1;
            let ncells = self.terminate_cell();
            if ch == '\n' || ch == '\u{0c}' {
                self.lines.push(Vec::new());
                if ch == '\u{0c}' || ncells == 1 {
                    // A line with a single cell cannot affect the following lines'
                    // formatting, so Go flushes here; a form feed always flushes.
                    self.flush();
                }
            }
        }
        self.append(&text[segment_start..]);
    }

    fn flush(&mut self) {
        if self.lines.is_empty() {
            self.reset();
        }
        if self.cell.size > 0 {
            self.terminate_cell();
        }
        let line_count = self.lines.len();
        self.format(0, line_count);
        self.reset();
    }

    /// Go's `Writer.format`: finds column blocks recursively and writes lines once the
    /// widths of all their columns are known.
    fn format(&mut self, mut line0: usize, line1: usize) {
        let column = self.widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= self.lines[this].len() {
                this += 1;
                continue;
            }
            // A cell exists in this column: print the lines before the block.
            self.write_lines(line0, this);
            line0 = this;
            // Column block: consecutive lines with a tab-terminated cell here.
            let mut width = MIN_WIDTH;
            while this < line1 {
                let line = &self.lines[this];
                if column + 1 >= line.len() {
                    break;
                }
                width = width.max(line[column].width + PADDING);
                this += 1;
            }
            // Format and print all columns to the right of this one.
            self.widths.push(width);
            self.format(line0, this);
            self.widths.pop();
            line0 = this;
        }
        self.write_lines(line0, line1);
    }

    fn write_lines(&mut self, line0: usize, line1: usize) {
        for i in line0..line1 {
            for (j, cell) in self.lines[i].iter().enumerate() {
                self.out
                    .push_str(&self.buf[cell.start..cell.start + cell.size]);
                if let Some(&width) = self.widths.get(j) {
                    let padding = width.saturating_sub(cell.width);
                    self.out.extend(std::iter::repeat_n(' ', padding));
                }
            }
            if i + 1 == self.lines.len() {
                // Last buffered line: no newline, just any outstanding text.
                let cell = self.cell;
                self.out
                    .push_str(&self.buf[cell.start..cell.start + cell.size]);
            } else {
                self.out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_images_table() {
        let mut table = Table::new(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]);
        table.push(vec![
            "hello_world".into(),
            "v1".into(),
            "4659ba97837b".into(),
            "25 minutes ago".into(),
            "181MB".into(),
        ]);
        assert_eq!(
            table.render(),
            "REPOSITORY    TAG       IMAGE ID       CREATED          SIZE\n\
             hello_world   v1        4659ba97837b   25 minutes ago   181MB\n"
        );
        assert_eq!(table.len(), 1);
        assert!(!table.is_empty());
    }

    #[test]
    fn render_matches_tabwriter_for_docker_images() {
        let text = "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\n\
                    alpine\tlatest\t1d34ffeaf190\t2 weeks ago\t7.79MB\n\
                    busybox\t1.36\tabcdef012345\t3 months ago\t4.26MB\n";
        assert_eq!(
            render(text),
            "REPOSITORY   TAG       IMAGE ID       CREATED        SIZE\n\
             alpine       latest    1d34ffeaf190   2 weeks ago    7.79MB\n\
             busybox      1.36      abcdef012345   3 months ago   4.26MB\n"
        );
    }

    #[test]
    fn header_only_table() {
        let table = Table::new(&["CONTAINER ID", "IMAGE", "NAMES"]);
        assert_eq!(table.render(), "CONTAINER ID   IMAGE     NAMES\n");
        assert!(table.is_empty());
    }

    #[test]
    fn minimum_width_applies_to_short_columns() {
        assert_eq!(render("a\tb\n"), "a         b\n");
        assert_eq!(render("abcdefg\tb\n"), "abcdefg   b\n");
        assert_eq!(render("abcdefgh\tb\n"), "abcdefgh   b\n");
    }

    #[test]
    fn trailing_tab_pads_the_last_cell_in_render_but_not_in_table() {
        // Go pads a tab-terminated cell even when nothing follows it.
        assert_eq!(render("a\tb\t\n"), "a         b         \n");
        let mut table = Table::new(&["A", "B", "C"]);
        table.push(vec!["x".into(), "y".into(), String::new()]);
        assert_eq!(table.render(), "A         B         C\nx         y\n");
    }

    #[test]
    fn no_trailing_newline_keeps_last_line_unterminated() {
        assert_eq!(render("a\tb\nccc\tdd"), "a         b\nccc       dd");
        assert_eq!(render(""), "");
        assert_eq!(render("plain"), "plain");
    }

    #[test]
    fn column_blocks_are_split_by_lines_without_the_column() {
        // Go's doc example: b and c are in distinct column blocks.
        let text = "aaaa\tbbb\td\naa\tb\tdd\na\t\naa\tcccc\teee\n";
        assert_eq!(
            render(text),
            "aaaa      bbb       d\n\
             aa        b         dd\n\
             a         \n\
             aa        cccc      eee\n"
        );
    }

    #[test]
    fn single_cell_line_breaks_blocks() {
        let text = "a\tb\nheading\nlonger-than-ten\tc\n";
        assert_eq!(render(text), "a         b\nheading\nlonger-than-ten   c\n");
    }

    #[test]
    fn block_widths_are_per_block() {
        // The second column's block spans lines 1-2 only; line 3 has a different block.
        let text = "x\tshort\tend\nx\ta-much-longer-cell\tend\nx\tz\n";
        assert_eq!(
            render(text),
            "x         short                end\n\
             x         a-much-longer-cell   end\n\
             x         z\n"
        );
    }

    #[test]
    fn width_counts_chars_not_bytes() {
        let text = "NAME\tX\nnaïve-café\ty\n";
        assert_eq!(render(text), "NAME         X\nnaïve-café   y\n");
    }

    #[test]
    fn form_feed_terminates_columns() {
        // '\f' flushes: the widths before and after are independent, and it is
        // written as a newline.
        let text = "a-long-cell-here\tb\n\u{0c}c\td\n";
        assert_eq!(render(text), "a-long-cell-here   b\n\nc         d\n");
    }

    #[test]
    fn vertical_tab_terminates_a_cell() {
        assert_eq!(render("a\u{0b}b\n"), "a         b\n");
    }

    #[test]
    fn table_sanitises_layout_characters_and_ragged_rows() {
        let mut table = Table::new(&["ID", "NAME"]);
        table.push(vec!["1".into(), "two\twords".into(), "extra".into()]);
        table.push(vec!["2".into()]);
        assert_eq!(
            table.render(),
            "ID        NAME\n1         two words   extra\n2\n"
        );
    }
}
