//! The API's OpenAPI document kept true: schemathesis (PyPI) reads
//! `/api/openapi.json` from a live `strata serve` and sends every route
//! generated requests, valid and not, checking that no client mistake
//! gets a 5xx and that every status, content type, header and body is
//! the one the document names. A finished build's id is handed to it, so
//! the routes under `/api/builds/{id}` see a real build too (and links
//! in the document carry POST /builds' ids to them).
//!
//! Its one excluded check, `positive_data_acceptance`, expects every
//! request the schema allows to succeed; a closure is any JSON to the
//! schema, and whether it is a closure only the planner can say.
//!
//! schemathesis is `$STRATA_VENV/bin/schemathesis`, by default in
//! `${XDG_CACHE_HOME:-~/.cache}/strata/venv`, where `scripts/setup.sh
//! test` installs it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use strata_tests::{cleanup, run_ok, stdout, temp_dir};

fn schemathesis() -> Option<PathBuf> {
    let venv = std::env::var_os("STRATA_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
            Some(cache.join("strata/venv"))
        })?;
    let program = venv.join("bin/schemathesis");
    if program.exists() {
        return Some(program);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing: run scripts/setup.sh test",
        program.display()
    );
    eprintln!(
        "skipped: {} is missing (scripts/setup.sh test installs it)",
        program.display()
    );
    None
}

#[test]
fn schemathesis_finds_the_api_as_its_openapi_document_says() {
    let Some(schemathesis) = schemathesis() else {
        return;
    };
    let dir = temp_dir("openapi");
    let hello = "/nix/store/0c0mfgw3cqa8dp1ymhy2sw0ychqdxbgy-hello-1.0";
    let root = dir.join("root");
    fs::create_dir_all(root.join(hello.trim_start_matches('/')).join("bin")).unwrap();
    fs::write(
        root.join(hello.trim_start_matches('/')).join("bin/hello"),
        "hi\n",
    )
    .unwrap();
    let closure = serde_json::json!([{"path": hello, "narSize": 1, "references": []}]);
    let examples = dir.join("examples");
    fs::create_dir_all(&examples).unwrap();
    fs::write(examples.join("hello.json"), closure.to_string()).unwrap();
    let (_server, url) = strata_tests::serve(
        [
            Path::new("--data-dir"),
            &dir.join("data"),
            Path::new("--store-root"),
            &root,
            Path::new("--examples"),
            &examples,
        ],
        "strata: serving the build API at ",
    );
    let api = url.trim_end_matches('/').to_string();
    // One finished build whose id the {id} routes get.
    let body = serde_json::json!({"closure": closure, "tag": "t"}).to_string();
    let answer = run_ok(
        Command::new("curl")
            .args(["-sS", "-X", "POST", "--data-binary", &body])
            .arg(format!("{api}/builds")),
    );
    let answer: serde_json::Value = serde_json::from_str(&stdout(&answer)).unwrap();
    let id = answer["id"].as_str().unwrap();
    for _ in 0..200 {
        let status = run_ok(
            Command::new("curl")
                .args(["-sS"])
                .arg(format!("{api}/builds/{id}")),
        );
        if stdout(&status).contains("\"state\":\"done\"") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let config = dir.join("schemathesis.toml");
    fs::write(&config, format!("[parameters]\nid = \"{id}\"\n")).unwrap();
    let out = Command::new(&schemathesis)
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{api}/openapi.json"), "--url", &api])
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
        ])
        .args(["--max-examples", "30", "--seed", "1", "--no-color"])
        .current_dir(&dir)
        .output()
        .expect("schemathesis runs");
    let report = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{report}"
    );
    assert!(
        report.contains("Tested: 12"),
        "not every operation was tested:\n{report}"
    );
    cleanup(&dir);
}
