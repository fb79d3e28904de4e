//! Error plumbing shared by every layer: a `Cause` keeps the error it was made from (its message
//! and its chain of sources) and can be shared, and `chain` writes a whole chain for the log.
//! Answers to clients never carry a cause's text; logs always carry all of it.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// The error underneath another one, kept whole and cheap to clone (a failed group commit hands
/// the same cause to every request of the batch).
#[derive(Debug, Clone)]
pub struct Cause(Arc<dyn Error + Send + Sync + 'static>);

/// A cause that is only a message (no error value stands behind it).
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Message {}

impl Cause {
    /// Keeps an error as a cause.
    pub fn new(e: impl Error + Send + Sync + 'static) -> Self {
        Cause(Arc::new(e))
    }

    /// A cause that is only a message.
    pub fn msg(message: impl Into<String>) -> Self {
        Cause(Arc::new(Message(message.into())))
    }

    /// The error kept, when it is a `T`.
    pub fn downcast_ref<T: Error + 'static>(&self) -> Option<&T> {
        self.0.downcast_ref::<T>()
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Error for Cause {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

/// An error and every source under it, `outer: inner: innermost`, leaving out a source whose
/// text the one above already carries.
pub fn chain(e: &(dyn Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut above = out.clone();
    let mut next = e.source();
    while let Some(source) = next {
        let text = source.to_string();
        if !above.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        above = text;
        next = source.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("commit failed")]
    struct Outer(#[source] Cause);

    #[test]
    fn a_chain_names_every_source_once() {
        let io = std::io::Error::other("disk full");
        let e = Outer(Cause::new(io));
        assert_eq!(chain(&e), "commit failed: disk full");
        assert!(Outer(Cause::new(std::io::Error::other("x")))
            .0
            .downcast_ref::<std::io::Error>()
            .is_some());
        assert_eq!(chain(&Cause::msg("just this")), "just this");
    }
}
