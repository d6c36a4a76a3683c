//! Which cached pods carry which test's label, so that a reconcile finds its test's pods
//! without scanning the whole pod cache (with 1,000 tests, 3,000 pods for each reconcile).
//!
//! The index is kept from the pod watch's events, after the cache applied them. It may name
//! more pods than the cache holds for a test, never fewer: a relist adds the pods it lists
//! before it drops the old entries, and a pod whose test label changed stays under its old
//! test until the next relist. So every name is looked up in the cache and the caller still
//! checks what it found ([`super::status::is_pod_of`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, PoisonError, RwLock};

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

use crate::api::names::LABEL_TEST_NAME;

/// (namespace, test name) -> the names of the pods labelled with that test.
type ByTest = HashMap<(String, String), BTreeSet<String>>;

#[derive(Default)]
struct Inner {
    by_test: ByTest,
    /// The pods of a relist in progress; replaces `by_test` when the relist is done.
    relist: Option<ByTest>,
}

/// The pods of each test; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct PodIndex {
    inner: Arc<RwLock<Inner>>,
}

/// The index key of a pod: its namespace and its test label.
fn key(pod: &Pod) -> Option<(String, String)> {
    let test = pod.labels().get(LABEL_TEST_NAME)?;
    Some((pod.namespace()?, test.clone()))
}

fn insert(map: &mut ByTest, pod: &Pod) {
    if let Some(key) = key(pod) {
        map.entry(key).or_default().insert(pod.name_any());
    }
}

impl PodIndex {
    /// Takes in one event of the pod watch (after the cache applied it).
    pub fn observe(&self, event: &watcher::Event<Pod>) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        match event {
            watcher::Event::Apply(pod) => insert(&mut inner.by_test, pod),
            watcher::Event::Delete(pod) => {
                if let Some(key) = key(pod)
                    && let Some(names) = inner.by_test.get_mut(&key)
                {
                    names.remove(&pod.name_any());
                    if names.is_empty() {
                        inner.by_test.remove(&key);
                    }
                }
            }
            watcher::Event::Init => inner.relist = Some(ByTest::new()),
            watcher::Event::InitApply(pod) => {
                // In the live entries too: the cache swaps in the relisted pods before this
                // index sees the end of the relist.
                insert(&mut inner.by_test, pod);
                if let Some(relist) = inner.relist.as_mut() {
                    insert(relist, pod);
                }
            }
            watcher::Event::InitDone => {
                if let Some(relist) = inner.relist.take() {
                    inner.by_test = relist;
                }
            }
        }
    }

    /// The cached pods labelled with test `name` in `namespace`, by pod name. The caller checks
    /// that each one really belongs to the test (owner, label).
    pub fn pods_of(&self, pods: &Store<Pod>, namespace: &str, name: &str) -> Vec<Arc<Pod>> {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        inner
            .by_test
            .get(&(namespace.to_string(), name.to_string()))
            .into_iter()
            .flatten()
            .filter_map(|pod| pods.get(&ObjectRef::new(pod).within(namespace)))
            .collect()
    }

    /// Tests with at least one indexed pod.
    #[cfg(test)]
    fn tests(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_test
            .len()
    }
}

#[cfg(test)]
#[path = "pod_index_tests.rs"]
mod tests;
