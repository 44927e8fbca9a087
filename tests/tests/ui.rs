//! The web UI in real headless Chromium (driven through chromedriver with
//! fantoccini), served by `strata serve`: the compare view shows the
//! figures `strata simulate` prints for the same closures, at the default
//! budget and after the budget is changed, for closures the user uploads,
//! and the layers view shows the plans a CI job would make.
//!
//! Needs the built UI (`cargo run -p xtask -- web`, which tests/run.sh runs
//! first), chromium and chromedriver (scripts/setup.sh installs them).

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use strata_tests::{repo, require, run_ok, stdout, strata, temp_dir, Running};

/// What the compare view measures, in its order, and the `strata
/// simulate` flags that measure the same.
const COMPARED: [(&str, &[&str]); 6] = [
    ("fleet", &["-a", "fleet"]),
    ("fleet-aware", &["-a", "fleet", "--fleet-aware"]),
    ("fleet-alone", &["-a", "fleet", "--alone"]),
    ("auto", &["-a", "auto"]),
    ("popularity", &["-a", "popularity"]),
    ("nixery", &["-a", "nixery"]),
];
const FIGURES: [&str; 3] = ["fleet", "update", "image"];
const IMAGES: [&str; 5] = ["curl", "git", "jq", "nginx-light", "python3-requests"];

/// Everything a UI test needs, or `None` (skipped) outside CI.
fn ready() -> Option<PathBuf> {
    if !require(&["chromium", "chromedriver"]) {
        return None;
    }
    built_ui()
}

/// The built UI, or `None` (skipped) outside CI.
fn built_ui() -> Option<PathBuf> {
    let ui = repo().join("web/dist");
    if !ui.join("index.html").exists() {
        let msg = "web/dist is not built: run `cargo run -p xtask -- web` (tests/run.sh does)";
        if std::env::var_os("CI").is_some() {
            panic!("{msg}");
        }
        eprintln!("skipped: {msg}");
        return None;
    }
    Some(ui)
}

/// `strata serve` on a free port with `extra` arguments; returns it and
/// the UI's address.
fn serve(ui: &Path, extra: &[&Path]) -> (Running, String) {
    let args = [Path::new("--ui"), ui]
        .into_iter()
        .chain(extra.iter().copied());
    strata_tests::serve(args, "strata: serving the UI at ")
}

/// One HTTP/1.1 GET; returns the status line and headers (lowercase
/// names) and the body's length.
fn get(url: &str, path: &str) -> (String, usize) {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&response[..end]).to_lowercase();
    (head, response.len() - end - 4)
}

#[test]
fn serve_gives_the_ui_compressed_and_names_a_missing_ui() {
    let out = strata()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--ui",
            "/nonexistent/strata-ui",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/strata-ui: no built web UI here"),
        "{err}"
    );

    let Some(ui) = built_ui() else { return };
    let (_server, url) = serve(&ui, &[]);
    let (head, _) = get(&url, "/");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/html"), "{head}");
    let (head, body) = get(&url, "/strata_web_bg.wasm");
    assert!(head.contains("content-type: application/wasm"), "{head}");
    assert!(head.contains("content-encoding: gzip"), "{head}");
    let size = std::fs::metadata(ui.join("strata_web_bg.wasm"))
        .unwrap()
        .len() as usize;
    assert!(body < size / 2, "gzip: {body} of {size} bytes");
    let (head, _) = get(&url, "/no/such/file.js");
    assert!(head.starts_with("http/1.1 404"), "{head}");
}

/// chromedriver and the Chromium it starts, in a process group of their
/// own: stopping it stops the browser too, also when a test fails before
/// it closes its session (killing chromedriver alone leaves Chromium
/// running, and writing to a profile directory that is then removed).
struct Driver(Child);

impl Driver {
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// chromedriver on a free port, ready for sessions.
fn chromedriver() -> (Driver, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("chromedriver starts");
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "chromedriver is not listening"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (Driver(child), port)
}

/// A headless Chromium session, with the flags this machine needs and its
/// profile in `profile`.
async fn browser(port: u16, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_string(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--window-size=1200,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a chromedriver session")
}

fn testid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

/// The UI open in a fresh headless Chromium, with its server and driver
/// (both stopped when the page is dropped).
struct Page {
    client: Client,
    _server: Running,
    driver: Driver,
    profile: PathBuf,
}

impl Drop for Page {
    fn drop(&mut self) {
        self.driver.stop();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// How long the page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(30);

/// Asks `probe` every `every` until it answers `Ok`; fails with its last
/// `Err` (what the page showed instead) after `patience`.
async fn eventually<T>(
    patience: Duration,
    every: Duration,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let start = Instant::now();
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(why) => assert!(start.elapsed() < patience, "{why}"),
        }
        tokio::time::sleep(every).await;
    }
}

impl Page {
    /// Opens `/{query}` and waits for the compare table; `None` when the
    /// test is skipped (see [`ready`]).
    async fn open(query: &str) -> Option<Page> {
        Page::open_with(query, &[]).await
    }

    /// [`Page::open`] with more arguments for `strata serve`.
    async fn open_with(query: &str, serve_args: &[&Path]) -> Option<Page> {
        let ui = ready()?;
        let (server, url) = serve(&ui, serve_args);
        Some(Page::open_at(server, &format!("{url}{query}")).await)
    }

    /// Opens `url`, served by `server`, and waits for the compare table.
    async fn open_at(server: Running, url: &str) -> Page {
        Page::open_after(server, None, url).await
    }

    /// [`Page::open_at`], after the browser has loaded `first` (a page
    /// that is not the app: its start is then not the app's).
    async fn open_after(server: Running, first: Option<&str>, url: &str) -> Page {
        let (driver, port) = chromedriver();
        let profile = temp_dir(&format!("chromium-{port}"));
        let client = browser(port, &profile).await;
        if let Some(first) = first {
            client.goto(first).await.unwrap();
        }
        client.goto(url).await.unwrap();
        let page = Page {
            client,
            _server: server,
            driver,
            profile,
        };
        page.element("compare-table").await;
        page
    }

    /// The element with this `data-testid`, once it is there.
    async fn element(&self, id: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(&testid(id)))
            .await
            .unwrap_or_else(|e| panic!("no {id} on the page: {e}"))
    }

    /// Picks the option of the `<select>` `id` whose value (`by_value`)
    /// or label is `option`, once the page has it: the options come with
    /// the fleet, which may load after the select is drawn.
    async fn choose(&self, id: &str, option: &str, by_value: bool) {
        use fantoccini::error::{CmdError, ErrorStatus};
        eventually(PATIENCE, Duration::from_millis(100), async || {
            let select = self.element(id).await;
            let picked = if by_value {
                select.select_by_value(option).await
            } else {
                select.select_by_label(option).await
            };
            match picked {
                Ok(()) => Ok(()),
                Err(CmdError::Standard(e))
                    if matches!(
                        e.error,
                        ErrorStatus::NoSuchElement | ErrorStatus::StaleElementReference
                    ) =>
                {
                    Err(format!("{id} never offered {option}: {e}"))
                }
                Err(e) => panic!("{id}: {e}"),
            }
        })
        .await
    }

    /// The element's text. The page may render it anew between finding
    /// and reading it: then it is found again.
    async fn text(&self, id: &str) -> String {
        for _ in 0..20 {
            match self.element(id).await.text().await {
                Ok(text) => return text,
                Err(fantoccini::error::CmdError::Standard(e))
                    if e.error == fantoccini::error::ErrorStatus::StaleElementReference => {}
                Err(e) => panic!("{id}: {e}"),
            }
        }
        panic!("{id} was rendered anew 20 times while being read")
    }

    /// Waits until the element's text passes `check` (the DOM updates on
    /// the next tick after an event); fails with the last text seen.
    async fn text_until(&self, id: &str, want: &str, check: impl Fn(&str) -> bool) {
        eventually(PATIENCE, Duration::from_millis(100), async || {
            let text = self.text(id).await;
            match check(text.trim()) {
                true => Ok(()),
                false => Err(format!("{id}: expected {want}, the page shows {text:?}")),
            }
        })
        .await
    }

    /// Waits until the element's text is `expected`.
    async fn text_becomes(&self, id: &str, expected: &str) {
        self.text_until(id, &format!("{expected:?}"), |t| t == expected)
            .await;
    }

    /// Every cell of the compare table equals `strata simulate`'s ratio.
    async fn compare_matches_simulate(
        &self,
        dirs: &[PathBuf],
        budget: usize,
        popularity: Option<&Path>,
    ) {
        for (algorithm, flags) in COMPARED {
            let figures = simulate(dirs, flags, budget, popularity);
            for figure in FIGURES {
                let expected = figures[figure]["ratio"]
                    .as_f64()
                    .map_or("-".to_string(), |r| format!("{r:.3}"));
                self.text_becomes(&format!("compare-{algorithm}-{figure}"), &expected)
                    .await;
            }
        }
    }

    /// Sets the budget as a person does: type, then leave the field.
    async fn set_budget(&self, budget: usize) {
        let input = self.element("budget").await;
        input.clear().await.unwrap();
        input.send_keys(&budget.to_string()).await.unwrap();
        let heading = self.client.find(Locator::Css("h1")).await.unwrap();
        heading.click().await.unwrap();
    }

    /// Chooses files in the "add a revision" input.
    async fn upload(&self, files: &[PathBuf]) {
        self.upload_to("add-revision", files).await;
    }

    /// Chooses files in a file input.
    async fn upload_to(&self, id: &str, files: &[PathBuf]) {
        let paths: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        let input = self.element(id).await;
        input.send_keys(&paths.join("\n")).await.unwrap();
    }

    /// The shown plan's download: its file name and its bytes (a `blob:`
    /// address, read as the browser would save it).
    async fn downloaded_plan(&self) -> (String, String) {
        self.element("download-plan").await;
        let got = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 const a = document.querySelector('[data-testid=download-plan]');
                 const href = a.getAttribute('href');
                 if (!href) { done([a.getAttribute('download'), '']); return; }
                 fetch(href).then((r) => r.text()).then((t) => done([a.getAttribute('download'), t]),
                                                        () => done([a.getAttribute('download'), '']));",
                vec![],
            )
            .await
            .unwrap();
        let text = |i: usize| got[i].as_str().unwrap().to_string();
        (text(0), text(1))
    }

    /// Waits until the shown plan's download is `expected` (the page
    /// replans on the next tick after a change); fails with the last seen.
    async fn download_becomes(&self, expected: &str) {
        eventually(PATIENCE, Duration::from_millis(100), async || {
            let (_, got) = self.downloaded_plan().await;
            match got == expected {
                true => Ok(()),
                false => Err(format!(
                    "the page offers\n{got}\nnot strata plan's\n{expected}"
                )),
            }
        })
        .await
    }

    /// Drops a file on the page, as a person dragging it from a file
    /// manager does (a `drop` event carrying the file).
    async fn drop_file(&self, name: &str, text: &str) {
        self.client
            .execute(
                "const [name, text] = arguments;
                 const files = new DataTransfer();
                 files.items.add(new File([text], name, { type: 'application/json' }));
                 document.querySelector('h1').dispatchEvent(
                     new DragEvent('drop', { dataTransfer: files, bubbles: true, cancelable: true }));",
                vec![name.into(), text.into()],
            )
            .await
            .unwrap();
    }

    /// The reference graph's paths as the canvas draws them: `[path,
    /// layer, colour, faded]` each (read through the canvas's
    /// `strataNodes`, as a canvas has no elements to query).
    async fn graph_nodes(&self) -> Vec<serde_json::Value> {
        self.element("graph").await;
        eventually(PATIENCE, Duration::from_millis(100), async || {
            let nodes = self
                .client
                .execute(
                    "const c = document.querySelector('[data-testid=graph]');
                     return c.strataNodes ? c.strataNodes() : [];",
                    vec![],
                )
                .await
                .unwrap();
            let nodes = nodes.as_array().cloned().unwrap_or_default();
            match nodes.is_empty() {
                false => Ok(nodes),
                true => Err("the graph draws no path".to_string()),
            }
        })
        .await
    }

    /// Clicks a path's circle in the reference graph, where the canvas
    /// draws it (a press and release at its centre, as a mouse does).
    async fn click_path(&self, path: &str) {
        let clicked = self
            .client
            .execute(
                "const [path] = arguments;
                 const c = document.querySelector('[data-testid=graph]');
                 c.scrollIntoView({ block: 'center' });
                 const at = c.strataLocate(path);
                 if (!at) return false;
                 const [x, y] = at;
                 for (const type of ['mousedown', 'mouseup'])
                     c.dispatchEvent(new MouseEvent(type, { clientX: x, clientY: y, bubbles: true }));
                 return true;",
                vec![path.into()],
            )
            .await
            .unwrap();
        assert_eq!(clicked, true, "{path} is not drawn");
    }

    /// Clicks the element matching a CSS selector.
    async fn click(&self, css: &str) {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Saves what the page looks like at this window size as
    /// `target/tmp/ui-screenshots/NAME.png`, for people to look at.
    async fn screenshot(&self, name: &str, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.unwrap();
        self.client
            .execute("window.scrollTo(0, 0);", vec![])
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let png = self.client.screenshot().await.unwrap();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    async fn close(self) {
        self.client.clone().close().await.unwrap();
    }
}

/// The bundled example's popularity file.
fn example_popularity() -> PathBuf {
    repo().join("examples/fleet/popularity.json")
}

/// `strata simulate --json` over revision directories, with this
/// popularity file if any.
fn simulate(
    dirs: &[PathBuf],
    flags: &[&str],
    budget: usize,
    popularity: Option<&Path>,
) -> serde_json::Value {
    let mut cmd = strata();
    cmd.args(["simulate", "--json", "-b"])
        .arg(budget.to_string())
        .args(flags)
        .args(dirs);
    if let Some(file) = popularity {
        cmd.arg("--popularity").arg(file);
    }
    let out = run_ok(&mut cmd);
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// The first `n` revisions of the bundled example fleet.
fn example_revisions(n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|r| repo().join(format!("examples/fleet/rev{r}")))
        .collect()
}

#[tokio::test]
async fn the_compare_view_shows_the_figures_strata_simulate_prints() {
    let Some(page) = Page::open("").await else {
        return;
    };
    let dirs = example_revisions(3);
    page.text_becomes(
        "fleet-summary",
        "example fleet (examples/fleet): 5 images, 3 revisions, 130 distinct store paths; \
         popularity from examples/fleet/popularity.json (94 names)",
    )
    .await;
    let popularity = example_popularity();
    page.compare_matches_simulate(&dirs, 20, Some(&popularity))
        .await;
    page.screenshot("example-fleet-laptop", 1366, 768).await;
    page.set_budget(6).await;
    page.compare_matches_simulate(&dirs, 6, Some(&popularity))
        .await;
    page.screenshot("example-fleet-wide", 1920, 1080).await;
    page.screenshot("example-fleet-narrow", 760, 1000).await;
    page.close().await;
}

#[tokio::test]
async fn uploaded_closures_are_compared_and_bad_files_are_named() {
    let Some(page) = Page::open("?budget=8").await else {
        return;
    };
    for (r, dir) in example_revisions(2).iter().enumerate() {
        let files: Vec<PathBuf> = IMAGES
            .iter()
            .map(|i| dir.join(format!("{i}.json")))
            .collect();
        page.upload(&files).await;
        let summary = format!("your closures, {} revisions: 5 images", r + 1);
        page.text_until("fleet-summary", &summary, |t| t.starts_with(&summary))
            .await;
    }
    // Closures of one's own replace the example and its popularity ...
    page.compare_matches_simulate(&example_revisions(2), 8, None)
        .await;
    // ... until one chooses a popularity file.
    page.upload_to("popularity-file", &[example_popularity()])
        .await;
    page.text_until("fleet-summary", "popularity named", |t| {
        t.ends_with("popularity from popularity.json (94 names)")
    })
    .await;
    page.compare_matches_simulate(&example_revisions(2), 8, Some(&example_popularity()))
        .await;

    let dir = temp_dir("ui-bad-closure");
    let bad = dir.join("broken.json");
    std::fs::write(&bad, r#"[{"path": "/nix/store/not-a-store-path"}]"#).unwrap();
    page.upload(&[bad]).await;
    let error = page.text("error").await;
    assert!(error.starts_with("broken.json: "), "{error}");
    // Nothing was lost: the two revisions are still there.
    let summary = page.text("fleet-summary").await;
    assert!(
        summary.starts_with("your closures, 2 revisions"),
        "{summary}"
    );
    page.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_layers_view_shows_the_plan_a_ci_job_keeping_its_last_plan_makes() {
    let Some(page) = Page::open("").await else {
        return;
    };
    page.choose("algorithm", "auto", true).await;
    page.choose("image", "git", false).await;
    // What `strata plan` makes for git at each revision, each run given
    // the plan before as --previous.
    let dir = temp_dir("ui-layers");
    let mut previous: Option<PathBuf> = None;
    let mut counts = Vec::new();
    for (r, rev) in example_revisions(3).iter().enumerate() {
        let out = dir.join(format!("git{r}.plan.json"));
        let mut cmd = strata();
        cmd.args(["plan", "-a", "auto", "-b", "20", "-o"])
            .arg(&out)
            .arg(rev.join("git.json"));
        if let Some(p) = &previous {
            cmd.arg("--previous").arg(p);
        }
        run_ok(&mut cmd);
        let plan: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        counts.push(plan["layers"].as_array().unwrap().len());
        previous = Some(out);
    }
    for r in [2, 0] {
        page.choose("revision", &r.to_string(), true).await;
        let summary = format!("{} layers (auto)", counts[r]);
        page.text_until("plan-summary", &summary, |t| t.ends_with(&summary))
            .await;
        let rows = page
            .client
            .find_all(Locator::Css(&testid("plan-layer")))
            .await
            .unwrap();
        assert_eq!(rows.len(), counts[r], "revision {r}");
    }
    // The plan the page offers for download is the one `strata plan`
    // wrote, byte for byte (the planner in wasm and natively agree).
    let (name, downloaded) = page.downloaded_plan().await;
    assert_eq!(name, "git.rev0.plan.json");
    let written = std::fs::read_to_string(dir.join("git0.plan.json")).unwrap();
    assert!(downloaded == written, "{downloaded}");
    // The reference graph draws every path of git, coloured by its layer
    // in that plan.
    let drawn = page.graph_nodes().await;
    let plan: serde_json::Value = serde_json::from_str(&written).unwrap();
    let layer_of = |path: &str| {
        plan["layers"]
            .as_array()
            .unwrap()
            .iter()
            .position(|l| l["paths"].as_array().unwrap().iter().any(|p| p == path))
            .unwrap()
    };
    let paths: usize = plan["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["paths"].as_array().unwrap().len())
        .sum();
    assert_eq!(drawn.len(), paths);
    let mut fills = std::collections::BTreeMap::new();
    for node in drawn {
        let (path, layer) = (node[0].as_str().unwrap(), node[1].as_str().unwrap());
        assert_eq!(layer, layer_of(path).to_string(), "{path}");
        // One colour per layer.
        assert_eq!(
            fills.entry(layer.to_string()).or_insert(node[2].clone()),
            &node[2]
        );
    }
    let row = page.element("compare-row-auto").await;
    assert_eq!(
        row.attr("class").await.unwrap().as_deref(),
        Some("selected")
    );
    page.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_js_api_plans_a_fleet_as_strata_simulate_does_and_throws_named_errors() {
    let Some(page) = Page::open("").await else {
        return;
    };
    let revisions: Vec<Vec<serde_json::Value>> = example_revisions(3)
        .iter()
        .map(|dir| {
            IMAGES
                .iter()
                .map(|image| {
                    let text = std::fs::read_to_string(dir.join(format!("{image}.json")));
                    serde_json::json!({ "image": image, "closure": text.unwrap() })
                })
                .collect()
        })
        .collect();
    let script = r#"
        const [revisions, done] = arguments;
        import("./api/strata_planner_wasm.js").then(async (api) => {
            await api.default();
            const fleet = api.planFleet(revisions, { algorithm: "fleet", budget: 12 }, true);
            let error = null;
            try {
                api.plan('[{"path": "/nix/store/x"}]', { algorithm: "fleet", budget: 3 });
            } catch (e) {
                error = String(e.message);
            }
            const text = revisions[0][0].closure;
            const options = { algorithm: "auto", budget: 5 };
            const fromText = JSON.stringify(api.plan(text, options));
            const fromBytes = JSON.stringify(new api.Closure(new TextEncoder().encode(text)).plan(options));
            let notText = null;
            try { new api.Closure(42); } catch (e) { notText = String(e.message); }
            done({ sameFromBytes: fromText === fromBytes, notText,
                   figures: fleet.figures, layers: fleet.revisions[2][1].layers.length,
                   previous: fleet.revisions[2][1].algorithm.previous === true,
                   kept: api.planFleet(revisions, { algorithm: "fleet", budget: 12 })
                       .revisions[2][1].algorithm.previous === true,
                   algorithms: api.algorithms(), error });
        }).catch((e) => done({ failed: String(e) }));
    "#;
    let result = page
        .client
        .execute_async(script, vec![serde_json::json!(revisions)])
        .await
        .unwrap();
    assert!(result.get("failed").is_none(), "{result}");
    let expected = simulate(&example_revisions(3), &["-a", "fleet", "--alone"], 12, None);
    for figure in FIGURES {
        assert_eq!(
            result["figures"][figure]["bytes"], expected[figure]["bytes"],
            "{figure}"
        );
        assert_eq!(
            result["figures"][figure]["ratio"],
            expected[figure]["ratio"]
        );
    }
    assert_eq!(
        result["sameFromBytes"], true,
        "a closure's UTF-8 bytes plan as its text"
    );
    let not_text = result["notText"].as_str().unwrap();
    assert!(not_text.contains("expected its JSON text"), "{not_text}");
    assert!(result["layers"].as_u64().unwrap() <= 12);
    assert_eq!(result["previous"], false, "planned alone");
    assert_eq!(result["kept"], true, "planned with the previous plan");
    assert_eq!(
        result["algorithms"],
        serde_json::json!(["fleet", "auto", "popularity", "nixery", "pipeline"])
    );
    let error = result["error"].as_str().unwrap();
    assert!(error.contains("/nix/store/x"), "{error}");
    page.close().await;
}

#[tokio::test]
async fn the_planner_embeds_in_a_docs_page_as_a_custom_element() {
    let Some(page) = Page::open("").await else {
        return;
    };
    // A docs page of its own, with the element and its module only.
    let script = r#"
        const [done] = arguments;
        document.head.innerHTML = "<style>h2 { color: red }</style>";
        document.body.innerHTML =
            '<h1>Docs</h1><strata-planner budget="6" algorithm="auto"></strata-planner>';
        const el = document.querySelector("strata-planner");
        const cell = (id) => el.shadowRoot &&
            el.shadowRoot.querySelector(`[data-testid="${id}"]`);
        const until = async (test) => {
            for (let i = 0; i < 600; i++) {
                if (test()) return true;
                await new Promise((r) => setTimeout(r, 50));
            }
            return false;
        };
        import("./strata-planner.js").then(async () => {
            if (!await until(() => cell("compare-auto-fleet"))) {
                return done({ failed: "no compare table in the shadow root" });
            }
            const before = cell("compare-auto-fleet").textContent.trim();
            const selected = cell("compare-row-auto").className;
            const shownBudget = cell("budget").value;
            // A person's change: the event bubbles but does not leave the
            // shadow root (change events are not composed).
            const budget = cell("budget");
            budget.value = "8";
            budget.dispatchEvent(new Event("change", { bubbles: true }));
            await until(() => cell("compare-auto-fleet").textContent.trim() !== before);
            const after = cell("compare-auto-fleet").textContent.trim();
            const heading = getComputedStyle(el.shadowRoot.querySelector("h2")).color;
            done({ before, after, selected, shownBudget, heading,
                   outside: document.querySelectorAll('[data-testid="compare-table"]').length });
        }).catch((e) => done({ failed: String(e) }));
    "#;
    let result = page.client.execute_async(script, vec![]).await.unwrap();
    assert!(result.get("failed").is_none(), "{result}");
    let dirs = example_revisions(3);
    let popularity = example_popularity();
    let ratio = |budget| {
        let figures = simulate(&dirs, &["-a", "auto"], budget, Some(&popularity));
        format!("{:.3}", figures["fleet"]["ratio"].as_f64().unwrap())
    };
    assert_eq!(result["shownBudget"], "6");
    assert_eq!(result["before"], ratio(6).as_str());
    assert_eq!(result["after"], ratio(8).as_str());
    assert_eq!(result["selected"], "selected");
    // The page's styles stay outside, the app's DOM stays inside.
    assert_ne!(result["heading"], "rgb(255, 0, 0)");
    assert_eq!(result["outside"], 0);
    page.close().await;
}

/// Issue 14, part 1: a plan on the page builds on the server that served
/// it, with live progress, then downloads and pull lines; a plan whose
/// paths the server's store lacks says so before anyone clicks.
#[tokio::test]
async fn a_plan_on_the_page_builds_on_its_server_with_downloads_and_pull_lines() {
    use strata_tests::store::FakeStore;
    let dir = temp_dir("ui-build");
    let store = FakeStore::create(&dir.join("root"), Path::new("/bin/busybox"));
    let examples = dir.join("examples");
    std::fs::create_dir_all(&examples).unwrap();
    store.write_closure(&examples.join("hello.json"));
    let fleet = repo().join("examples/fleet/rev2");
    let (data, root) = (dir.join("data"), store.root.clone());
    let args = [
        Path::new("--store-root"),
        &root,
        Path::new("--data-dir"),
        &data,
        Path::new("--examples"),
        &examples,
        Path::new("--examples"),
        &fleet,
    ];
    let Some(page) = Page::open_with("", &args).await else {
        strata_tests::cleanup(&dir);
        return;
    };
    // The Debian example fleet has no store paths behind it: said up front.
    page.text_until("build-unavailable", "a lack of paths", |t| {
        t.contains("lacks")
    })
    .await;
    page.element("open-example-hello")
        .await
        .click()
        .await
        .unwrap();
    page.text_until("plan-summary", "hello's 4 paths", |t| {
        t.starts_with("4 paths")
    })
    .await;
    for (id, value) in [
        ("build-name", "hello"),
        ("build-tag", "ui"),
        ("build-cmd", "hello"),
    ] {
        let input = page.element(id).await;
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }
    page.element("build").await.click().await.unwrap();
    page.text_until("build-progress", "done", |t| {
        t.starts_with("done: 4 of 4 layers")
    })
    .await;
    let pull = page.text("pull-lines").await;
    let host = page
        .client
        .current_url()
        .await
        .unwrap()
        .host_str()
        .map(str::to_string)
        .unwrap();
    assert!(
        pull.contains(&format!("podman pull --tls-verify=false {host}:")),
        "{pull}"
    );
    assert!(pull.contains("/hello:ui"), "{pull}");
    for id in ["download-docker", "download-oci"] {
        let href = page.element(id).await.attr("href").await.unwrap().unwrap();
        let url = page
            .client
            .current_url()
            .await
            .unwrap()
            .join(&href)
            .unwrap();
        let file = dir.join(format!("{id}.tar"));
        let out = run_ok(
            Command::new("curl")
                .args(["-sS", "-w", "%{http_code}", "-o"])
                .arg(&file)
                .arg(url.as_str()),
        );
        assert_eq!(stdout(&out), "200", "{id}: {href}");
        assert!(
            std::fs::metadata(&file).unwrap().len() > 10_000,
            "{id}: {href}"
        );
    }
    page.close().await;
    strata_tests::cleanup(&dir);
}

/// `strata plan` of `closure` with these flags: what the page's "Download
/// this plan" must give, byte for byte.
fn strata_plan(flags: &[&str], closure: &Path) -> String {
    stdout(&run_ok(strata().arg("plan").args(flags).arg(closure)))
}

/// Issue 14, part 2: one closure dropped anywhere on the page is shown
/// alone at once (no file named after an image, no revision to add), its
/// stack the layers `strata plan` makes; pasted text that does not read is
/// named with its entry, and the closure shown stays.
#[tokio::test]
async fn a_dropped_closure_is_shown_alone_with_the_layers_strata_plan_makes() {
    let Some(page) = Page::open("").await else {
        return;
    };
    let file = repo().join("examples/nginx-light.closure.json");
    let text = std::fs::read_to_string(&file).unwrap();
    // With a byte order mark, as some editors save: the page reads the
    // file's bytes and drops it, as browsers do when they decode text.
    page.drop_file("nginx-light.closure.json", &format!("\u{feff}{text}"))
        .await;
    page.text_until("fleet-summary", "nginx-light alone", |t| {
        t.starts_with("nginx-light: one closure, ")
    })
    .await;
    let expected = strata_plan(&["-b", "20"], &file);
    page.download_becomes(&expected).await;
    let plan: serde_json::Value = serde_json::from_str(&expected).unwrap();
    let layers = plan["layers"].as_array().unwrap();
    let summary = format!("{} layers (fleet)", layers.len());
    page.text_until("plan-summary", &summary, |t| t.ends_with(&summary))
        .await;
    // The stack: one bar per layer, bottom to top, each the layer's bytes.
    let bars = page
        .client
        .execute(
            "return [...document.querySelectorAll('[data-testid=stack-layer]')]
                 .map((b) => [Number(b.dataset.layer), Number(b.dataset.size), b.getBoundingClientRect().bottom]);",
            vec![],
        )
        .await
        .unwrap();
    let bars = bars.as_array().unwrap();
    assert_eq!(bars.len(), layers.len());
    for (i, (bar, layer)) in bars.iter().zip(layers).enumerate() {
        assert_eq!(bar[0], i, "bars in layer order");
        assert_eq!(bar[1], layer["size"], "layer {i}");
    }
    assert!(
        bars[0][2].as_f64() > bars[bars.len() - 1][2].as_f64(),
        "layer 0 at the bottom"
    );
    assert_eq!(page.downloaded_plan().await.0, "nginx-light.plan.json");
    // Selecting a layer lists its paths and lights them in the graph.
    page.click("[data-testid=stack-layer][data-layer=\"0\"]")
        .await;
    let listed = page
        .client
        .find_all(Locator::Css(
            "[data-testid=layer-paths] [data-testid=path-row]",
        ))
        .await
        .unwrap();
    assert_eq!(listed.len(), layers[0]["paths"].as_array().unwrap().len());
    let lit: Vec<serde_json::Value> = page
        .graph_nodes()
        .await
        .into_iter()
        .filter(|n| n[3] == false)
        .map(|n| n[1].clone())
        .collect();
    assert!(!lit.is_empty());
    assert!(lit.iter().all(|l| l == "0"), "{lit:?}");
    page.screenshot("one-closure-wide", 1700, 1100).await;
    page.screenshot("one-closure-laptop", 1280, 800).await;

    page.click("details.paste summary").await;
    let bad = r#"[{"path": "/nix/store/00000000000000000000000000000000-a-1", "narSize": "big"}]"#;
    page.element("paste-closure")
        .await
        .send_keys(bad)
        .await
        .unwrap();
    page.element("open-pasted").await.click().await.unwrap();
    let error = page.text("error").await;
    assert!(error.starts_with("pasted closure: "), "{error}");
    assert!(error.contains("narSize"), "{error}");
    let summary = page.text("fleet-summary").await;
    assert!(summary.starts_with("nginx-light: one closure"), "{summary}");
    page.close().await;
}

/// Issue 14, part 4: a path pinned from the search and one excluded from
/// the graph replan as `strata plan --pin --exclude` does (the download is
/// its output, the command line is shown); the address keeps the view, so
/// opening it again gives the same plan; a pipeline's error shows under
/// the editor, and a good pipeline plans as `--pipeline`.
#[tokio::test]
async fn pins_excludes_and_a_pipeline_replan_as_strata_plan_does_and_the_address_keeps_them() {
    let Some(page) = Page::open("?algorithm=auto&image=git&revision=0").await else {
        return;
    };
    let closure = repo().join("examples/fleet/rev0/git.json");
    let auto = ["-a", "auto", "-b", "20"];
    page.download_becomes(&strata_plan(&auto, &closure)).await;

    page.element("path-search")
        .await
        .send_keys("perl-base")
        .await
        .unwrap();
    page.click("[data-testid=search-results] [data-testid=pin]")
        .await;
    let pinned = page
        .element("pins")
        .await
        .find(Locator::Css("[data-testid=path-row]"))
        .await
        .unwrap()
        .attr("data-path")
        .await
        .unwrap()
        .unwrap();
    assert!(pinned.contains("-perl-base-"), "{pinned}");
    // Replanned at once (and the graph redrawn before it is clicked).
    let flags = ["--pin", &pinned];
    page.download_becomes(&strata_plan(&[&auto[..], &flags].concat(), &closure))
        .await;
    let excluded = page
        .graph_nodes()
        .await
        .into_iter()
        .map(|n| n[0].as_str().unwrap().to_string())
        .find(|p| p.contains("-zlib1g-"))
        .expect("zlib1g in the graph");
    page.click_path(&excluded).await;
    page.click("[data-testid=focus-path] [data-testid=exclude]")
        .await;
    let flags = ["--pin", &pinned, "--exclude", &excluded];
    let expected = strata_plan(&[&auto[..], &flags].concat(), &closure);
    page.download_becomes(&expected).await;
    page.text_becomes(
        "cli-line",
        &format!("strata plan -a auto -b 20 --pin {pinned} --exclude {excluded} rev0/git.json"),
    )
    .await;
    // What the exclusion did: fewer bytes in the image than before it.
    let (before, now) = (
        page.text("figure-size-before").await,
        page.text("figure-size-now").await,
    );
    assert!(before != "-" && before != now, "{before} -> {now}");
    page.screenshot("hand-cut-wide", 1700, 1100).await;

    // The address holds the view: opened again, the same plan.
    let address = eventually(PATIENCE, Duration::from_millis(100), async || {
        let address = page.client.current_url().await.unwrap();
        let query: Vec<(String, String)> = address.query_pairs().into_owned().collect();
        let holds = |pair: (&str, &String)| query.iter().any(|(k, v)| (k.as_str(), v) == pair);
        match holds(("pin", &pinned)) && holds(("exclude", &excluded)) {
            true => Ok(address),
            false => Err(format!("the address lacks the cut: {address}")),
        }
    })
    .await;
    page.client.goto("about:blank").await.unwrap();
    page.client.goto(address.as_str()).await.unwrap();
    page.download_becomes(&expected).await;

    page.click("details.pipeline summary").await;
    let editor = page.element("pipeline").await;
    editor
        .send_keys(r#"[["popularity_contest"], "#)
        .await
        .unwrap();
    page.text_until("pipeline-error", "a JSON error", |t| {
        t.starts_with("malformed JSON at line 1")
    })
    .await;
    editor.clear().await.unwrap();
    let pipeline = r#"[["popularity_contest"], ["limit_layers", 8]]"#;
    editor.send_keys(pipeline).await.unwrap();
    let flags = [
        "-b",
        "20",
        "--pipeline",
        pipeline,
        "--pin",
        &pinned,
        "--exclude",
        &excluded,
    ];
    page.download_becomes(&strata_plan(&flags, &closure)).await;
    page.text_until("plan-summary", "a pipeline plan", |t| {
        t.ends_with("(pipeline)")
    })
    .await;
    page.close().await;
}

/// In a docs page with no `strata serve` behind it (static files only),
/// the page plans and offers the download, and has no build action at all.
#[tokio::test]
async fn with_no_server_behind_the_page_the_build_action_is_absent() {
    let Some(ui) = ready() else {
        return;
    };
    if !require(&["busybox"]) {
        return;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let httpd = Command::new("busybox")
        .args(["httpd", "-f", "-p", &format!("127.0.0.1:{port}"), "-h"])
        .arg(&ui)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("busybox httpd starts");
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "httpd is not listening"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let page = Page::open_at(Running(httpd), &format!("http://127.0.0.1:{port}/")).await;
    page.text_until("plan-summary", "a plan", |t| t.contains(" layers (fleet)"))
        .await;
    page.element("download-plan").await;
    // The page has had its answer about the server (a 404) ...
    eventually(PATIENCE, Duration::from_millis(100), async || {
        let asked = page
            .client
            .execute(
                "return performance.getEntriesByType('resource')
                     .some((e) => e.name.endsWith('/api/examples') && e.responseEnd > 0);",
                vec![],
            )
            .await
            .unwrap();
        match asked == true {
            true => Ok(()),
            false => Err("the page never asked for /api/examples".to_string()),
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ... and shows neither the build panel nor the server's examples.
    for id in [
        "build-panel",
        "build",
        "build-unavailable",
        "server-examples",
    ] {
        let found = page
            .client
            .find_all(Locator::Css(&testid(id)))
            .await
            .unwrap();
        assert!(found.is_empty(), "{id} is on a page with no server");
    }
    page.screenshot("no-server", 1280, 800).await;
    page.close().await;
}

/// A copy of the built UI with `files` beside it under `bench/` (so the
/// page can open them by address), served; the copy's directory, the
/// server and its address.
fn serve_with(ui: &Path, files: &[PathBuf]) -> (PathBuf, Running, String) {
    let copy = temp_dir(&format!("ui-copy-{}", files.len()));
    let status = Command::new("cp")
        .arg("-r")
        .arg(ui)
        .arg(copy.join("dist"))
        .status()
        .unwrap();
    assert!(status.success());
    let bench = copy.join("dist/bench");
    std::fs::create_dir_all(&bench).unwrap();
    for f in files {
        std::fs::copy(f, bench.join(f.file_name().unwrap())).unwrap();
    }
    let (server, url) = serve(&copy.join("dist"), &[]);
    (copy, server, url)
}

/// Starts recording the page's long tasks (over 50 ms on the main
/// thread), those since it opened included.
const RECORD_LONG_TASKS: &str = "
    window.__longTasks = [];
    new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__longTasks.push([e.startTime, e.duration]);
    }).observe({ type: 'longtask', buffered: true });";

impl Page {
    /// Runs `script` (which ends by calling `done`) and returns what it
    /// gave.
    async fn run_async(&self, script: &str, args: Vec<serde_json::Value>) -> serde_json::Value {
        self.client.execute_async(script, args).await.unwrap()
    }

    /// Waits until the page has made the User Timing mark `name` (see
    /// web/src/app/mod.rs, `mark`) `count` times; its last time, in ms
    /// since the page opened.
    async fn mark(&self, name: &str, count: usize) -> f64 {
        eventually(PATIENCE * 4, Duration::from_millis(20), async || {
            let marks = self
                .client
                .execute(
                    "return performance.getEntriesByName(arguments[0]).map((m) => m.startTime);",
                    vec![name.into()],
                )
                .await
                .unwrap();
            let marks = marks.as_array().unwrap();
            match marks.last() {
                Some(last) if marks.len() >= count => Ok(last.as_f64().unwrap()),
                _ => Err(format!("the page never marked {name} {count} times")),
            }
        })
        .await
    }

    /// The longest task on the page's main thread since `since` (ms since
    /// it opened), 0 when none took over 50 ms.
    async fn longest_task(&self, since: f64) -> f64 {
        // Long tasks are reported a little after they end.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let tasks = self
            .client
            .execute("return window.__longTasks || [];", vec![])
            .await
            .unwrap();
        tasks
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t[0].as_f64().unwrap() + t[1].as_f64().unwrap() >= since)
            .map(|t| t[1].as_f64().unwrap())
            .fold(0.0, f64::max)
    }

    /// Sets a `<select>` or an input as a person does, by its change
    /// event; returns when, in ms since the page opened.
    async fn change(&self, id: &str, value: &str) -> f64 {
        let at = self
            .client
            .execute(
                "const [id, value] = arguments;
                 const e = document.querySelector(`[data-testid=${id}]`);
                 e.value = value;
                 const at = performance.now();
                 e.dispatchEvent(new Event('change', { bubbles: true }));
                 return at;",
                vec![id.into(), value.into()],
            )
            .await
            .unwrap();
        at.as_f64().unwrap()
    }
}

/// A closure address whose file is not there (the page fetches it while
/// the app loads, `index.html`) says so inline, naming the URL.
#[tokio::test]
async fn a_closure_address_that_is_not_there_is_named_in_the_error() {
    let Some(page) = Page::open("?closure=/bench/missing.json").await else {
        return;
    };
    page.text_until("error", "the missing closure named", |t| {
        t.starts_with("/bench/missing.json: ") && t.contains("404")
    })
    .await;
    // The app took the early answer rather than fetching again.
    let left = page
        .client
        .execute("return window.strataEarly === undefined;", vec![])
        .await
        .unwrap();
    assert_eq!(left, serde_json::Value::Bool(true));
}

/// Issue 14, part 5: a 5,000-path closure opens from an address
/// (`?closure=URL`) without blocking the page: it is planned in the
/// worker, no main-thread task takes over 100 ms while it is, the graph
/// draws every path and its tooltip tells a path's sizes and referrers,
/// a budget change replans without blocking either, and a search rings
/// what it finds.
#[tokio::test]
async fn a_5000_path_closure_opens_from_its_address_without_blocking_the_page() {
    let Some(ui) = ready() else { return };
    let data = repo().join("../shared/bench");
    if !data.join("debian_closures.py").exists() {
        eprintln!("skipped: no {}", data.display());
        return;
    }
    let dir = temp_dir("closure-5000");
    run_ok(
        Command::new("python3")
            .arg(repo().join("tests/bench/closures.py"))
            .arg(&data)
            .arg(&dir)
            .arg("5000"),
    );
    let file = dir.join("5000.json");
    let (copy, server, url) = serve_with(&ui, std::slice::from_ref(&file));
    let page = Page::open_at(
        server,
        &format!("{url}?closure=/bench/5000.json&algorithm=auto"),
    )
    .await;
    page.client
        .execute(RECORD_LONG_TASKS, vec![])
        .await
        .unwrap();
    // The screenshots' size from the start: a resize redraws the graph
    // whole (and drops the tooltip).
    page.client.set_window_size(1366, 900).await.unwrap();
    page.text_until("fleet-summary", "the closure's summary", |t| {
        t.starts_with("/bench/5000.json: one closure, ")
    })
    .await;
    let expected = strata_plan(&["-a", "auto", "-b", "20"], &file);
    page.download_becomes(&expected).await;
    let drawn = page.mark("strata:graph-drawn", 1).await;
    let nodes = page.graph_nodes().await;
    let paths = serde_json::from_str::<serde_json::Value>(&expected).unwrap()["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["paths"].as_array().unwrap().len())
        .sum::<usize>();
    assert_eq!(nodes.len(), paths);
    page.mark("strata:compared", 1).await;
    let longest = page.longest_task(0.0).await;
    eprintln!("5,000 paths: graph drawn {drawn:.0} ms after opening; longest task {longest:.0} ms");
    // A budget change replans in the worker: the page stays responsive.
    let planned = page
        .client
        .execute(
            "return performance.getEntriesByName('strata:compared').length",
            vec![],
        )
        .await
        .unwrap()
        .as_u64()
        .unwrap() as usize;
    let at = page.change("budget", "40").await;
    page.mark("strata:compared", planned + 1).await;
    let replan = page.longest_task(at).await;
    // What the worker spent on this replan, timed in it: the plan and the
    // five compare rows (two of them fleet's).
    let worker: f64 = page
        .element("planning")
        .await
        .attr("data-worker-ms")
        .await
        .unwrap()
        .unwrap_or_default()
        .split(' ')
        .filter_map(|ms| ms.parse::<f64>().ok())
        .sum();
    eprintln!(
        "a budget change: {worker:.0} ms in the worker, longest task on the page {replan:.0} ms"
    );
    // Side by side, so that it holds on a loaded machine as on an idle
    // one: were the planning on the page's thread, one of its tasks would
    // last as long as the worker's work. The goal itself (no task over
    // 100 ms, opening included) is tests/bench/ui.sh's to report.
    assert!(worker > 0.0, "the worker timed no planning");
    assert!(
        replan < worker,
        "a {replan:.0} ms task on the page while replanning, {worker:.0} ms of work in the worker"
    );
    page.download_becomes(&strata_plan(&["-a", "auto", "-b", "40"], &file))
        .await;
    // Pointing at a path tells its sizes and referrers.
    let glibc = nodes
        .iter()
        .map(|n| n[0].as_str().unwrap().to_string())
        .find(|p| p.contains("-libc6-"))
        .expect("libc6 in the closure");
    page.client
        .execute(
            "const [path] = arguments;
             const c = document.querySelector('[data-testid=graph]');
             c.scrollIntoView({ block: 'center' });
             const [x, y] = c.strataLocate(path);
             c.dispatchEvent(new MouseEvent('mousemove', { clientX: x, clientY: y, bubbles: true }));",
            vec![glibc.as_str().into()],
        )
        .await
        .unwrap();
    let tip = page.text("graph-tip").await;
    assert!(tip.contains(&glibc), "{tip}");
    assert!(
        tip.contains("closure") && tip.contains("referenced by "),
        "{tip}"
    );
    page.screenshot("closure-5000-tooltip", 1366, 900).await;
    // Picking it lights it and every path depending on it.
    page.click_path(&glibc).await;
    let lit = page
        .graph_nodes()
        .await
        .iter()
        .filter(|n| n[3] == false)
        .count();
    assert!(lit > 1 && lit < nodes.len(), "{lit} of {} lit", nodes.len());
    page.screenshot("closure-5000-dependents", 1366, 900).await;
    // The search rings what it finds.
    page.element("path-search")
        .await
        .send_keys("python3")
        .await
        .unwrap();
    page.text_until("graph-status", "paths found", |t| {
        t.contains("found by the search")
    })
    .await;
    page.screenshot("closure-5000-search", 1366, 900).await;
    page.close().await;
    let _ = std::fs::remove_dir_all(copy);
    let _ = std::fs::remove_dir_all(dir);
}

/// The algorithms the benchmark replans with (`pipeline` needs a
/// pipeline; `fleet-alone` plans as `fleet` on one revision).
const TIMED: [&str; 4] = ["fleet", "popularity", "nixery", "auto"];

/// Issue 14, part 5's figures (tests/bench/ui.sh runs this with the
/// closures it generates, `STRATA_BENCH_CLOSURES=DIR` holding `500.json`,
/// `5000.json` and `20000.json`, and `STRATA_BENCH_NATIVE=FILE`, the
/// native times `cargo run --release -p xtask -- plan-times` wrote): for
/// each closure, opened by its address in headless Chromium, the time to
/// the first plan and drawing, the replan after a budget change with each
/// algorithm, the longest main-thread task; then the same planning call
/// (parse once, plan) natively and in wasm through the JS API; and the
/// bundle's gzipped size. Printed, not asserted.
#[tokio::test]
#[ignore = "a benchmark: tests/bench/ui.sh runs it"]
async fn benchmark_large_closures() {
    let Some(ui) = ready() else { return };
    let dir =
        PathBuf::from(std::env::var_os("STRATA_BENCH_CLOSURES").expect("STRATA_BENCH_CLOSURES"));
    let native: serde_json::Value = std::env::var_os("STRATA_BENCH_NATIVE")
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let sizes = ["500", "5000", "20000"];
    let files: Vec<PathBuf> = sizes
        .iter()
        .map(|n| dir.join(format!("{n}.json")))
        .collect();
    let (copy, server, url) = serve_with(&ui, &files);

    // The bundle, as the server sends it (gzip).
    let mut bundle = Vec::new();
    let mut snippets = std::fs::read_dir(ui.join("snippets"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|f| {
            f.unwrap()
                .path()
                .strip_prefix(&ui)
                .unwrap()
                .display()
                .to_string()
        })
        .collect::<Vec<_>>();
    snippets.sort();
    let app = [
        "index.html",
        "style.css",
        "strata_web.js",
        "strata_web_bg.wasm",
        "worker.js",
    ];
    let api = [
        "api/strata_planner_wasm.js",
        "api/strata_planner_wasm_bg.wasm",
    ];
    for file in app
        .iter()
        .map(|f| f.to_string())
        .chain(snippets)
        .chain(api.iter().map(|f| f.to_string()))
    {
        let (_, gz) = get(&url, &format!("/{file}"));
        bundle.push((file, gz));
    }
    let kib = |b: usize| b as f64 / 1024.0;
    let app_gz: usize = bundle
        .iter()
        .filter(|(f, _)| !f.starts_with("api/"))
        .map(|b| b.1)
        .sum();
    let api_gz: usize = bundle
        .iter()
        .filter(|(f, _)| f.starts_with("api/"))
        .map(|b| b.1)
        .sum();

    let mut opened = Vec::new();
    let mut replans = Vec::new();
    let mut calls = Vec::new();
    for (n, file) in sizes.iter().zip(&files) {
        // The browser first loads another page of the server (not the
        // app, nothing of it cached), so its own start is not counted.
        let page = Page::open_after(
            Running(Command::new("true").spawn().unwrap()),
            Some(&format!("{url}style.css")),
            &format!("{url}?closure=/bench/{n}.json"),
        )
        .await;
        page.client
            .execute(RECORD_LONG_TASKS, vec![])
            .await
            .unwrap();
        let planned = page.mark("strata:planned", 1).await;
        let drawn = page.mark("strata:graph-drawn", 1).await;
        let compared = page.mark("strata:compared", 1).await;
        let paths = page.graph_nodes().await.len();
        let mounted = page.mark("strata:mounted", 1).await;
        let fetched = page
            .client
            .execute(
                "return performance.getEntriesByType('resource')
                     .find((r) => r.name.endsWith(arguments[0])).responseEnd;",
                vec![format!("/bench/{n}.json").into()],
            )
            .await
            .unwrap()
            .as_f64()
            .unwrap_or(f64::NAN);
        let longest_open = page.longest_task(0.0).await;
        // Long tasks once the app is on the page (its wasm compiled and
        // the app mounted): those of opening, planning and drawing.
        let longest_planning = page.longest_task(mounted).await;
        opened.push((
            n,
            paths,
            [mounted, fetched, planned, drawn, compared],
            longest_open,
            longest_planning,
        ));

        let mut row = Vec::new();
        for (k, algorithm) in TIMED.iter().enumerate() {
            let count = |name: &'static str| {
                let client = page.client.clone();
                async move {
                    client
                        .execute(
                            "return performance.getEntriesByName(arguments[0]).length",
                            vec![name.into()],
                        )
                        .await
                        .unwrap()
                        .as_u64()
                        .unwrap() as usize
                }
            };
            let before = count("strata:compared").await;
            page.change("algorithm", algorithm).await;
            page.mark("strata:compared", before + 1).await;
            let (p, c) = (
                count("strata:planned").await,
                count("strata:compared").await,
            );
            let at = page.change("budget", &(30 + k).to_string()).await;
            let shown = page.mark("strata:planned", p + 1).await - at;
            let all = page.mark("strata:compared", c + 1).await - at;
            let longest = page.longest_task(at).await;
            let worker = page
                .element("planning")
                .await
                .attr("data-worker-ms")
                .await
                .unwrap()
                .unwrap_or_default();
            let worker: Vec<f64> = worker.split(' ').filter_map(|w| w.parse().ok()).collect();
            row.push((
                shown,
                all,
                longest,
                worker.first().copied().unwrap_or(f64::NAN),
            ));
        }
        replans.push((n, row));

        // The same call natively and in wasm: parse once, plan (best of 10).
        let script = r#"
            const [url, algorithms, done] = arguments;
            import("./api/strata_planner_wasm.js").then(async (api) => {
                await api.default();
                const text = await (await fetch(url)).text();
                const best = (f) => { let b = Infinity; for (let i = 0; i < 10; i++) {
                    const t = performance.now(); f(); b = Math.min(b, performance.now() - t); } return b; };
                const out = { parse: best(() => new api.Closure(text).free()) };
                const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
                out["parse+bytes"] = best(() => new api.Closure(bytes).free());
                const closure = new api.Closure(text);
                for (const a of algorithms) {
                    out[a] = best(() => closure.layerCount({ algorithm: a, budget: 100 }));
                    out[a + "+js"] = best(() => closure.plan({ algorithm: a, budget: 100 }));
                }
                done(out);
            }).catch((e) => done({ failed: String(e) }));
        "#;
        let wasm = page
            .run_async(
                script,
                vec![format!("/bench/{n}.json").into(), serde_json::json!(TIMED)],
            )
            .await;
        assert!(wasm.get("failed").is_none(), "{wasm}");
        let native = native
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.ends_with(&format!("/{n}.json"))))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        calls.push((n, native, wasm));
        page.close().await;
        let _ = file;
    }
    drop(server);
    let _ = std::fs::remove_dir_all(copy);

    println!(
        "\nStrata UI benchmark (headless Chromium {}; times in ms)",
        chromium_version()
    );
    println!("\nOpening a closure by its address (?closure=URL, default view: fleet, budget 20), ms since navigation\n(the browser having loaded the server's style.css first, none of the app cached):");
    println!(
        "{:>7} {:>7} {:>8} {:>8} {:>11} {:>11} {:>9} {:>13} {:>13}",
        "closure",
        "paths",
        "mounted",
        "fetched",
        "plan shown",
        "graph drawn",
        "compared",
        "longest task",
        "after mount"
    );
    for (n, paths, times, all, planning) in &opened {
        let [m, f, p, d, c] = times;
        println!(
            "{n:>7} {paths:>7} {m:>8.0} {f:>8.0} {p:>11.0} {d:>11.0} {c:>9.0} {all:>13.0} {planning:>13.0}"
        );
        println!(
            "{:>7} {:>7} first render {:.0} ms after the closure arrived (shown plan and drawing)",
            "",
            "",
            p.max(*d) - f
        );
    }
    println!("\nReplan after a budget change, ms: shown plan (of which in the worker) / whole compare table / longest main-thread task:");
    println!(
        "{:>7} {}",
        "closure",
        TIMED.iter().map(|a| format!("{a:>26}")).collect::<String>()
    );
    for (n, row) in &replans {
        let cells: String = row
            .iter()
            .map(|(s, a, l, w)| format!("{:>26}", format!("{s:.0} ({w:.0}) / {a:.0} / {l:.0}")))
            .collect();
        println!("{n:>7} {cells}");
    }
    println!("\nThe same call, parse once then plan at budget 100, best of 10 (native / wasm in V8 / ratio), ms;");
    println!("from bytes: the text given as UTF-8 bytes (a Uint8Array); wasm+js: the JS API's whole call, the plan made a JS object:");
    println!(
        "{:>7} {}",
        "closure",
        ["parse"]
            .iter()
            .chain(TIMED.iter())
            .map(|a| format!("{a:>24}"))
            .collect::<String>()
    );
    for (n, native, wasm) in &calls {
        let cells: String = ["parse"]
            .iter()
            .chain(TIMED.iter())
            .map(|a| {
                let w = wasm[*a].as_f64().unwrap_or(f64::NAN);
                match native[*a].as_f64() {
                    Some(v) => format!("{:>24}", format!("{v:.1} / {w:.1} / {:.2}x", w / v)),
                    None => format!("{:>24}", format!("- / {w:.1}")),
                }
            })
            .collect();
        println!("{n:>7} {cells}");
        let js: String = TIMED
            .iter()
            .map(|a| {
                format!(
                    "{:>24}",
                    format!(
                        "wasm+js {:.1}",
                        wasm[format!("{a}+js")].as_f64().unwrap_or(f64::NAN)
                    )
                )
            })
            .collect();
        let bytes = wasm["parse+bytes"].as_f64().unwrap_or(f64::NAN);
        println!("{:>7} {:>24}{js}", "", format!("from bytes {bytes:.1}"));
    }
    println!("\nBundle, gzipped as served:");
    for (file, gz) in &bundle {
        println!("  {file:<45} {:>8.1} KiB", kib(*gz));
    }
    println!(
        "  {:<45} {:>8.1} KiB (the page: app, planner and worker in one wasm)",
        "app",
        kib(app_gz)
    );
    println!(
        "  {:<45} {:>8.1} KiB (the JS API, for docs pages)",
        "api",
        kib(api_gz)
    );
    println!("  {:<45} {:>8.1} KiB", "all", kib(app_gz + api_gz));
}

/// `chromium --version`'s number.
fn chromium_version() -> String {
    let out = Command::new("chromium").arg("--version").output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Issue 14, part 4's plan files, in a real browser: a `--base` plan and
/// a `--previous` plan chosen in their inputs replan as `strata plan
/// --base --previous` does, and the command line names them; a file that
/// is no plan is named in the error. Dragging files over the page shows
/// where to drop them.
#[tokio::test]
async fn base_and_previous_plan_files_replan_as_strata_plan_does_and_a_drag_shows_the_drop() {
    let Some(page) = Page::open("?algorithm=auto&image=git&revision=0").await else {
        return;
    };
    let dir = temp_dir("plan-files");
    let rev0 = repo().join("examples/fleet/rev0");
    let auto = ["-a", "auto", "-b", "20"];
    let base = dir.join("base.json");
    let mine = dir.join("mine.json");
    std::fs::write(
        &base,
        strata_plan(&["-a", "auto", "-b", "5"], &rev0.join("curl.json")),
    )
    .unwrap();
    std::fs::write(
        &mine,
        strata_plan(&["-a", "popularity", "-b", "8"], &rev0.join("git.json")),
    )
    .unwrap();
    let git = rev0.join("git.json");
    page.download_becomes(&strata_plan(&auto, &git)).await;

    page.click("details.plans summary").await;
    page.upload_to("base-file", std::slice::from_ref(&base))
        .await;
    let flags = ["--base", base.to_str().unwrap()];
    page.download_becomes(&strata_plan(&[&auto[..], &flags].concat(), &git))
        .await;
    page.upload_to("previous-file", std::slice::from_ref(&mine))
        .await;
    let flags = [
        "--base",
        base.to_str().unwrap(),
        "--previous",
        mine.to_str().unwrap(),
    ];
    page.download_becomes(&strata_plan(&[&auto[..], &flags].concat(), &git))
        .await;
    page.text_becomes(
        "cli-line",
        "strata plan -a auto -b 20 --base base.json --previous mine.json rev0/git.json",
    )
    .await;
    // A file that is no plan is named; the plans chosen stay.
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"layers\": 3}").unwrap();
    page.upload_to("base-file", std::slice::from_ref(&bad))
        .await;
    let error = page.text("plan-file-error").await;
    assert!(error.starts_with("--base bad.json: "), "{error}");
    page.click("[data-testid=clear-previous]").await;
    let flags = ["--base", base.to_str().unwrap()];
    page.download_becomes(&strata_plan(&[&auto[..], &flags].concat(), &git))
        .await;

    // Files dragged over the page: a hint says where they go, and goes
    // when they leave.
    let shown = |event: &str| {
        format!(
            "const files = new DataTransfer();
             files.items.add(new File(['[]'], 'x.json', {{ type: 'application/json' }}));
             document.querySelector('h1').dispatchEvent(
                 new DragEvent('{event}', {{ dataTransfer: files, bubbles: true, cancelable: true }}));
             return getComputedStyle(document.querySelector('[data-testid=drop-hint]')).display;"
        )
    };
    let display = |v: serde_json::Value| v.as_str().unwrap().to_string();
    let hint_display = || async {
        let now = page
            .client
            .execute(
                "return getComputedStyle(document.querySelector('[data-testid=drop-hint]')).display;",
                vec![],
            )
            .await
            .unwrap();
        display(now)
    };
    let entered = page
        .client
        .execute(&shown("dragenter"), vec![])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(hint_display().await, "flex", "entered: {entered}");
    page.screenshot("drag-over", 1366, 768).await;
    page.client
        .execute(&shown("dragleave"), vec![])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(hint_display().await, "none");
    page.close().await;
    let _ = std::fs::remove_dir_all(dir);
}
