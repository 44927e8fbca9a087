//! The registry pull API over a real listener: images built and published
//! with `strata build --publish` from a small store tree, served by
//! `strata serve --data-dir`, read with a raw HTTP/1.1 client so status
//! lines, headers and bodies are checked exactly as sent.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use sha2::{Digest as _, Sha256};

const HELLO: &str = "/nix/store/1d1mfgw3cqa8dp1ymhy2sw0ychqdxbgy-hello-1.0";
const OCI: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER: &str = "application/vnd.docker.distribution.manifest.v2+json";
const EMPTY_SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn strata() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strata"));
    cmd.env("CI", "true");
    cmd
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-registry-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn sha256(bytes: &[u8]) -> String {
    format!(
        "sha256:{}",
        data_encoding::HEXLOWER.encode(&Sha256::digest(bytes))
    )
}

/// A one-path store under `dir/root` (a script and 3000 bytes that do not
/// compress, so uncompressed layers are large enough for every range
/// case), and its closure.
fn store_tree(dir: &Path) -> PathBuf {
    let out = dir.join("root").join(HELLO.trim_start_matches('/'));
    fs::create_dir_all(out.join("bin")).unwrap();
    fs::create_dir_all(out.join("share")).unwrap();
    fs::write(out.join("bin/hello"), "#!/bin/sh\necho hello\n").unwrap();
    fs::set_permissions(out.join("bin/hello"), fs::Permissions::from_mode(0o555)).unwrap();
    let mut x: u32 = 1;
    let noise: Vec<u8> = (0..3000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    fs::write(out.join("share/noise"), noise).unwrap();
    let closure = dir.join("closure.json");
    fs::write(
        &closure,
        format!(r#"[{{"path": "{HELLO}", "narSize": 3100, "references": []}}]"#),
    )
    .unwrap();
    closure
}

fn publish(dir: &Path, closure: &Path, args: &[&str]) {
    let out = strata()
        .arg("build")
        .arg(closure)
        .arg("--store-root")
        .arg(dir.join("root"))
        .arg("--cache")
        .arg(dir.join("data"))
        .arg("--publish")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("strata: published "));
}

/// `strata serve` on a free port, killed when dropped; its log collected.
struct Server {
    child: Child,
    addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(data: &Path) -> Server {
        Self::start_with(data, true)
    }

    /// With `drain` false, the log pipe is closed once the address is read.
    fn start_with(data: &Path, drain: bool) -> Server {
        let mut child = strata()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("serve prints its address").unwrap();
            if let Some(rest) = line.strip_prefix("strata: serving the registry at http://") {
                break rest.split('/').next().unwrap().to_string();
            }
        };
        // Drained all along: a full pipe would block the server's logging.
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        if !drain {
            drop(lines);
            return Server { child, addr, log };
        }
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Server { child, addr, log }
    }

    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a response head");
        let head = String::from_utf8(raw[..end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().to_string();
        let headers = lines
            .map(|l| {
                let (k, v) = l.split_once(": ").unwrap();
                (k.to_ascii_lowercase(), v.to_string())
            })
            .collect();
        let response = Response {
            status,
            headers,
            body: raw[end + 4..].to_vec(),
        };
        assert_eq!(
            response.header("docker-distribution-api-version"),
            "registry/2.0",
            "{method} {path}"
        );
        response
    }

    fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[])
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Response {
    status: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    fn code(&self) -> u16 {
        self.status[9..12].parse().unwrap()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// The registry error code, with the status it came with.
    fn error(&self) -> (u16, String) {
        assert_eq!(self.header("content-type"), "application/json");
        let body = self.json();
        let error = &body["errors"][0];
        assert!(
            error["message"].is_string() && !error["detail"].is_null(),
            "{body}"
        );
        (self.code(), error["code"].as_str().unwrap().to_string())
    }
}

/// hello:a, :b, :c, :v1 (uncompressed layers, Docker type `.tar`),
/// team/zhello:v1 (zstd: OCI only), a zero-byte blob linked to hello.
fn setup(name: &str) -> (PathBuf, Server) {
    let dir = temp_dir(name);
    let closure = store_tree(&dir);
    for tag in ["v1", "c", "a", "b"] {
        publish(
            &dir,
            &closure,
            &["--name", "hello", "--tag", tag, "--compression", "none"],
        );
    }
    publish(
        &dir,
        &closure,
        &[
            "--name",
            "team/zhello",
            "--tag",
            "v1",
            "--compression",
            "zstd",
        ],
    );
    // A zero-byte blob of hello's, written in the store's layout (no image
    // has one: every layer holds at least tar's end blocks).
    let data = dir.join("data");
    fs::write(data.join("blobs/sha256").join(EMPTY_SHA), b"").unwrap();
    fs::write(
        data.join("records/repositories/hello/_blobs")
            .join(EMPTY_SHA),
        format!("sha256:{EMPTY_SHA}"),
    )
    .unwrap();
    let server = Server::start(&data);
    (dir, server)
}

#[test]
fn base_manifests_and_accept_negotiation() {
    let (dir, s) = setup("manifests");
    let base = s.get("/v2/");
    assert_eq!(base.status, "HTTP/1.1 200 OK");
    assert_eq!(base.body, b"{}");
    assert_eq!(base.header("content-type"), "application/json");

    let check = |r: &Response, media_type: &str| {
        assert_eq!(r.status, "HTTP/1.1 200 OK");
        assert_eq!(r.header("content-type"), media_type);
        assert_eq!(r.header("content-length"), r.body.len().to_string());
        assert_eq!(r.header("docker-content-digest"), sha256(&r.body));
        assert_eq!(r.json()["mediaType"], media_type);
    };
    let oci = s.get("/v2/hello/manifests/v1");
    check(&oci, OCI);
    let docker = s.request("GET", "/v2/hello/manifests/v1", &[("Accept", DOCKER)]);
    check(&docker, DOCKER);
    assert_eq!(
        docker.json()["layers"][0]["mediaType"],
        "application/vnd.docker.image.rootfs.diff.tar"
    );
    assert_eq!(
        docker.json()["config"]["mediaType"],
        "application/vnd.docker.container.image.v1+json"
    );
    // Same blobs in both forms.
    assert_eq!(
        oci.json()["layers"][0]["digest"],
        docker.json()["layers"][0]["digest"]
    );
    assert_eq!(
        oci.json()["config"]["digest"],
        docker.json()["config"]["digest"]
    );
    for (accept, expected) in [
        (format!("{OCI}, {DOCKER}"), OCI),
        (format!("{DOCKER}, {OCI}"), DOCKER),
        (format!("{DOCKER};q=0.5, {OCI}"), OCI),
        ("*/*".to_string(), OCI),
    ] {
        let r = s.request("GET", "/v2/hello/manifests/v1", &[("Accept", &accept)]);
        check(&r, expected);
    }
    // HEAD: the same headers, no body.
    for accept in [OCI, DOCKER] {
        let get = s.request("GET", "/v2/hello/manifests/v1", &[("Accept", accept)]);
        let head = s.request("HEAD", "/v2/hello/manifests/v1", &[("Accept", accept)]);
        assert_eq!(head.status, get.status);
        assert!(head.body.is_empty());
        for h in ["content-type", "content-length", "docker-content-digest"] {
            assert_eq!(head.header(h), get.header(h), "{h}");
        }
    }
    // By digest: that manifest in its own form, whatever the Accept.
    let by_digest = s.request(
        "GET",
        &format!(
            "/v2/hello/manifests/{}",
            docker.header("docker-content-digest")
        ),
        &[("Accept", OCI)],
    );
    assert_eq!(by_digest.body, docker.body);
    check(&by_digest, DOCKER);
    let head = s.request(
        "HEAD",
        &format!("/v2/hello/manifests/{}", sha256(&oci.body)),
        &[],
    );
    assert_eq!(head.header("content-length"), oci.body.len().to_string());
    // zstd layers: the OCI manifest even to a Docker-only client.
    let z = s.request("GET", "/v2/team/zhello/manifests/v1", &[("Accept", DOCKER)]);
    check(&z, OCI);
    assert_eq!(
        z.json()["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    // Unknown tags and digests, and a manifest of another name.
    for path in [
        "/v2/hello/manifests/nope".to_string(),
        format!("/v2/hello/manifests/sha256:{EMPTY_SHA}"),
        format!("/v2/hello/manifests/{}", z.header("docker-content-digest")),
        "/v2/nobody/manifests/v1".to_string(),
    ] {
        assert_eq!(
            s.get(&path).error(),
            (404, "MANIFEST_UNKNOWN".to_string()),
            "{path}"
        );
        let head = s.request("HEAD", &path, &[]);
        assert_eq!(head.code(), 404);
        assert!(head.body.is_empty());
    }
    let log = s.log.lock().unwrap().join("\n");
    assert!(
        log.contains("method=GET uri=/v2/ ") && log.contains("status=200"),
        "{log}"
    );
    assert!(
        log.contains("method=HEAD uri=/v2/hello/manifests/nope") && log.contains("status=404"),
        "{log}"
    );
    drop(s);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn blobs_with_ranges() {
    let (dir, s) = setup("blobs");
    let manifest = s.get("/v2/hello/manifests/v1").json();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let config = manifest["config"]["digest"].as_str().unwrap().to_string();
    let whole = s.get(&format!("/v2/hello/blobs/{layer}"));
    assert_eq!(whole.status, "HTTP/1.1 200 OK");
    assert_eq!(sha256(&whole.body), layer);
    let len = whole.body.len();
    assert!(len > 3000, "{len}");
    assert_eq!(whole.header("content-length"), len.to_string());
    assert_eq!(whole.header("content-type"), "application/octet-stream");
    assert_eq!(whole.header("accept-ranges"), "bytes");
    assert_eq!(whole.header("docker-content-digest"), layer);
    assert_eq!(whole.header("content-range"), "");
    let head = s.request("HEAD", &format!("/v2/hello/blobs/{layer}"), &[]);
    assert_eq!(head.status, whole.status);
    assert_eq!(head.header("content-length"), len.to_string());
    assert!(head.body.is_empty());

    let path = format!("/v2/hello/blobs/{layer}");
    for (range, start, end) in [
        ("bytes=500-1499".to_string(), 500, 1499),
        ("bytes=500-".to_string(), 500, len - 1),
        ("bytes=-500".to_string(), len - 500, len - 1),
        (
            format!("bytes={}-{}", len - 100, len + 5000),
            len - 100,
            len - 1,
        ),
        ("bytes=0-0".to_string(), 0, 0),
    ] {
        let r = s.request("GET", &path, &[("Range", &range)]);
        assert_eq!(r.status, "HTTP/1.1 206 Partial Content", "{range}");
        assert_eq!(r.body, whole.body[start..=end], "{range}");
        assert_eq!(r.header("content-length"), (end - start + 1).to_string());
        assert_eq!(
            r.header("content-range"),
            format!("bytes {start}-{end}/{len}")
        );
        assert_eq!(r.header("docker-content-digest"), layer);
    }
    for range in [
        "bytes=500-0".to_string(),
        format!("bytes={len}-"),
        format!("bytes={}-{}", len + 1, len + 9),
    ] {
        let r = s.request("GET", &path, &[("Range", &range)]);
        assert_eq!(
            r.error(),
            (416, "RANGE_NOT_SATISFIABLE".to_string()),
            "{range}"
        );
        assert_eq!(r.header("content-range"), format!("bytes */{len}"));
    }
    // A zero-byte blob: whole, it is empty; no range of it exists.
    let empty = format!("/v2/hello/blobs/sha256:{EMPTY_SHA}");
    let r = s.get(&empty);
    assert_eq!(
        (r.code(), r.header("content-length"), r.body.len()),
        (200, "0", 0)
    );
    let r = s.request("GET", &empty, &[("Range", "bytes=0-")]);
    assert_eq!(r.error(), (416, "RANGE_NOT_SATISFIABLE".to_string()));
    assert_eq!(r.header("content-range"), "bytes */0");
    // The config and the manifests are blobs of the name too.
    let r = s.get(&format!("/v2/hello/blobs/{config}"));
    assert_eq!((r.code(), sha256(&r.body)), (200, config.clone()));
    let oci = s.get("/v2/hello/manifests/v1");
    let r = s.get(&format!("/v2/hello/blobs/{}", sha256(&oci.body)));
    assert_eq!(r.body, oci.body);
    // Another name's blob, or none at all.
    let z = s.get("/v2/team/zhello/manifests/v1").json();
    let z_layer = z["layers"][0]["digest"].as_str().unwrap();
    for path in [
        format!("/v2/hello/blobs/{z_layer}"),
        format!("/v2/nobody/blobs/{layer}"),
        format!("/v2/hello/blobs/sha256:{}", "0".repeat(64)),
    ] {
        assert_eq!(
            s.get(&path).error(),
            (404, "BLOB_UNKNOWN".to_string()),
            "{path}"
        );
    }
    let r = s.get(&format!("/v2/team/zhello/blobs/{z_layer}"));
    assert_eq!(sha256(&r.body), z_layer);
    drop(s);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn tag_lists_page_and_referrers_are_empty() {
    let (dir, s) = setup("tags");
    let all = s.get("/v2/hello/tags/list");
    assert_eq!(all.code(), 200);
    assert_eq!(all.header("content-type"), "application/json");
    assert_eq!(
        all.json(),
        serde_json::json!({"name": "hello", "tags": ["a", "b", "c", "v1"]})
    );
    assert_eq!(all.header("link"), "");
    let first = s.get("/v2/hello/tags/list?n=2");
    assert_eq!(first.json()["tags"], serde_json::json!(["a", "b"]));
    assert_eq!(
        first.header("link"),
        r#"</v2/hello/tags/list?n=2&last=b>; rel="next""#
    );
    let second = s.get("/v2/hello/tags/list?n=2&last=b");
    assert_eq!(second.json()["tags"], serde_json::json!(["c", "v1"]));
    assert_eq!(second.header("link"), "");
    assert_eq!(
        s.get("/v2/hello/tags/list?n=0").json()["tags"],
        serde_json::json!([])
    );
    assert_eq!(
        s.get("/v2/team/zhello/tags/list").json(),
        serde_json::json!({"name": "team/zhello", "tags": ["v1"]})
    );
    assert_eq!(
        s.get("/v2/nobody/tags/list").error(),
        (404, "NAME_UNKNOWN".to_string())
    );
    assert_eq!(
        s.get("/v2/hello/tags/list?n=x").error(),
        (400, "PAGINATION_NUMBER_INVALID".to_string())
    );
    assert_eq!(
        s.get("/v2/hello/tags/list?last=..").error(),
        (400, "TAG_INVALID".to_string())
    );

    let r = s.get(&format!("/v2/hello/referrers/sha256:{EMPTY_SHA}"));
    assert_eq!(r.code(), 200);
    assert_eq!(
        r.header("content-type"),
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(
        r.body,
        br#"{"manifests":[],"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2}"#
    );
    assert_eq!(
        s.get("/v2/hello/referrers/sha256:x").error(),
        (400, "DIGEST_INVALID".to_string())
    );
    drop(s);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_names_tags_digests_traversal_and_writes_are_refused() {
    let (dir, s) = setup("errors");
    let records = dir.join("data/records");
    for (path, status, code) in [
        ("/v2/Hello/manifests/v1", 400, "NAME_INVALID"),
        ("/v2/../../etc/manifests/v1", 400, "NAME_INVALID"),
        ("/v2/hello/../zhello/manifests/v1", 400, "NAME_INVALID"),
        ("/v2/hello%2F..%2F..%2Fx/manifests/v1", 400, "NAME_INVALID"),
        ("/v2/hello%00/manifests/v1", 400, "NAME_INVALID"),
        ("/v2/%2e%2e/manifests/v1", 400, "NAME_INVALID"),
        ("/v2/hello/manifests/-v1", 400, "TAG_INVALID"),
        ("/v2/hello/manifests/..", 400, "TAG_INVALID"),
        ("/v2/hello/manifests/..%2F..%2Fv1", 400, "TAG_INVALID"),
        ("/v2/hello/manifests/v1%00", 400, "TAG_INVALID"),
        ("/v2/hello/blobs/sha256:abc", 400, "DIGEST_INVALID"),
        ("/v2/hello/blobs/sha256:..%2F..%2Fx", 400, "DIGEST_INVALID"),
        ("/v2/hello/blobs/sha256:%00", 400, "DIGEST_INVALID"),
        ("/v2/hello/manifests/sha256:ABC", 400, "DIGEST_INVALID"),
        ("/v2/hello/elsewhere/v1", 404, "UNSUPPORTED"),
    ] {
        assert_eq!(s.get(path).error(), (status, code.to_string()), "{path}");
    }
    for method in ["PUT", "POST", "PATCH", "DELETE"] {
        for path in ["/v2/", "/v2/hello/manifests/v1", "/v2/hello/blobs/uploads/"] {
            let r = s.request(method, path, &[("Content-Length", "0")]);
            assert_eq!(
                r.error(),
                (405, "UNSUPPORTED".to_string()),
                "{method} {path}"
            );
        }
    }
    // Nothing was written and the image is intact.
    assert!(!records.join("repositories/etc").exists());
    assert_eq!(s.get("/v2/hello/manifests/v1").code(), 200);
    drop(s);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn build_needs_an_output_or_publish() {
    let dir = temp_dir("usage");
    let closure = store_tree(&dir);
    let out = strata().arg("build").arg(&closure).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--output"));
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn requests_succeed_after_the_log_reader_went_away() {
    let dir = temp_dir("closed-log");
    let closure = store_tree(&dir);
    publish(&dir, &closure, &["--name", "hello", "--tag", "v1"]);
    let s = Server::start_with(&dir.join("data"), false);
    for _ in 0..3 {
        assert_eq!(s.get("/v2/hello/manifests/v1").code(), 200);
    }
    drop(s);
    fs::remove_dir_all(dir).unwrap();
}
