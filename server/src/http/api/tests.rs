//! The API in-process (`oneshot`), over the golden test's fixed store.

use std::path::PathBuf;
use std::time::Duration;

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use strata_planner::{parse_closure, parse_popularity, plan_closure, Algorithm, PlanOptions};
use tower::ServiceExt as _;

use super::*;
use crate::builds::{BuildRequest, ImageConfig, QueueOptions, Status};
use crate::examples::Examples;
use crate::image::golden_tests::{fixed_store, GREETING, HELLO};
use crate::image::layer::NixStore;
use crate::store::{BlobStore as _, FsStore};

struct Server {
    app: Router,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The API over the golden test's fixed store, in a temp dir.
fn server(name: &str, token: Option<&str>) -> Server {
    let dir = std::env::temp_dir().join(format!("strata-api-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    fixed_store(&dir);
    let store = Arc::new(FsStore::open(dir.join("data")).unwrap());
    let queue = BuildQueue::new(
        store,
        QueueOptions {
            nix: NixStore {
                store_dir: "/nix/store".to_string(),
                root: Some(dir.clone()),
            },
            jobs: 1,
            max_queued: 4,
            threads: 1,
        },
    );
    let state = ApiState {
        queue,
        store_dir: "/nix/store".into(),
        token: token.map(Into::into),
        max_body: 64 * 1024,
        body_timeout: Duration::from_millis(300),
        examples: Arc::new(examples(&dir)),
    };
    Server {
        app: routes(state),
        dir,
    }
}

/// Two example closures: the fixed store's (buildable) and one whose
/// path is in no store here.
fn examples(dir: &std::path::Path) -> Examples {
    let folder = dir.join("examples");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("golden.json"), closure().to_string()).unwrap();
    let absent = serde_json::json!([{"path": ABSENT, "narSize": 5, "references": []}]);
    std::fs::write(folder.join("debian.closure.json"), absent.to_string()).unwrap();
    Examples::load(&[folder], "/nix/store").unwrap()
}

const ABSENT: &str = "/nix/store/2d2mfgw3cqa8dp1ymhy2sw0ychqdxbgy-absent-1.0";

fn closure() -> Value {
    serde_json::json!([
        {"path": HELLO, "narSize": 1, "references": [GREETING]},
        {"path": GREETING, "narSize": 2, "references": []},
    ])
}

/// A request with a text body; the status and the body as text.
async fn call(app: &Router, method: &str, uri: &str, body: &str) -> (StatusCode, String) {
    let (status, _, bytes) = exchange(app, method, uri, &[], Body::from(body.to_string())).await;
    (status, String::from_utf8(bytes).unwrap())
}

/// A request with headers and no body; the status, headers and body bytes.
async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    exchange(app, method, uri, headers, Body::empty()).await
}

async fn exchange(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Body,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (parts.status, parts.headers, bytes.to_vec())
}

async fn wait_done(app: &Router, id: &str) -> Status {
    for _ in 0..500 {
        let (code, body) = call(app, "GET", &format!("/builds/{id}"), "").await;
        assert_eq!(code, StatusCode::OK, "{body}");
        let status: Status = serde_json::from_str(&body).unwrap();
        if status.state.is_final() {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("build {id} did not finish");
}

/// Every route `routes()` serves, as the document names it.
const ROUTES: [(&str, &[&str]); 10] = [
    ("/plan", &["post"]),
    ("/builds", &["post"]),
    ("/builds/{id}", &["get", "delete"]),
    ("/builds/{id}/events", &["get"]),
    ("/builds/{id}/image.tar", &["get", "head"]),
    ("/builds/{id}/image.oci.tar", &["get", "head"]),
    ("/examples", &["get"]),
    ("/examples/{name}", &["get"]),
    ("/available", &["post"]),
    ("/openapi.json", &["get"]),
];

/// Every error code; the match fails to compile when one is added.
fn every_code() -> Vec<Code> {
    use Code::*;
    let all = vec![
        BadRequest,
        InvalidJson,
        InvalidField,
        PathMissing,
        UnknownBuild,
        UnknownExample,
        NotReady,
        Unauthorized,
        TooLarge,
        Timeout,
        RangeNotSatisfiable,
        QueueFull,
        Internal,
    ];
    for code in &all {
        match code {
            BadRequest | InvalidJson | InvalidField | PathMissing | UnknownBuild
            | UnknownExample | NotReady | Unauthorized | TooLarge | Timeout
            | RangeNotSatisfiable | QueueFull | Internal => {}
        }
    }
    all
}

#[tokio::test]
async fn the_openapi_document_names_every_route_and_error_code_and_is_served() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    let documented: Vec<(&str, Vec<&str>)> = paths
        .iter()
        .map(|(path, ops)| {
            (
                path.as_str(),
                ops.as_object()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect(),
            )
        })
        .collect();
    for (path, methods) in ROUTES {
        let ops = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not documented"));
        for method in methods {
            assert!(
                ops.get(*method).is_some(),
                "{method} {path} is not documented"
            );
        }
    }
    assert_eq!(documented.len(), ROUTES.len(), "{documented:?}");
    let codes =
        &doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"];
    for code in every_code() {
        let name = serde_json::to_value(code).unwrap();
        assert!(
            codes.as_array().unwrap().contains(&name),
            "{name} is not in the document"
        );
    }
    let s = server("openapi", None);
    let (code, text) = call(&s.app, "GET", "/openapi.json", "").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), doc);
}

#[tokio::test]
async fn plan_gives_the_bytes_strata_plan_writes() {
    let s = server("plan", None);
    let body = serde_json::json!({"closure": closure(), "algorithm": "popularity", "budget": 2});
    let (code, text) = call(&s.app, "POST", "/plan", &body.to_string()).await;
    assert_eq!(code, StatusCode::OK, "{text}");
    let graph = parse_closure(&closure().to_string(), "/nix/store").unwrap();
    let expected = plan_closure(&graph, &PlanOptions::new(Algorithm::Popularity, 2)).unwrap();
    assert_eq!(text, expected.to_json());
    // The closure may also come as a string holding the JSON.
    let body = serde_json::json!({"closure": closure().to_string(), "algorithm": "popularity", "budget": 2});
    assert_eq!(
        call(&s.app, "POST", "/plan", &body.to_string()).await.1,
        text
    );
}

#[tokio::test]
async fn a_plan_reads_popularity_as_the_planner_does_and_names_a_bad_one() {
    let s = server("plan-popularity", None);
    // layers.go's header graph, where popularity splits E out (nixery).
    let path = |name: &str| {
        format!(
            "/nix/store/{:0>32}-{name}",
            name.len() + name.as_bytes()[0] as usize
        )
    };
    let mb = 1_000_000u64;
    let header: Value = [
        ("A", mb, vec!["E"]),
        ("B", 2 * mb, vec!["E"]),
        ("C", mb, vec!["E", "D"]),
        ("D", mb, vec!["F", "G"]),
        ("E", mb, vec![]),
        ("F", 10 * mb, vec![]),
        ("G", 150 * mb, vec![]),
    ]
    .iter()
    .map(|(name, size, refs)| {
        let refs: Vec<String> = refs.iter().map(|r| path(r)).collect();
        serde_json::json!({"path": path(name), "narSize": size, "references": refs})
    })
    .collect();
    let popularity = serde_json::json!({"E": 1000, "G": 10, "other-1": 9});
    let graph = parse_closure(&header.to_string(), "/nix/store").unwrap();
    for algorithm in [Algorithm::Nixery, Algorithm::Fleet] {
        let body = serde_json::json!({
            "closure": header, "algorithm": algorithm.name(), "budget": 3,
            "popularity": popularity,
        });
        let (code, text) = call(&s.app, "POST", "/plan", &body.to_string()).await;
        assert_eq!(code, StatusCode::OK, "{text}");
        let mut options = PlanOptions::new(algorithm, 3);
        let without = plan_closure(&graph, &options).unwrap().to_json();
        options.popularity = Some(parse_popularity(&popularity.to_string()).unwrap());
        let with = plan_closure(&graph, &options).unwrap().to_json();
        assert_eq!(text, with, "{algorithm}");
        // Only nixery reads it: there, the plan depends on it.
        assert_eq!(
            with != without,
            algorithm == Algorithm::Nixery,
            "{algorithm}"
        );
    }
    let body = serde_json::json!({
        "closure": closure(), "algorithm": "fleet", "budget": 1,
        "popularity": {"hello-1.0": -1},
    });
    let (code, text) = call(&s.app, "POST", "/plan", &body.to_string()).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{text}");
    assert!(
        text.contains("popularity") && text.contains("non-negative"),
        "{text}"
    );
}

#[tokio::test]
async fn a_build_gives_the_golden_image_once_however_often_it_is_asked() {
    let s = server("build", None);
    // The golden test's image: the same plan and config give the same
    // manifest digest as `image::build` there (and `strata build`).
    let body = serde_json::json!({
        "closure": closure(), "algorithm": "popularity", "budget": 2,
        "name": "golden", "tag": "t", "cmd": ["hello"], "arch": "amd64", "links": true,
    });
    let (code, text) = call(&s.app, "POST", "/builds", &body.to_string()).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    let id = answer["id"].as_str().unwrap().to_string();
    assert_eq!(answer["image"], "golden:t");
    assert_eq!(answer["status"], format!("/api/builds/{id}"));
    let status = wait_done(&s.app, &id).await;
    assert_eq!(status.state, crate::builds::State::Done, "{status:?}");
    let golden = std::fs::read_to_string(
        std::path::Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"))
            .join("testdata/golden/digests.gzip.txt"),
    )
    .unwrap();
    let manifest = status.manifest.clone().unwrap();
    assert!(
        golden.contains(&format!("manifest {manifest}")),
        "{manifest} not in {golden}"
    );
    assert_eq!(status.layers.total, 3);
    assert_eq!(status.layers.done, 3);
    // Asked again: the same build, done at once.
    let (code, text) = call(&s.app, "POST", "/builds", &body.to_string()).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    let again: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["state"], "done");
    // Its downloads: strata build's bytes, with HEAD, Range and ETag.
    let request: BuildRequest = {
        let graph = parse_closure(&closure().to_string(), "/nix/store").unwrap();
        let plan = plan_closure(&graph, &PlanOptions::new(Algorithm::Popularity, 2)).unwrap();
        let config: ImageConfig = serde_json::from_value(serde_json::json!({
            "name": "golden", "tag": "t", "cmd": ["hello"], "arch": "amd64", "links": true,
        }))
        .unwrap();
        BuildRequest {
            plan,
            config,
            nix_db: None,
        }
    };
    assert_eq!(request.id(), id, "the id is the request's content");
    let options = request
        .options(
            &NixStore {
                store_dir: "/nix/store".to_string(),
                root: Some(s.dir.clone()),
            },
            1,
        )
        .unwrap();
    let scratch = FsStore::open(s.dir.join("scratch")).unwrap();
    let image = crate::image::build(
        &request.plan,
        &options,
        &scratch,
        &crate::image::layer::NoProgress,
    )
    .unwrap();
    let expected = crate::image::archive::docker::write(&image, &scratch, Vec::new()).unwrap();
    let tar = format!("/builds/{id}/image.tar");
    let response = send(&s.app, "GET", &tar, &[]).await;
    assert_eq!(response.0, StatusCode::OK);
    assert_eq!(
        response.2, expected,
        "image.tar is strata build's docker-archive"
    );
    let length = response
        .1
        .get(header::CONTENT_LENGTH)
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(length, expected.len().to_string());
    let etag = response
        .1
        .get(header::ETAG)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let disposition = response.1.get(header::CONTENT_DISPOSITION).unwrap();
    assert_eq!(disposition, "attachment; filename=\"golden-t.tar\"");
    let head = send(&s.app, "HEAD", &tar, &[]).await;
    assert_eq!(head.0, StatusCode::OK);
    assert!(head.2.is_empty());
    assert_eq!(head.1.get(header::CONTENT_LENGTH).unwrap(), length);
    let part = send(&s.app, "GET", &tar, &[("range", "bytes=10-19")]).await;
    assert_eq!(part.0, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.2, expected[10..20]);
    let content_range = format!("bytes 10-19/{}", expected.len());
    assert_eq!(
        part.1.get(header::CONTENT_RANGE).unwrap().to_str().unwrap(),
        content_range
    );
    let past = send(&s.app, "GET", &tar, &[("range", "bytes=99999999-")]).await;
    assert_eq!(past.0, StatusCode::RANGE_NOT_SATISFIABLE);
    let cached = send(&s.app, "GET", &tar, &[("if-none-match", etag.as_str())]).await;
    assert_eq!(cached.0, StatusCode::NOT_MODIFIED);
    let oci = send(&s.app, "GET", &format!("/builds/{id}/image.oci.tar"), &[]).await;
    assert_eq!(oci.0, StatusCode::OK);
    let expected_oci =
        crate::image::archive::oci::write_archive(&image, &scratch, Vec::new()).unwrap();
    assert_eq!(oci.2, expected_oci);
    let other = send(&s.app, "GET", &format!("/builds/{id}/image.zip"), &[]).await;
    assert_eq!(other.0, StatusCode::NOT_FOUND);
    // Its events: the final status, once.
    let (code, text) = call(&s.app, "GET", &format!("/builds/{id}/events"), "").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(text.matches("event: status").count(), 1, "{text}");
    assert!(text.contains("\"state\":\"done\""), "{text}");
}

#[tokio::test]
async fn client_mistakes_are_4xx_naming_the_field() {
    let s = server("errors", None);
    let plan = |extra: Value| {
        let mut body = serde_json::json!({"closure": closure()});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body.to_string()
    };
    let missing = serde_json::json!({"closure": [
        {"path": "/nix/store/2d2mfgw3cqa8dp1ymhy2sw0ychqdxbgy-absent-1.0", "narSize": 1, "references": []}
    ]});
    let cases: Vec<(&str, String, StatusCode, &str)> = vec![
        ("/plan", String::new(), StatusCode::BAD_REQUEST, "empty"),
        ("/plan", "{nope".into(), StatusCode::BAD_REQUEST, "not JSON"),
        (
            "/plan",
            "[1]".into(),
            StatusCode::BAD_REQUEST,
            "JSON object",
        ),
        (
            "/plan",
            "{}".into(),
            StatusCode::BAD_REQUEST,
            "closure: is missing",
        ),
        (
            "/plan",
            plan(serde_json::json!({"algorithm": "magic"})),
            StatusCode::BAD_REQUEST,
            "algorithm",
        ),
        (
            "/plan",
            plan(serde_json::json!({"budget": 0})),
            StatusCode::BAD_REQUEST,
            "budget",
        ),
        (
            "/plan",
            plan(serde_json::json!({"colour": "red"})),
            StatusCode::BAD_REQUEST,
            "colour",
        ),
        (
            "/plan",
            serde_json::json!({"closure": [{"path": "/etc/passwd"}]}).to_string(),
            StatusCode::BAD_REQUEST,
            "closure",
        ),
        (
            "/builds",
            plan(serde_json::json!({"tag": "-bad"})),
            StatusCode::BAD_REQUEST,
            "tag",
        ),
        (
            "/builds",
            plan(serde_json::json!({"colour": "red"})),
            StatusCode::BAD_REQUEST,
            "colour",
        ),
        (
            "/builds",
            serde_json::json!({"plan": {"version": 9}}).to_string(),
            StatusCode::BAD_REQUEST,
            "plan",
        ),
        (
            "/builds",
            missing.to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "absent-1.0",
        ),
        (
            "/builds",
            format!("{{\"closure\": \"{}\"}}", "x".repeat(70 * 1024)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "max-body",
        ),
    ];
    for (uri, body, want, needle) in cases {
        let (code, text) = call(&s.app, "POST", uri, &body).await;
        assert_eq!(code, want, "{uri} {}: {text}", &body[..body.len().min(80)]);
        let error: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{uri}: {message} lacks {needle}");
        assert!(error["error"]["code"].is_string());
    }
    // A URL that does not decode is the client's mistake, in this API's form.
    for uri in [
        "/builds/%FF",
        "/builds/%FF/events",
        "/builds/x/%FF",
        "/examples/%FF",
    ] {
        let (code, text) = call(&s.app, "GET", uri, "").await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{uri}: {text}");
        assert!(text.contains("\"code\":\"bad_request\""), "{uri}: {text}");
    }
    for (method, uri) in [
        ("GET", "/builds/nope"),
        ("DELETE", "/builds/nope"),
        ("GET", "/builds/nope/events"),
    ] {
        let (code, text) = call(&s.app, method, uri, "").await;
        assert_eq!(code, StatusCode::NOT_FOUND, "{method} {uri}: {text}");
        assert!(text.contains("unknown_build"), "{text}");
    }
}

#[tokio::test]
async fn a_plan_given_with_its_closure_must_lay_it_out() {
    let s = server("plan-and-closure", None);
    let graph = parse_closure(&closure().to_string(), "/nix/store").unwrap();
    let plan = plan_closure(&graph, &PlanOptions::new(Algorithm::Auto, 3)).unwrap();
    let plan: Value = serde_json::from_str(&plan.to_json()).unwrap();
    let body = serde_json::json!({"plan": plan, "closure": closure(), "tag": "fits"});
    let (code, text) = call(&s.app, "POST", "/builds", &body.to_string()).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{text}");
    // The same plan against a closure with one path more.
    let mut other = closure();
    other.as_array_mut().unwrap().push(serde_json::json!(
        {"path": ABSENT, "narSize": 5, "references": []}
    ));
    let body = serde_json::json!({"plan": plan, "closure": other});
    let (code, text) = call(&s.app, "POST", "/builds", &body.to_string()).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{text}");
    assert!(
        text.contains("does not fit the closure") && text.contains(ABSENT),
        "{text}"
    );
}

#[tokio::test]
async fn examples_and_available_say_what_this_server_can_build() {
    let s = server("examples", None);
    let (code, text) = call(&s.app, "GET", "/examples", "").await;
    assert_eq!(code, StatusCode::OK, "{text}");
    let list: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list[0]["name"], "debian");
    assert_eq!(list[0]["buildable"], false);
    assert!(list[0]["why"].as_str().unwrap().contains(ABSENT), "{list}");
    assert_eq!(list[1]["name"], "golden");
    assert_eq!(list[1]["buildable"], true);
    assert_eq!(list[1]["paths"], 2);
    assert_eq!(list[1]["closure"], "/api/examples/golden");
    let (code, text) = call(&s.app, "GET", "/examples/golden", "").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), closure());
    let (code, text) = call(&s.app, "GET", "/examples/nope", "").await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{text}");
    assert!(text.contains("unknown_example"), "{text}");
    let (code, text) = call(
        &s.app,
        "POST",
        "/available",
        &serde_json::json!({"closure": closure()}).to_string(),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["buildable"],
        true
    );
    let absent = serde_json::json!([{"path": ABSENT, "narSize": 5, "references": []}]);
    let (_, text) = call(
        &s.app,
        "POST",
        "/available",
        &serde_json::json!({"closure": absent}).to_string(),
    )
    .await;
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["buildable"], false);
    assert_eq!(answer["missing"], serde_json::json!([ABSENT]));
    let (code, _) = call(
        &s.app,
        "POST",
        "/available",
        &serde_json::json!({"neither": 1}).to_string(),
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_a_408_not_a_held_request() {
    use futures_util::StreamExt as _;
    let s = server("slow", None);
    let first =
        futures_util::stream::iter([Ok::<_, Infallible>(Bytes::from_static(b"{\"closure\": "))]);
    let never = first.chain(futures_util::stream::pending());
    let request = Request::builder()
        .method("POST")
        .uri("/plan")
        .body(Body::from_stream(never))
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), s.app.clone().oneshot(request))
        .await
        .expect("answered well before the test gives up")
        .unwrap();
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&bytes).contains("\"code\":\"timeout\""));
}

#[tokio::test]
async fn writes_need_the_token_when_one_is_set_and_reads_do_not() {
    let s = server("token", Some("s3cret"));
    let body = serde_json::json!({"closure": closure()}).to_string();
    let (code, text) = call(&s.app, "POST", "/plan", &body).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "{text}");
    assert!(text.contains("unauthorized"), "{text}");
    let request = Request::builder()
        .method("POST")
        .uri("/plan")
        .header(header::AUTHORIZATION, "Bearer s3cret")
        .body(Body::from(body))
        .unwrap();
    assert_eq!(
        s.app.clone().oneshot(request).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        call(&s.app, "GET", "/builds/x", "").await.0,
        StatusCode::NOT_FOUND
    );
}

/// A build body: the test closure planned with `algorithm` at budget 2,
/// and `extra`'s fields.
fn closure_body(algorithm: &str, extra: Value) -> String {
    let mut body = serde_json::json!({"closure": closure(), "algorithm": algorithm, "budget": 2});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body.to_string()
}

/// The id of an accepted build, once it is done.
async fn built(app: &Router, accepted: &str) -> String {
    let answer: Value = serde_json::from_str(accepted).unwrap();
    let id = answer["id"].as_str().unwrap().to_string();
    let status = wait_done(app, &id).await;
    assert_eq!(status.state, crate::builds::State::Done, "{status:?}");
    id
}

#[tokio::test]
async fn builds_planned_with_fleet_know_the_images_built_before() {
    let s = server("fleet", None);
    let build = |extra: Value| closure_body("fleet", extra);
    let recorded = |name: &str| -> Value {
        let store = FsStore::open(s.dir.join("data")).unwrap();
        let bytes = store.get_record(&format!("plans/{name}")).unwrap().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    // The first image: nothing known yet, planned as `strata plan` does.
    let first = build(serde_json::json!({"name": "first"}));
    let (code, text) = call(&s.app, "POST", "/builds", &first).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{text}");
    let first_id = built(&s.app, &text).await;
    assert_eq!(recorded("first")["algorithm"].get("fleet"), None);
    // The next one knows it; without `fleet` it does not.
    let (_, text) = call(
        &s.app,
        "POST",
        "/builds",
        &build(serde_json::json!({"name": "lib/second"})),
    )
    .await;
    built(&s.app, &text).await;
    assert_eq!(recorded("lib+second")["algorithm"]["fleet"], 1);
    let (_, text) = call(
        &s.app,
        "POST",
        "/builds",
        &build(serde_json::json!({"name": "third", "fleet": false})),
    )
    .await;
    built(&s.app, &text).await;
    assert_eq!(recorded("third")["algorithm"].get("fleet"), None);
    // The first again: its own plan is its previous, nothing changed, so
    // the same layers, the same build.
    let (code, text) = call(&s.app, "POST", "/builds", &first).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    let again: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (again["id"].as_str(), again["state"].as_str()),
        (Some(first_id.as_str()), Some("done"))
    );
    // At another budget, its own plan is not its previous (kept whole, it
    // would hold the image at the old budget).
    let (_, text) = call(
        &s.app,
        "POST",
        "/builds",
        &build(serde_json::json!({"name": "first", "budget": 1})),
    )
    .await;
    built(&s.app, &text).await;
    let again = recorded("first");
    assert_eq!(again["algorithm"]["budget"], 1);
    assert_eq!(again["algorithm"].get("previous"), None);
    assert_eq!(again["layers"].as_array().unwrap().len(), 1);
    // A fleet that is not a boolean is the client's mistake.
    let (code, text) = call(
        &s.app,
        "POST",
        "/builds",
        &build(serde_json::json!({"fleet": "yes"})),
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(text.contains("fleet"), "{text}");
}

#[tokio::test]
async fn builds_take_perms_and_users_as_strata_build_does() {
    let s = server("perms", None);
    let body = |extra: Value| closure_body("popularity", extra);
    let good = body(serde_json::json!({
        "perms": [{"path": HELLO, "mode": "0750", "uid": 1000, "gid": 100}],
        "createUser": ["app:1000:100"],
        "compression": "none",
    }));
    let (code, text) = call(&s.app, "POST", "/builds", &good).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{text}");
    let id = built(&s.app, &text).await;
    let status = wait_done(&s.app, &id).await;
    // Two store path layers and the users' layer.
    assert_eq!(status.layers.total, 3, "{status:?}");
    let (code, _, tar) = send(&s.app, "GET", &format!("/builds/{id}/image.tar"), &[]).await;
    assert_eq!(code, StatusCode::OK);
    // Uncompressed, the users' layer shows through the archive.
    let line = b"app:x:1000:100:";
    assert!(tar.windows(line.len()).any(|w| w == line));
    for (extra, field) in [
        (
            serde_json::json!({"perms": [{"path": "relative", "uid": 1}]}),
            "perms",
        ),
        (serde_json::json!({"perms": {"path": HELLO}}), "perms"),
        (serde_json::json!({"createUser": ["nobody"]}), "createUser"),
    ] {
        let (code, text) = call(&s.app, "POST", "/builds", &body(extra)).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{text}");
        assert!(text.contains(field), "{text}");
    }
    // A rule that matches nothing fails the build, naming the rule.
    let nothing = body(serde_json::json!({"perms": [{"path": "/nix/store/none", "uid": 1}]}));
    let (_, text) = call(&s.app, "POST", "/builds", &nothing).await;
    let answer: Value = serde_json::from_str(&text).unwrap();
    let status = wait_done(&s.app, answer["id"].as_str().unwrap()).await;
    assert_eq!(status.state, crate::builds::State::Failed);
    assert!(status.error.unwrap().contains("matches nothing"));
}

#[tokio::test]
async fn builds_register_their_paths_in_a_nix_db_when_asked() {
    let s = server("nixdb", None);
    // The closure with the fixed store's NAR hashes, as Nix exports it.
    let mut with_hashes = closure();
    for entry in with_hashes.as_array_mut().unwrap() {
        let path = entry["path"].as_str().unwrap().to_string();
        let mut tar = crate::image::tar::LayerTar::new(Vec::new());
        let (hash, _) = tar
            .store_path(&path, &s.dir.join(path.trim_start_matches('/')))
            .unwrap();
        entry["narHash"] = hash.to_string().into();
    }
    let body = serde_json::json!({
        "closure": with_hashes, "algorithm": "popularity", "budget": 2,
        "nixDb": true, "compression": "none",
    });
    let (code, text) = call(&s.app, "POST", "/builds", &body.to_string()).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{text}");
    let id = built(&s.app, &text).await;
    let status = wait_done(&s.app, &id).await;
    // Two store path layers and the database's.
    assert_eq!(
        (status.layers.done, status.layers.total),
        (3, 3),
        "{status:?}"
    );
    let (_, _, tar) = send(&s.app, "GET", &format!("/builds/{id}/image.tar"), &[]).await;
    let name = b"nix/var/nix/db/db.sqlite";
    assert!(tar.windows(name.len()).any(|w| w == name));
    assert!(tar.windows(HELLO.len()).any(|w| w == HELLO.as_bytes()));
    // A plan alone has no references or hashes to register.
    let graph = parse_closure(&closure().to_string(), "/nix/store").unwrap();
    let plan = plan_closure(&graph, &PlanOptions::new(Algorithm::Popularity, 2)).unwrap();
    let alone = serde_json::json!({"plan": serde_json::from_str::<Value>(&plan.to_json()).unwrap(), "nixDb": true});
    let (code, text) = call(&s.app, "POST", "/builds", &alone.to_string()).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("nixDb"), "{text}");
}
