#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use kube::runtime::reflector::{self, store::Writer};
use serde_json::json;

fn pod(namespace: &str, name: &str, test: Option<&str>) -> Pod {
    let labels = test
        .map(|t| json!({LABEL_TEST_NAME: t}))
        .unwrap_or(json!({}));
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
    }))
    .unwrap()
}

/// A cache and its index, fed as the controller's pod watch feeds them: the cache first.
struct Fed {
    writer: Writer<Pod>,
    store: Store<Pod>,
    index: PodIndex,
}

impl Fed {
    fn new() -> Self {
        let (store, writer) = reflector::store::<Pod>();
        Fed {
            writer,
            store,
            index: PodIndex::default(),
        }
    }

    fn feed(&mut self, event: watcher::Event<Pod>) {
        self.writer.apply_watcher_event(&event);
        self.index.observe(&event);
    }

    fn names(&self, namespace: &str, test: &str) -> Vec<String> {
        self.index
            .pods_of(&self.store, namespace, test)
            .iter()
            .map(|p| p.name_any())
            .collect()
    }
}

#[test]
fn finds_the_pods_of_one_test_among_others() {
    let mut fed = Fed::new();
    fed.feed(watcher::Event::Init);
    for (ns, name, test) in [
        ("a", "demo-master-x", Some("demo")),
        ("a", "demo-worker-y", Some("demo")),
        ("a", "other-master-x", Some("other")),
        ("b", "demo-master-z", Some("demo")),
        ("a", "unlabelled", None),
    ] {
        fed.feed(watcher::Event::InitApply(pod(ns, name, test)));
    }
    fed.feed(watcher::Event::InitDone);

    assert_eq!(fed.names("a", "demo"), ["demo-master-x", "demo-worker-y"]);
    assert_eq!(fed.names("b", "demo"), ["demo-master-z"]);
    assert_eq!(fed.names("a", "other"), ["other-master-x"]);
    assert!(fed.names("a", "missing").is_empty());
    assert_eq!(fed.index.tests(), 3);
}

#[test]
fn follows_creations_and_deletions() {
    let mut fed = Fed::new();
    fed.feed(watcher::Event::Init);
    fed.feed(watcher::Event::InitDone);
    fed.feed(watcher::Event::Apply(pod(
        "a",
        "demo-worker-1",
        Some("demo"),
    )));
    fed.feed(watcher::Event::Apply(pod(
        "a",
        "demo-worker-2",
        Some("demo"),
    )));
    assert_eq!(fed.names("a", "demo"), ["demo-worker-1", "demo-worker-2"]);

    fed.feed(watcher::Event::Delete(pod(
        "a",
        "demo-worker-1",
        Some("demo"),
    )));
    assert_eq!(fed.names("a", "demo"), ["demo-worker-2"]);
    fed.feed(watcher::Event::Delete(pod(
        "a",
        "demo-worker-2",
        Some("demo"),
    )));
    assert!(fed.names("a", "demo").is_empty());
    assert_eq!(fed.index.tests(), 0, "no empty entry is kept");
}

#[test]
fn a_relist_drops_the_pods_deleted_while_the_watch_was_away() {
    let mut fed = Fed::new();
    fed.feed(watcher::Event::Init);
    fed.feed(watcher::Event::InitApply(pod("a", "gone", Some("demo"))));
    fed.feed(watcher::Event::InitApply(pod("a", "kept", Some("demo"))));
    fed.feed(watcher::Event::InitDone);

    // The watch restarts; "gone" was deleted meanwhile and "new" created.
    fed.feed(watcher::Event::Init);
    fed.feed(watcher::Event::InitApply(pod("a", "kept", Some("demo"))));
    fed.feed(watcher::Event::InitApply(pod("a", "new", Some("demo"))));
    // Until the relist is done the cache still holds the old pods, and the index finds them.
    assert_eq!(fed.names("a", "demo"), ["gone", "kept"]);
    fed.feed(watcher::Event::InitDone);
    assert_eq!(fed.names("a", "demo"), ["kept", "new"]);
    assert_eq!(
        fed.index.inner.read().unwrap().by_test[&("a".into(), "demo".into())].len(),
        2,
        "the relist replaced the entries"
    );
}

#[test]
fn never_misses_a_pod_the_cache_holds_between_the_two_updates() {
    // The cache applies an event before the index does; whatever the index holds at the end of
    // a relist, it names every pod the cache then holds.
    let (store, mut writer) = reflector::store::<Pod>();
    let index = PodIndex::default();
    for event in [
        watcher::Event::Init,
        watcher::Event::InitApply(pod("a", "old", Some("demo"))),
        watcher::Event::InitDone,
        watcher::Event::Init,
        watcher::Event::InitApply(pod("a", "relisted", Some("demo"))),
    ] {
        writer.apply_watcher_event(&event);
        index.observe(&event);
    }
    // The cache swaps in the relist; the index has not seen InitDone yet.
    writer.apply_watcher_event(&watcher::Event::InitDone);
    let found: Vec<String> = index
        .pods_of(&store, "a", "demo")
        .iter()
        .map(|p| p.name_any())
        .collect();
    assert_eq!(found, ["relisted"]);
}

#[test]
fn a_relabelled_pod_is_found_under_its_new_test() {
    let mut fed = Fed::new();
    fed.feed(watcher::Event::Init);
    fed.feed(watcher::Event::InitApply(pod("a", "p", Some("one"))));
    fed.feed(watcher::Event::InitDone);
    fed.feed(watcher::Event::Apply(pod("a", "p", Some("two"))));
    assert_eq!(fed.names("a", "two"), ["p"]);
    // Still named under the old test until the next relist: the caller's owner and label check
    // (status::is_pod_of) turns it away.
    let stale = fed.index.pods_of(&fed.store, "a", "one");
    assert_eq!(stale.len(), 1);
    assert!(!super::super::status::is_pod_of(&stale[0], "a", "one", &[]));
}
