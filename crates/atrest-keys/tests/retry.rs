//! Retries of transient provider failures, with an injected sleeper so the test does not wait.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use atrest_keys::{
    DataKey, InsecureMemoryProvider, KeyError, KeyProvider, RetryPolicy, Retrying, SimulatedFault, Sleeper,
};
use common::mid;

#[derive(Debug, Default)]
struct RecordingSleeper(Mutex<Vec<Duration>>);

impl Sleeper for &RecordingSleeper {
    fn sleep(&self, duration: Duration) {
        self.0.lock().unwrap().push(duration);
    }
}

#[test]
fn transient_failures_are_retried_with_backoff_and_others_are_not() {
    let sleeper = RecordingSleeper::default();
    let policy = RetryPolicy {
        attempts: 4,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(250),
    };
    let provider = Retrying::new(InsecureMemoryProvider::with_master_key(&mid("m1")).unwrap(), policy, &sleeper);
    let key = DataKey::generate().unwrap();
    let wrapped = provider.wrap(&mid("m1"), &key, b"").unwrap();
    assert!(sleeper.0.lock().unwrap().is_empty());

    provider.inner().simulate_fault(Some(SimulatedFault::Unreachable));
    let err = provider.unwrap(&mid("m1"), &wrapped, b"").unwrap_err();
    assert!(
        matches!(&err, KeyError::ProviderUnreachable { reason, .. } if reason.contains("after 4 attempts")),
        "{err}"
    );
    let waits: Vec<u128> = sleeper.0.lock().unwrap().iter().map(Duration::as_millis).collect();
    assert_eq!(waits, vec![100, 200, 250]);

    sleeper.0.lock().unwrap().clear();
    provider.inner().simulate_fault(Some(SimulatedFault::WrongPin));
    assert!(matches!(provider.unwrap(&mid("m1"), &wrapped, b""), Err(KeyError::WrongPin { .. })));
    assert!(sleeper.0.lock().unwrap().is_empty(), "a wrong PIN is not retried");

    provider.inner().simulate_fault(None);
    assert_eq!(provider.unwrap(&mid("m1"), &wrapped, b"").unwrap().expose_secret(), key.expose_secret());
}
