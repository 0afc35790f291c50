//! The expiration field of a JSON envelope as read: `null` or text, borrowed from the file when
//! it has no escapes. Writing and parsing the text is `bucketcache_core::time`'s.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// The expiration field as read: `null` or text, borrowed from the file when it has no escapes.
pub(crate) struct ExpField<'a>(pub(crate) Option<Cow<'a, str>>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for ExpField<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Text<'a> {
            type Value = ExpField<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("null or an ISO date and time")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ExpField(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ExpField(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_str(self)
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(ExpField(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ExpField(Some(Cow::Owned(v.to_owned()))))
            }
        }
        d.deserialize_option(Text(std::marker::PhantomData))
    }
}
