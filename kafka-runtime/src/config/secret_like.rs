//! Keys the parser does not know but which may hold a secret: a misspelt
//! secret key (`pasword=...`, `tlsKeyPasword=...`), a secret under another
//! name (`passwd=...`, `token=...`), or a password glued to its key
//! (`password:hunter2`). Errors about such keys never echo their value, and
//! never the key itself when the key could be carrying the value.

use super::keys::KEYS;

/// Words secrets are named with, folded (lower case, letters and digits
/// only). A key holding one of them, or something one or two slips away from
/// one, is treated as a secret key.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
];

/// Fragments that mark a secret even without a whole word (`pwd`, `pass`).
const SECRET_FRAGMENTS: &[&str] = &["pass", "pwd", "secret", "token", "cred"];

/// Whether the value of the unknown key `key` may be a secret, so that it
/// must not be shown: the key contains a secret word or fragment, or a
/// misspelling of a secret word (up to one slip in words of up to six
/// letters, two in longer ones: an extra, missing, wrong or swapped letter,
/// in any combination).
///
/// Hiding the value of an ordinary unknown key by mistake costs little (the
/// error is about the key, not the value); showing a password costs a lot.
pub(super) fn may_hold_secret_value(key: &str) -> bool {
    let folded = fold(key);
    SECRET_FRAGMENTS.iter().any(|f| folded.contains(f))
        || SECRET_WORDS
            .iter()
            .any(|word| contains_near(&folded, word, allowed_slips(word)))
}

/// Whether the key text itself may carry a secret (`password:hunter2` and
/// `passwordhunter2` are one unknown key each): it names a secret and is
/// neither a short plain word (`passwd`, `Password`) nor a misspelling of a
/// real key (`tlsKeyPasword`), either of which has no room for a value.
pub(super) fn may_carry_secret_itself(key: &str) -> bool {
    may_hold_secret_value(key) && !is_short_word(key) && !is_near_a_key_name(key)
}

/// Lower case, ASCII letters and digits only: `tls_Key-Pasword` and
/// `tlskeypasword` compare equal.
fn fold(key: &str) -> String {
    key.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn allowed_slips(word: &str) -> usize {
    if word.len() <= 6 {
        1
    } else {
        2
    }
}

/// Whether some stretch of `text` is within `slips` edits (insert, delete,
/// replace, swap neighbours: Damerau-Levenshtein) of `word`.
fn contains_near(text: &str, word: &str, slips: usize) -> bool {
    let n = word.len();
    let shortest = n.saturating_sub(slips).max(1);
    (shortest..=n + slips).any(|len| {
        len <= text.len()
            && (0..=text.len() - len)
                .any(|start| strsim::damerau_levenshtein(&text[start..start + len], word) <= slips)
    })
}

/// A key like `passwd` or `Password`: letters only, no longer than a real key
/// name plus a typo, so it cannot also carry a value.
fn is_short_word(key: &str) -> bool {
    key.len() <= "password".len() + 2 && key.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Within two slips of a real key name (folded): a misspelt key, not a key
/// with a value glued to it.
fn is_near_a_key_name(key: &str) -> bool {
    let folded = fold(key);
    KEYS.iter()
        .flat_map(|k| std::iter::once(k.name).chain(k.aliases.iter().copied()))
        .any(|name| strsim::damerau_levenshtein(&folded, &fold(name)) <= 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelt_and_renamed_secret_keys_hold_secrets() {
        for key in [
            "password",
            "Password",
            "pasword",
            "passwrod",
            "pasosrd",
            "pssword",
            "passsword",
            "paswrd",
            "passwd",
            "pwd",
            "tlsKeyPasword",
            "tlsKeyPasswrd",
            "tls_key_password",
            "tlskeypassword",
            "saslPassword",
            "sasl.pasword",
            "secret",
            "secert",
            "clientSecret",
            "token",
            "tokn",
            "credentials",
            "credental",
            "passphrase",
            "keyPassphrase",
            "password:hunter2",
        ] {
            assert!(may_hold_secret_value(key), "{key}");
        }
        for key in [
            "clinetid",
            "Topics",
            "fetch_max",
            "acks",
            "zzz",
            "group",
            "tlsKeyFile",
            "topic",
            "mechanism",
            "user",
            "usr",
            "version",
        ] {
            assert!(!may_hold_secret_value(key), "{key}");
        }
    }

    #[test]
    fn of_the_real_keys_only_the_secret_ones_look_secret() {
        for spec in KEYS {
            assert_eq!(
                may_hold_secret_value(spec.name),
                spec.secret,
                "{}",
                spec.name
            );
            for alias in spec.aliases {
                assert_eq!(may_hold_secret_value(alias), spec.secret, "{alias}");
            }
        }
    }

    #[test]
    fn only_keys_with_room_for_a_value_are_hidden_themselves() {
        for key in [
            "password:hunter2",
            "passwordhunter2",
            "password hunter2",
            "pwd-hunter2",
            "tlsKeyPasswordhunter2",
            "paswordhunter2",
        ] {
            assert!(may_carry_secret_itself(key), "{key}");
        }
        for key in [
            "Password",
            "pasword",
            "passwd",
            "tlsKeyPasword",
            "tlsKeyPasswrd",
            "tls_key_password",
            "clinetid",
        ] {
            assert!(!may_carry_secret_itself(key), "{key}");
        }
    }
}
