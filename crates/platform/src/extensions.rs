//! Values a domain keeps per server (a write queue, a cache), made on
//! first use and found by their type. Platform knows nothing of the
//! domains, so it holds them as `Any`; each domain defines its own type.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Extensions {
    values: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Extensions {
    /// The server's `T`, made by `make` the first time it is asked for.
    pub fn get_or_init<T: Any + Send + Sync>(&self, make: impl FnOnce() -> T) -> Arc<T> {
        let mut values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        let value = values
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(make()))
            .clone();
        value
            .downcast::<T>()
            .expect("values are stored under their own type")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(u32);

    #[test]
    fn a_value_is_made_once_per_server() {
        let one = Extensions::default();
        let other = Extensions::default();
        assert_eq!(one.get_or_init(|| Counter(1)).0, 1);
        assert_eq!(one.get_or_init(|| Counter(2)).0, 1, "made once");
        assert_eq!(other.get_or_init(|| Counter(3)).0, 3, "per server");
        assert_eq!(*one.get_or_init(|| "text"), "text", "found by type");
    }
}
