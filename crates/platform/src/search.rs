//! Full-text search for Chinese and English text. Hong Kong users write
//! Traditional Chinese and jieba's dictionary is Simplified, so text is
//! folded to Simplified characters before segmentation (on both the indexed
//! text and the query), then cut into words with jieba's search mode (which
//! also emits the shorter words inside long ones, so "現金流報表" finds
//! "昨日現金流報表已更新"). Latin text is lower-cased.

use std::sync::{Arc, OnceLock};

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// The name the tokenizer is registered under in every index.
pub const TOKENIZER: &str = "tram_zh";

fn jieba() -> &'static jieba_rs::Jieba {
    static JIEBA: OnceLock<jieba_rs::Jieba> = OnceLock::new();
    JIEBA.get_or_init(jieba_rs::Jieba::new)
}

/// The words of `text` as the index sees them.
pub fn words(text: &str) -> Vec<String> {
    let folded = fast2s::convert(text);
    jieba()
        .cut_for_search(&folded, true)
        .into_iter()
        .map(|token| token.word.trim().to_lowercase())
        .filter(|word| word.chars().any(char::is_alphanumeric))
        .collect()
}

#[derive(Clone, Default)]
pub struct ChineseTokenizer;

pub struct WordStream {
    tokens: Arc<Vec<Token>>,
    index: usize,
    current: Token,
}

impl TokenStream for WordStream {
    fn advance(&mut self) -> bool {
        match self.tokens.get(self.index) {
            Some(token) => {
                self.current = token.clone();
                self.index += 1;
                true
            }
            None => false,
        }
    }

    fn token(&self) -> &Token {
        &self.current
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.current
    }
}

impl Tokenizer for ChineseTokenizer {
    type TokenStream<'a> = WordStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordStream {
        let tokens = words(text)
            .into_iter()
            .enumerate()
            .map(|(position, text)| Token {
                offset_from: 0,
                offset_to: 0,
                position,
                text,
                position_length: 1,
            })
            .collect();
        WordStream {
            tokens: Arc::new(tokens),
            index: 0,
            current: Token::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn traditional_text_is_cut_into_words_not_characters() {
        let doc = words("昨日現金流報表已更新");
        for word in words("現金流報表") {
            assert!(doc.contains(&word), "{word} missing from {doc:?}");
        }
        assert!(doc.contains(&"现金流".to_string()), "{doc:?}");
        assert!(!doc.iter().all(|w| w.chars().count() == 1), "not single characters: {doc:?}");
    }

    #[test]
    fn simplified_and_traditional_meet_and_latin_is_case_folded() {
        assert_eq!(words("報表"), words("报表"));
        assert_eq!(words("Q3 Report"), vec!["q3".to_string(), "report".to_string()]);
        assert!(words("上季營收是多少？").contains(&"营收".to_string()));
    }
}
