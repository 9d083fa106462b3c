//! The one error of the expression languages: a message at a 1-based character column of the
//! expression text, so that a command line or a mapping check can point at the token.

/// An expression error at a 1-based column, counted in characters (not bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("col {col}: {message}")]
pub struct ExprError {
    pub col: usize,
    pub message: String,
}

impl ExprError {
    pub fn new(col: usize, message: impl Into<String>) -> Self {
        ExprError {
            col,
            message: message.into(),
        }
    }

    /// The error, then `text` on its own line with a caret under the column, for a terminal:
    ///
    /// ```text
    /// col 20: unknown field "tir"; fields are tier, …
    ///   tier >= silver and tir = gold
    ///                      ^
    /// ```
    ///
    /// Line breaks in `text` show as spaces so that the caret stays under its character.
    pub fn show(&self, text: &str) -> String {
        let line: String = text
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .collect();
        // A tab before the column stays a tab, so that the caret lines up whatever its width.
        let pad: String = line
            .chars()
            .take(self.col.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!("{self}\n  {line}\n  {pad}^")
    }
}

pub(crate) fn err<T>(col: usize, message: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError::new(col, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caret_sits_under_the_column() {
        let e = ExprError::new(5, "unknown");
        assert_eq!(e.to_string(), "col 5: unknown");
        assert_eq!(e.show("r = x"), "col 5: unknown\n  r = x\n      ^");
        // Columns count characters: the caret after two CJK characters is at col 3.
        let e = ExprError::new(3, "here");
        assert_eq!(e.show("会员\nx"), "col 3: here\n  会员 x\n    ^");
        // The end of the text is one past its last character.
        assert_eq!(
            ExprError::new(3, "end").show("ab"),
            "col 3: end\n  ab\n    ^"
        );
    }
}
