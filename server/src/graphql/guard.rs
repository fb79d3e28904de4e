//! Bounds on what one GraphQL document may cost, checked before the engine parses, validates or
//! runs it: how deeply it nests, how many fields it selects with every fragment spread expanded,
//! and how many graph walks it asks for. Every check is linear in the document with a budget,
//! so fragments that double at each level are refused after a bounded amount of work.

use std::collections::HashMap;

use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::parser::Positioned;
use async_graphql::Name;

/// The largest GraphQL request body, in bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// The deepest nesting of braces, brackets and parentheses in a document.
pub const MAX_NESTING: usize = 48;
/// The most fields one document selects, counting each fragment spread's fields every time it
/// is spread.
pub const MAX_FIELDS: usize = 2_000;
/// The most graph walks (`lineage`, `impact`, `columnImpact`, `path`, `manifest`,
/// `changedInputs`) one document asks for, aliases included.
pub const MAX_WALKS: usize = 4;

const WALKS: [&str; 6] = [
    "lineage",
    "impact",
    "columnImpact",
    "path",
    "manifest",
    "changedInputs",
];

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

/// Refuses documents nested past `MAX_NESTING`, before any parser recurses into them.
pub fn check_nesting(query: &str) -> Result<(), Refused> {
    let bytes = query.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Refused(format!(
                        "the document nests deeper than {MAX_NESTING} levels"
                    )));
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Counts fields and walks with every fragment expanded, stopping as soon as a budget is spent.
pub fn check_cost(doc: &ExecutableDocument) -> Result<(), Refused> {
    let mut cost = Cost {
        fragments: &doc.fragments,
        fields: 0,
        walks: 0,
        stack: Vec::new(),
    };
    for (_, op) in doc.operations.iter() {
        cost.selection_set(&op.node.selection_set)?;
    }
    Ok(())
}

struct Cost<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    fields: usize,
    walks: usize,
    /// Fragments being expanded (a cycle is left to validation to report).
    stack: Vec<&'a str>,
}

impl<'a> Cost<'a> {
    fn selection_set(&mut self, set: &'a Positioned<SelectionSet>) -> Result<(), Refused> {
        for item in &set.node.items {
            match &item.node {
                Selection::Field(f) => {
                    self.fields += 1;
                    if self.fields > MAX_FIELDS {
                        return Err(Refused(format!(
                            "the document selects more than {MAX_FIELDS} fields (fragments \
                             counted each time they are spread)"
                        )));
                    }
                    if WALKS.contains(&f.node.name.node.as_str()) {
                        self.walks += 1;
                        if self.walks > MAX_WALKS {
                            return Err(Refused(format!(
                                "the document asks for more than {MAX_WALKS} graph walks \
                                 ({}); send them in separate requests",
                                WALKS.join(", ")
                            )));
                        }
                    }
                    self.selection_set(&f.node.selection_set)?;
                }
                Selection::InlineFragment(f) => self.selection_set(&f.node.selection_set)?,
                Selection::FragmentSpread(s) => {
                    let name = s.node.fragment_name.node.as_str();
                    if self.stack.contains(&name) {
                        continue;
                    }
                    if let Some(f) = self.fragments.get(&s.node.fragment_name.node) {
                        self.stack.push(name);
                        self.selection_set(&f.node.selection_set)?;
                        self.stack.pop();
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(q: &str) -> Result<(), Refused> {
        check_cost(&async_graphql::parser::parse_query(q).unwrap())
    }

    #[test]
    fn fragments_that_double_at_each_level_are_refused_quickly() {
        let mut q =
            String::from("query { ...F30 }\nfragment F0 on Query { namespaces { totalCount } }\n");
        for i in 1..=30 {
            q.push_str(&format!(
                "fragment F{i} on Query {{ ...F{} ...F{} }}\n",
                i - 1,
                i - 1
            ));
        }
        let started = std::time::Instant::now();
        assert!(cost(&q).is_err());
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
    }

    #[test]
    fn many_aliased_walks_are_refused() {
        let q: String = (0..5)
            .map(|i| format!("i{i}: impact(nodeId: \"dataset:a:b\") {{ truncated }} "))
            .collect();
        assert!(cost(&format!("{{ {q} }}")).is_err());
        let q: String = (0..4)
            .map(|i| format!("i{i}: impact(nodeId: \"dataset:a:b\") {{ truncated }} "))
            .collect();
        assert!(cost(&format!("{{ {q} }}")).is_ok());
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing_and_strings_do_not_count() {
        let deep = format!("{}{}", "{a".repeat(100_000), "}".repeat(100_000));
        assert!(check_nesting(&deep).is_err());
        let braces_in_strings = format!(
            "{{ search(query: \"{}\") {{ totalCount }} }}",
            "{".repeat(500)
        );
        assert!(check_nesting(&braces_in_strings).is_ok());
        let block = format!("{{ a(x: \"\"\"{}\"\"\") }}", "[".repeat(500));
        assert!(check_nesting(&block).is_ok());
    }
}
