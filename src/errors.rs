//! Error messages as the user reads them.

/// `error` and its causes, joined by ": ". A cause is left out where the message before it ends
/// with it already: DataFusion's and Arrow's errors repeat their source in their own message, so
/// `{:#}` would print a schema error three times.
pub fn describe(error: &anyhow::Error) -> String {
    let mut messages: Vec<String> = Vec::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if !messages.last().is_some_and(|last| last.ends_with(&message)) {
            messages.push(message);
        }
    }
    messages.join(": ")
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    use super::describe;

    #[test]
    fn a_source_repeated_in_its_wrapper_is_said_once() {
        let source = std::io::Error::other("the quoted field opened on line 2 is never closed");
        let wrapped = arrow::error::ArrowError::from(source);
        let error = Err::<(), _>(wrapped).context("r.csv: cannot decode a record batch").unwrap_err();
        assert_eq!(
            describe(&error),
            "r.csv: cannot decode a record batch: Io error: the quoted field opened on line 2 is never closed"
        );
        let plain = Err::<(), _>(std::io::Error::other("disk full")).context("cannot write out.csv").unwrap_err();
        assert_eq!(describe(&plain), "cannot write out.csv: disk full");
    }
}
