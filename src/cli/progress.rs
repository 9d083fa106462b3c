//! Progress bars that draw only on a terminal (indicatif hides itself when stderr is not one,
//! so CI logs stay clean) and never between JSON log lines.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where bars draw: stderr, or nowhere when logs are JSON lines that a bar would garble.
fn target() -> ProgressDrawTarget {
    if super::log::json() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    }
}

pub fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), target());
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:>10} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} ({eta})",
    ) {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar
}

/// A spinner with elapsed time for a step whose length is not known in advance.
pub fn spinner(what: &str) -> ProgressBar {
    let s = ProgressBar::with_draw_target(None, target());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}]") {
        s.set_style(style);
    }
    s.set_message(what.to_string());
    s.enable_steady_tick(std::time::Duration::from_millis(120));
    s
}
