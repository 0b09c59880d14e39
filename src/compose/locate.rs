//! Finds the line and column of a key path in a compose file's source text, so errors can say
//! `compose.yaml:7:5:`. The YAML crate does not keep positions once a document is loaded, so
//! this walks the text by indentation. It understands block mappings and block sequences
//! (including the compact `key:\n- item` form); inside flow collections (`{...}`, `[...]`) or
//! keys that come from an alias or a `<<:` merge it stops, and the deepest key it did find is
//! reported instead. `None` when not even the first key is found.

use super::error::{KeyPath, Segment};

/// One non-blank, non-comment line.
struct Line<'a> {
    number: usize,
    /// Leading spaces.
    indent: usize,
    /// Starts with `- `: an item of a block sequence.
    dash: bool,
    /// Column of the text after the dash (or of the text when there is none).
    content_column: usize,
    content: &'a str,
}

fn analyse(number: usize, line: &str) -> Option<Line<'_>> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let text = &line[indent..];
    if text.is_empty() || text.starts_with('#') {
        return None;
    }
    let (dash, content_column, content) = if text == "-" {
        (true, indent + 1, "")
    } else if let Some(after) = text.strip_prefix("- ") {
        let content = after.trim_start_matches(' ');
        (true, indent + text.len() - content.len(), content)
    } else {
        (false, indent, text)
    };
    Some(Line {
        number,
        indent,
        dash,
        content_column,
        content,
    })
}

fn is_key(content: &str, key: &str) -> bool {
    let rest = [("", ""), ("\"", "\""), ("'", "'")]
        .iter()
        .find_map(|(open, close)| {
            content
                .strip_prefix(open)?
                .strip_prefix(key)?
                .strip_prefix(close)
        });
    rest.is_some_and(|rest| {
        let rest = rest.trim_start_matches(' ');
        rest == ":" || rest.starts_with(": ") || rest.starts_with(":\t")
    })
}

/// Where the block being searched ends.
#[derive(Clone, Copy)]
enum Block {
    /// The whole document.
    Document,
    /// Children of a key at this column: ends at a line indented less, or as much unless it is
    /// a sequence item.
    Key(usize),
    /// A sequence item whose content starts at this column, on the first line searched.
    Item(usize),
}

impl Block {
    fn ends_at(self, line: &Line<'_>, first: bool) -> bool {
        match self {
            Self::Document => false,
            Self::Key(column) => line.indent < column || (line.indent == column && !line.dash),
            Self::Item(column) => !first && line.indent < column,
        }
    }
}

/// 1-based line and column of `path` in `source`, or of the deepest part of it found.
pub(super) fn locate(source: &str, path: &KeyPath) -> Option<(usize, usize)> {
    let lines: Vec<Line<'_>> = source
        .lines()
        .enumerate()
        .filter_map(|(index, line)| analyse(index, line))
        .collect();
    let mut best = None;
    let mut start = 0;
    let mut block = Block::Document;
    for segment in &path.0 {
        let mut level = None;
        let mut count = 0;
        let mut hit = None;
        for (position, line) in lines.iter().enumerate().skip(start) {
            if block.ends_at(line, position == start) {
                break;
            }
            match segment {
                Segment::Key(key) => {
                    let column = match block {
                        Block::Item(_) if position == start => line.content_column,
                        _ if line.dash => continue,
                        _ => line.indent,
                    };
                    if *level.get_or_insert(column) == column && is_key(line.content, key) {
                        hit = Some((position, column));
                        break;
                    }
                }
                Segment::Index(index) => {
                    if !line.dash || *level.get_or_insert(line.indent) != line.indent {
                        continue;
                    }
                    if count == *index {
                        hit = Some((position, line.indent));
                        break;
                    }
                    count += 1;
                }
            }
        }
        let Some((position, column)) = hit else {
            break;
        };
        let line = &lines[position];
        best = Some((line.number + 1, column + 1));
        match segment {
            Segment::Key(_) => {
                start = position + 1;
                block = Block::Key(column);
            }
            Segment::Index(_) => {
                start = position;
                block = Block::Item(line.content_column);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> KeyPath {
        let mut path = KeyPath::root();
        for part in text.split('.') {
            match part.split_once('[') {
                Some((key, index)) => {
                    path = path.key(key);
                    path = path.index(index.trim_end_matches(']').parse().unwrap());
                }
                None => path = path.key(part),
            }
        }
        path
    }

    const SOURCE: &str = "\
name: demo
services:
  # comment
  web:
    image: nginx
    ports:
      - \"80:80\"
      - target: 81
        published: 8081
    environment:
    - A=1
    - B=2
  db:
    image: postgres
    \"portz\": 1
";

    #[test]
    fn finds_keys_and_items() {
        assert_eq!(locate(SOURCE, &path("services.web.image")), Some((5, 5)));
        assert_eq!(locate(SOURCE, &path("services.db.image")), Some((14, 5)));
        assert_eq!(locate(SOURCE, &path("services.db.portz")), Some((15, 5)));
        assert_eq!(locate(SOURCE, &path("services.web.ports[0]")), Some((7, 7)));
        assert_eq!(locate(SOURCE, &path("services.web.ports[1]")), Some((8, 7)));
        assert_eq!(
            locate(SOURCE, &path("services.web.ports[1].target")),
            Some((8, 9))
        );
        assert_eq!(
            locate(SOURCE, &path("services.web.ports[1].published")),
            Some((9, 9))
        );
        assert_eq!(
            locate(SOURCE, &path("services.web.environment[1]")),
            Some((12, 5))
        );
    }

    #[test]
    fn falls_back_to_the_deepest_key_found() {
        assert_eq!(locate(SOURCE, &path("services.web.nothing")), Some((4, 3)));
        // `image` under `db` is not found while searching `web`'s block.
        assert_eq!(locate(SOURCE, &path("services.web.portz")), Some((4, 3)));
        assert_eq!(locate(SOURCE, &path("nothing")), None);
    }
}
