//! Python literals (the manifest's `value_repr`/`key_repr`), parsed exactly.

use super::py::{int, Py};

/// Parses a Python 2 or 3 `repr` of None, bools, ints, floats, (byte) strings, lists, tuples and
/// dicts, which is how the manifest records values without losing tuples or int keys.
pub(super) fn parse_repr(text: &str) -> Py {
    let mut p = ReprParser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value();
    p.ws();
    assert_eq!(p.i, p.s.len(), "trailing text in repr {text:?}");
    v
}

struct ReprParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl ReprParser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i) == Some(&b' ') {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn word(&mut self, w: &str) -> bool {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            true
        } else {
            false
        }
    }

    /// Items up to `close`, and whether a comma followed the last one (`(1,)` is a tuple).
    fn items(&mut self, close: u8) -> (Vec<Py>, bool) {
        let mut items = Vec::new();
        let mut trailing = false;
        while !self.eat(close) {
            items.push(self.value());
            trailing = self.eat(b',');
        }
        (items, trailing)
    }

    fn value(&mut self) -> Py {
        self.ws();
        if self.word("None") {
            return Py::None;
        }
        if self.word("True") {
            return Py::Bool(true);
        }
        if self.word("False") {
            return Py::Bool(false);
        }
        match self.s[self.i] {
            b'[' => {
                self.i += 1;
                Py::List(self.items(b']').0)
            }
            b'(' => {
                self.i += 1;
                let (items, trailing) = self.items(b')');
                assert!(
                    items.len() != 1 || trailing,
                    "a parenthesized value is not a tuple"
                );
                Py::Tuple(items)
            }
            b'{' => {
                self.i += 1;
                let mut entries = Vec::new();
                while !self.eat(b'}') {
                    let k = self.value();
                    assert!(self.eat(b':'), "dict without ':'");
                    let v = self.value();
                    entries.push((k, v));
                    self.eat(b',');
                }
                Py::Dict(entries)
            }
            b'u' => {
                self.i += 1;
                self.string(false)
            }
            b'b' => {
                self.i += 1;
                self.string(true)
            }
            b'\'' | b'"' => self.string(false),
            _ => self.number(),
        }
    }

    fn string(&mut self, bytes: bool) -> Py {
        let quote = self.s[self.i];
        self.i += 1;
        let mut out: Vec<char> = Vec::new();
        let text = std::str::from_utf8(&self.s[self.i..]).expect("utf-8 repr");
        let mut chars = text.char_indices();
        let hexchar = |chars: &mut std::str::CharIndices<'_>, n: usize| {
            let h: String = (0..n).map(|_| chars.next().expect("escape").1).collect();
            char::from_u32(u32::from_str_radix(&h, 16).expect("hex escape")).expect("a char")
        };
        loop {
            let (at, c) = chars.next().expect("unterminated string");
            match c {
                c if c as u32 == u32::from(quote) => {
                    self.i += at + 1;
                    break;
                }
                '\\' => {
                    let (_, e) = chars.next().expect("escape");
                    out.push(match e {
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        '0' => '\0',
                        'x' => hexchar(&mut chars, 2),
                        'u' => hexchar(&mut chars, 4),
                        'U' => hexchar(&mut chars, 8),
                        other => other, // \\ \' \"
                    });
                }
                c => out.push(c),
            }
        }
        if bytes {
            Py::Bytes(out.iter().map(|&c| c as u32 as u8).collect())
        } else {
            Py::Str(out.into_iter().collect())
        }
    }

    fn number(&mut self) -> Py {
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || b"+-.".contains(&self.s[self.i]))
        {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).expect("ascii");
        let text = text.strip_suffix('L').unwrap_or(text); // Python 2 long
        if let Ok(i) = text.parse::<i128>() {
            Py::Int(i)
        } else {
            Py::Float(
                text.parse()
                    .unwrap_or_else(|_| panic!("not a number: {text:?}")),
            )
        }
    }
}

#[test]
fn repr_parser_reads_python_literals_exactly() {
    assert_eq!(
        parse_repr("{'list': [[1, [2, [3]]]], 'empty': {}, 't': (1,), 'u': ()}"),
        Py::dict(vec![
            (
                "list",
                Py::List(vec![Py::List(vec![
                    int(1),
                    Py::List(vec![int(2), Py::List(vec![int(3)])])
                ])])
            ),
            ("empty", Py::Dict(vec![])),
            ("t", Py::Tuple(vec![int(1)])),
            ("u", Py::Tuple(vec![])),
        ])
    );
    assert_eq!(parse_repr("u'v\\xe4rde \\u2603'"), Py::s("värde ☃"));
    assert_eq!(parse_repr("'värde ☃'"), Py::s("värde ☃"));
    assert_eq!(parse_repr("b'a\\x00'"), Py::Bytes(vec![b'a', 0]));
    assert_eq!(parse_repr("-1.5e-10"), Py::Float(-1.5e-10));
    assert_eq!(parse_repr("1099511627776L"), int(1 << 40));
    assert_eq!(parse_repr("{1: 'a'}"), Py::Dict(vec![(int(1), Py::s("a"))]));
    assert_ne!(parse_repr("1.0"), parse_repr("1"));
    assert_ne!(parse_repr("-0.0"), parse_repr("0.0"));
}
