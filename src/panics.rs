//! What a caught panic says, for the error that takes its place (a driver's panic becomes
//! that source's or that connection's failure, never the run's).

/// The panic's message, or "a panic" when it carries none.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic")
}

#[cfg(test)]
mod tests {
    /// One source's panic (a driver's) becomes that source's error with its text.
    #[test]
    fn a_caught_panic_keeps_its_text() {
        let formatted = std::panic::catch_unwind(|| panic!("no {} here", "plugin")).unwrap_err();
        assert_eq!(super::panic_text(&*formatted), "no plugin here");
        let literal = std::panic::catch_unwind(|| panic!("plain")).unwrap_err();
        assert_eq!(super::panic_text(&*literal), "plain");
    }
}
