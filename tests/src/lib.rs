//! Helpers for strata's end-to-end tests with real tools (Nix, skopeo,
//! umoci, podman): where the `strata` binary is, a temp dir per test, and
//! the flags these tools need on this machine (tests/README.md says why).
//!
//! The `strata` binary: `cargo test --workspace` builds it (it is a bin
//! target of `strata-server`, whose tests need it), and `tests/run.sh`
//! builds it explicitly before testing. It is found beside this test
//! binary: `<target>/<profile>/strata`, one level above `deps/`. A test
//! run with `-p strata-tests` alone needs `cargo build -p strata-server`
//! first; [`strata`] says so when the binary is missing.
//!
//! Real tools: a test that needs one calls [`require`]. When the tool is
//! missing the test is skipped with a note, unless `CI` is set, where a
//! missing tool is a failure (`scripts/setup.sh` installs them all).

pub mod store;

use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The `strata` binary built alongside these tests.
pub fn strata_path() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binaries live in <target>/<profile>/deps");
    let path = profile_dir.join("strata");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p strata-server` first (tests/run.sh does)",
        path.display()
    );
    path
}

/// A `strata` command, with no progress bar and a quiet environment.
pub fn strata() -> Command {
    let mut cmd = Command::new(strata_path());
    cmd.env("CI", "true");
    cmd
}

/// The repository's root. Read from the variable Cargo sets when it runs
/// tests, not from `env!`: with a target directory shared between clones,
/// Cargo can reuse a test binary built in another clone, whose compile-time
/// path would point there (every test and bench here does the same).
pub fn repo() -> PathBuf {
    Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

/// A fresh, empty temp directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-e2e-{name}-{}", std::process::id()));
    if dir.exists() {
        cleanup(&dir);
    }
    fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Removes a test's temp dir, unmounting podman's overlay first.
pub fn cleanup(dir: &Path) {
    let overlay = dir.join("podman/root/overlay");
    if overlay.exists() {
        let _ = Command::new("umount").arg("-l").arg(&overlay).output();
    }
    let _ = fs::remove_dir_all(dir);
}

/// Whether `tool` is on PATH; when not, a skip note (or a panic under CI).
pub fn require(tools: &[&str]) -> bool {
    for tool in tools {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            if std::env::var_os("CI").is_some() {
                panic!("{tool} is missing: run scripts/setup.sh");
            }
            eprintln!("skipped: {tool} is missing (scripts/setup.sh installs it)");
            return false;
        }
    }
    true
}

/// A child process (a server) killed when the test ends, pass or fail.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `strata serve --listen 127.0.0.1:0 ARGS`, killed when dropped, and
/// what follows `prefix` on the first stderr line starting with it (the
/// address serve printed). The rest of stderr, the request log, is read
/// on in a thread so the pipe never fills.
pub fn serve<I, S>(args: I, prefix: &str) -> (Running, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut child = strata()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .expect("strata serve starts");
    let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
    let found = loop {
        let line = lines
            .next()
            .expect("strata serve printed its address")
            .expect("stderr is text");
        if let Some(rest) = line.strip_prefix(prefix) {
            break rest.to_string();
        }
    };
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
    (Running(child), found)
}

/// Runs a command; panics with its output unless it succeeds.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// podman with its state in `dir` and the flags this machine needs.
pub struct Podman {
    root: PathBuf,
    runroot: PathBuf,
}

impl Podman {
    /// State under `dir/podman`.
    pub fn new(dir: &Path) -> Self {
        Podman {
            root: dir.join("podman/root"),
            runroot: dir.join("podman/run"),
        }
    }

    /// `podman --root ... --runroot ... ARGS`.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new("podman");
        cmd.arg("--root")
            .arg(&self.root)
            .arg("--runroot")
            .arg(&self.runroot)
            .args(["--runtime", "runc", "--storage-driver", "overlay"]);
        cmd
    }

    /// Loads an archive; returns the loaded image's name.
    pub fn load(&self, archive: &Path) -> String {
        let out = run_ok(self.cmd().arg("load").arg("-i").arg(archive));
        let text = stdout(&out);
        text.lines()
            .find_map(|l| l.strip_prefix("Loaded image: "))
            .or_else(|| {
                text.lines()
                    .find_map(|l| l.strip_prefix("Loaded image(s): "))
            })
            .unwrap_or_else(|| panic!("no loaded image in: {text}"))
            .trim()
            .to_string()
    }

    /// `podman run --rm` with the flags this machine needs; returns stdout.
    pub fn run(&self, image: &str, args: &[&str]) -> String {
        let out = run_ok(
            self.cmd()
                .args(["run", "--rm", "--network", "none"])
                .args([
                    "--ulimit",
                    "nofile=1024:1024",
                    "--ulimit",
                    "nproc=1000:1000",
                ])
                .arg(image)
                .args(args),
        );
        stdout(&out)
    }
}

/// Nix commands with the configuration this machine needs (no
/// substituters, the new CLI).
pub fn nix(program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.env(
        "NIX_CONFIG",
        "substituters =\nexperimental-features = nix-command",
    );
    cmd
}

/// `nix/tests`' hello built into `dir/hello`, and its closure as `nix
/// path-info --json --recursive` prints it.
pub fn hello_path_info(dir: &Path) -> String {
    run_ok(
        nix("nix-build")
            .arg(repo().join("nix/tests"))
            .args(["-A", "hello", "-o"])
            .arg(dir.join("hello")),
    );
    let info = run_ok(
        nix("nix")
            .args(["path-info", "--json", "--recursive"])
            .arg(dir.join("hello")),
    );
    stdout(&info)
}

/// A free TCP port on loopback (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Debian's `docker-registry` (distribution 2.8, the reference registry)
/// on a free loopback port, with its config, storage and access log in a
/// directory of the test's; killed when dropped.
pub struct DockerRegistry {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Its stdout and stderr: the access log (one line a request).
    pub log: PathBuf,
    _child: Running,
}

impl DockerRegistry {
    /// Starts one storing under `dir/storage`; `extra` is more YAML for
    /// its config (`auth:`, `storage: maintenance:` ...), at top level.
    pub fn start(dir: &Path, extra: &str) -> DockerRegistry {
        Self::start_with_storage(dir, extra, "")
    }

    /// As [`DockerRegistry::start`], with more YAML under `storage:`.
    pub fn start_with_storage(dir: &Path, extra: &str, storage: &str) -> DockerRegistry {
        fs::create_dir_all(dir).expect("registry dir");
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog: {{level: info}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n{storage}\nhttp: {{addr: \"{addr}\"}}\n{extra}\n",
                dir.join("storage").display()
            ),
        )
        .expect("registry config");
        let log = dir.join("access.log");
        let out = fs::File::create(&log).expect("registry log");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(out.try_clone().expect("log handle"))
            .stderr(out)
            .spawn()
            .expect("docker-registry starts");
        let running = Running(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(&addr).is_ok() {
                return DockerRegistry {
                    addr,
                    log,
                    _child: running,
                };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!(
            "docker-registry never listened on {addr}: {}",
            fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// The requests logged so far, as `METHOD PATH` (query left out).
    pub fn requests(&self) -> Vec<String> {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let quoted = line.split('"').nth(1)?;
                let mut words = quoted.split(' ');
                let method = words.next()?;
                let path = words.next()?.split('?').next()?;
                path.starts_with("/v2/").then(|| format!("{method} {path}"))
            })
            .collect()
    }
}
