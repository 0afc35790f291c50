//! A cache an async service calls without blocking its executor (feature `async`).
//!
//! ```text
//! cargo run --example async --features async
//! ```
//!
//! Sixteen tasks ask for the same slow page at once: it is fetched once, the others await that
//! fetch; a memory hit answers inline, a store read or write is one hop to tokio's blocking
//! pool. The integration tests run this program (`tests/async_bucket.rs`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use bucketcache::{AsyncBucket, Bucket};

static DIR: LazyLock<tempfile::TempDir> =
    LazyLock::new(|| tempfile::tempdir().expect("a temporary directory"));
static CACHE: LazyLock<AsyncBucket> = LazyLock::new(|| {
    let bucket = Bucket::builder(DIR.path().join("pages"))
        .lifetime(Duration::from_secs(3600))
        .open()
        .expect("the cache directory can be created");
    AsyncBucket::new(bucket)
});
static FETCHES: AtomicUsize = AtomicUsize::new(0);

/// A slow call (an HTTP request, a query): memoized, its waits park the task.
#[bucketcache::cached(bucket = CACHE)]
async fn fetch_page(url: String) -> Result<String, std::io::Error> {
    FETCHES.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(format!("<html>{url}</html>"))
}

#[tokio::main(flavor = "current_thread")]
pub async fn main() -> anyhow::Result<()> {
    // Plain get/set, as on a Bucket.
    CACHE.set("greeting", "hello").await?;
    let greeting: Option<String> = CACHE.get("greeting").await?;
    println!("greeting: {greeting:?}");

    // Sixteen concurrent tasks, one fetch.
    let tasks: Vec<_> = (0..16)
        .map(|_| tokio::spawn(fetch_page("https://example.com/".into())))
        .collect();
    for task in tasks {
        assert_eq!(task.await??, "<html>https://example.com/</html>");
    }
    println!("16 tasks, {} fetch", FETCHES.load(Ordering::SeqCst));

    // A closure instead of the attribute.
    let n: u64 = CACHE
        .get_or_insert_with(&("square", 12), || async { 12 * 12 })
        .await?;
    println!("square: {n}; {:?}", CACHE.stats());
    anyhow::ensure!(
        FETCHES.load(Ordering::SeqCst) == 1,
        "fetched more than once"
    );
    Ok(())
}
