//! Closed sets of values that are stored as words: one declaration gives the enum, its stored word,
//! the reader of a stored word and the serde form, so that a value read from a row, a request or a
//! profile can only be one this version knows — an unknown word is an error where it is read, never a
//! string compared deep inside the pipeline.

/// Declares an enum whose variants are stored as the given words, with:
/// - `ALL`, every value in declaration order;
/// - `as_str`, the stored word; `parse`, the value of a word (`None` for any other);
/// - `Display` (the word), `TryFrom<String>` (how rows decode it: `#[sqlx(try_from = "String")]`),
///   and `Serialize` / `Deserialize` as the word.
macro_rules! stored_words {
    (
        $(#[$meta:meta])*
        $vis:vis enum $ty:ident {
            $($(#[$vmeta:meta])* $variant:ident = $word:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $ty {
            $($(#[$vmeta])* $variant),+
        }

        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The word stored in records and written in listings.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $word),+
                }
            }

            /// Reads a stored or typed word; `None` for a word this version does not know.
            pub fn parse(word: &str) -> Option<$ty> {
                match word {
                    $($word => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl TryFrom<String> for $ty {
            type Error = String;
            fn try_from(word: String) -> ::std::result::Result<Self, Self::Error> {
                $ty::parse(&word).ok_or_else(|| {
                    let known: Vec<&str> = $ty::ALL.iter().map(|v| v.as_str()).collect();
                    format!("`{word}` is not one of {}", known.join(", "))
                })
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                let word = <String as serde::Deserialize>::deserialize(d)?;
                $ty::try_from(word).map_err(serde::de::Error::custom)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    stored_words! {
        /// A test set.
        enum Light {
            /// Stop.
            Red = "red",
            /// Go.
            Green = "green",
        }
    }

    #[test]
    fn a_word_reads_back_as_its_value_and_an_unknown_word_is_refused() {
        for v in Light::ALL {
            assert_eq!(Light::parse(v.as_str()), Some(*v));
            assert_eq!(serde_json::to_string(v).unwrap(), format!("\"{v}\""));
        }
        assert_eq!(Light::try_from("green".to_string()), Ok(Light::Green));
        let err = Light::try_from("blue".to_string()).unwrap_err();
        assert_eq!(err, "`blue` is not one of red, green");
        assert!(serde_json::from_str::<Light>("\"amber\"").is_err());
    }
}
