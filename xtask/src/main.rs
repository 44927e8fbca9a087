//! `cargo run -p xtask -- web [--debug]`: builds the web UI into `web/dist`
//! (strata-web for wasm32, its JS glue by wasm-bindgen, and the page), and
//! the planner's JS API into `web/dist/api`. No Trunk or wasm-bindgen CLI
//! needed: the glue comes from `wasm-bindgen-cli-support`, pinned to the
//! same version as the wasm-bindgen the crates link.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

use anyhow::{bail, Context, Result};
use wasm_bindgen_cli_support::Bindgen;

const TARGET: &str = "wasm32-unknown-unknown";

fn main() -> Result<()> {
    let args: Vec<String> = env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("web") => web(args.iter().any(|a| a == "--debug")),
        _ => bail!("usage: cargo run -p xtask -- web [--debug]"),
    }
}

/// The repository root (xtask's manifest is one level down). Read from the
/// variable `cargo run` sets, not from `env!`: with a target directory
/// shared between clones, Cargo can reuse an xtask built in another clone,
/// whose compile-time path points there (see tests/src/lib.rs, `repo`).
fn repo() -> PathBuf {
    let manifest = env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    Path::new(&manifest)
        .parent()
        .expect("xtask/ is inside the repository")
        .to_path_buf()
}

fn web(debug: bool) -> Result<()> {
    let repo = repo();
    let profile = if debug { "debug" } else { "wasm-release" };
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut build = Command::new(cargo);
    build
        .current_dir(&repo)
        .args(["build", "--target", TARGET])
        .args(["-p", "strata-web", "-p", "strata-planner-wasm"]);
    if !debug {
        build.args(["--profile", "wasm-release"]);
    }
    let status = build.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build for {TARGET} failed");
    }
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|d| if d.is_absolute() { d } else { repo.join(d) })
        .unwrap_or_else(|| repo.join("target"));
    let wasm_dir = target_dir.join(TARGET).join(profile);
    let dist = repo.join("web/dist");
    // Build beside, then swap in: a server never sees half a UI.
    let staging = repo.join("web/dist.tmp");
    if staging.exists() {
        fs::remove_dir_all(&staging)?;
    }
    fs::create_dir_all(&staging)?;
    bindgen(&wasm_dir.join("strata_web.wasm"), &staging, debug)?;
    bindgen(
        &wasm_dir.join("strata_planner_wasm.wasm"),
        &staging.join("api"),
        debug,
    )?;
    for file in ["index.html", "style.css", "strata-planner.js", "worker.js"] {
        fs::copy(repo.join("web").join(file), staging.join(file))
            .with_context(|| format!("copying web/{file}"))?;
    }
    if dist.exists() {
        fs::remove_dir_all(&dist)?;
    }
    fs::rename(&staging, &dist)?;
    eprintln!("xtask: the web UI is in {}", dist.display());
    Ok(())
}

/// JS glue for one wasm module, as `wasm-bindgen --target web` writes it.
fn bindgen(wasm: &Path, out: &Path, debug: bool) -> Result<()> {
    Bindgen::new()
        .input_path(wasm)
        .web(true)?
        .typescript(true)
        .omit_default_module_path(false)
        .debug(debug)
        .remove_name_section(!debug)
        .remove_producers_section(true)
        .generate(out)
        .with_context(|| format!("wasm-bindgen on {}", wasm.display()))
}
