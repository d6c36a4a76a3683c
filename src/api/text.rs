//! Bounding text the operator writes where space is limited (event notes, status messages,
//! error echoes).

/// `text` cut to at most `max` bytes without splitting a character, followed by `more` when
/// something was cut.
pub fn shorten(text: &str, max: usize, more: &str) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{more}", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn long_text_is_cut_at_a_character_boundary() {
        assert_eq!(shorten("short", 10, "..."), "short");
        assert_eq!(shorten("abcdef", 3, "..."), "abc...");
        // "é" is two bytes: a cut inside it moves back before it.
        assert_eq!(shorten("aé", 2, "…"), "a…");
        assert_eq!(shorten("aé", 2, ""), "a");
    }
}
