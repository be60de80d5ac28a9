//! Phone numbers and e-mail addresses as account identifiers: parsed,
//! validated and normalised (E.164 for phones, lower case for e-mail), so
//! that one person cannot hold two accounts by spelling a number twice.

use phonenumber::country::Id as Country;
use phonenumber::{Mode, PhoneNumber, Type};

use crate::error::{AccountError, AccountResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    /// E.164, e.g. `+85291234567`.
    Phone(String),
    /// Lower case.
    Email(String),
}

impl Contact {
    pub fn value(&self) -> &str {
        match self {
            Contact::Phone(p) => p,
            Contact::Email(e) => e,
        }
    }

    pub fn channel(&self) -> Channel {
        match self {
            Contact::Phone(_) => Channel::Sms,
            Contact::Email(_) => Channel::Email,
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }
}

/// A mobile number, in any common spelling; numbers without a country code
/// are read as Hong Kong numbers. Refuses invalid and non-mobile numbers.
pub fn parse_mobile(input: &str) -> AccountResult<String> {
    let trimmed = input.trim();
    if trimmed.is_empty() || trimmed.len() > 32 {
        return Err(AccountError::InvalidPhone);
    }
    let number: PhoneNumber =
        phonenumber::parse(Some(Country::HK), trimmed).map_err(|_| AccountError::InvalidPhone)?;
    if !phonenumber::is_valid(&number) {
        return Err(AccountError::InvalidPhone);
    }
    match number.number_type(&phonenumber::metadata::DATABASE) {
        Type::Mobile | Type::FixedLineOrMobile => {}
        _ => return Err(AccountError::NotMobile),
    }
    Ok(number.format().mode(Mode::E164).to_string())
}

/// An e-mail address, lower-cased. Uses lettre's address grammar so that
/// every address we accept is one we can send to.
pub fn parse_email(input: &str) -> AccountResult<String> {
    let normalised = input.trim().to_lowercase();
    if normalised.len() > 254 {
        return Err(AccountError::InvalidEmail);
    }
    let address: lettre::Address = normalised.parse().map_err(|_| AccountError::InvalidEmail)?;
    if !address.domain().contains('.') {
        return Err(AccountError::InvalidEmail);
    }
    Ok(normalised)
}

/// A login identifier: an e-mail address if it has an `@`, else a phone.
pub fn parse_identifier(input: &str) -> AccountResult<Contact> {
    if input.contains('@') {
        parse_email(input).map(Contact::Email)
    } else {
        parse_mobile(input).map(Contact::Phone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hong_kong_mobiles_are_normalised_to_e164() {
        assert_eq!(parse_mobile("9123 4567").unwrap(), "+85291234567");
        assert_eq!(parse_mobile("+852 6123-4567").unwrap(), "+85261234567");
        assert_eq!(parse_mobile("+85251234567").unwrap(), "+85251234567");
    }

    #[test]
    fn other_countries_are_accepted_in_e164() {
        assert_eq!(parse_mobile("+86 138 0013 8000").unwrap(), "+8613800138000");
        assert_eq!(parse_mobile("+44 7400 123456").unwrap(), "+447400123456");
    }

    #[test]
    fn invalid_and_landline_numbers_are_refused() {
        assert!(matches!(
            parse_mobile("1234"),
            Err(AccountError::InvalidPhone)
        ));
        assert!(matches!(
            parse_mobile("+852 1234 5678"),
            Err(AccountError::InvalidPhone)
        ));
        assert!(matches!(
            parse_mobile("abc"),
            Err(AccountError::InvalidPhone)
        ));
        // 2xxx xxxx is a Hong Kong fixed line.
        assert!(matches!(
            parse_mobile("+852 2123 4567"),
            Err(AccountError::NotMobile)
        ));
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(parse_email(" Ada@Example.COM ").unwrap(), "ada@example.com");
        assert!(parse_email("not-an-email").is_err());
        assert!(parse_email("a@localhost").is_err());
        assert_eq!(
            parse_identifier("ada@example.com").unwrap(),
            Contact::Email("ada@example.com".into())
        );
        assert_eq!(
            parse_identifier("91234567").unwrap(),
            Contact::Phone("+85291234567".into())
        );
    }
}
