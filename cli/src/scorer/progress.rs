//! A progress bar on a terminal, nothing otherwise.

use std::io::IsTerminal;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over `total` rows (a spinner when the total is unknown), drawn on stderr only when it
/// is a terminal.
pub fn bar(total: Option<u64>, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden());
    }
    let bar = total.map_or_else(ProgressBar::no_length, ProgressBar::new);
    bar.set_style(
        ProgressStyle::with_template("{msg} {wide_bar} {human_pos}/{human_len} rows ({per_sec}, {eta})")
            .expect("valid template"),
    );
    bar.set_message(what.to_owned());
    bar
}

/// What a scoring run does after each batch: stop on SIGINT or SIGTERM
/// ([`crate::interrupt::Interrupted`]), else move `bar` on by the batch's rows.
pub fn after_batch(bar: &ProgressBar) -> impl Fn(u64) -> Result<()> + Sync + '_ {
    move |rows| {
        crate::interrupt::check()?;
        bar.inc(rows);
        Ok(())
    }
}
