//! The README's console examples, run as written, so they cannot drift
//! from what Strata prints (issue 11: a stale manifest digest and a
//! `nix path-info` line that failed on the Nix setup installs).
//!
//! Every ` ```console ` block of README.md runs in a fresh directory of
//! its own that links the repository's `examples`, `nix` and `tests`, with
//! the built `strata` first on `PATH` (and copied to `target/release/strata`,
//! as the README names it), a fresh layer cache, and a `podman` that keeps
//! its state in the directory and passes the flags this machine needs
//! (tests/README.md). Grammar of a block:
//!
//! ```text
//! $ command            run with bash, stdout and stderr merged, as a terminal shows them
//! > more               continues the command on a new line (a shell's PS2)
//! output line          expected output; `[..]` in a line matches any text
//! ...                  a line of its own: any number of lines
//! ```
//!
//! A command must succeed unless its expected output says otherwise
//! (`error: ...`). Blocks that use Nix or podman need them (a failure
//! under CI, a skip with a note elsewhere, as every real-tool test).

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

use strata_tests::{cleanup, repo, require, strata_path, temp_dir};

/// One `$` command and the output the README shows for it.
#[derive(Debug)]
struct Example {
    command: String,
    expected: Vec<String>,
}

/// The console blocks of a Markdown text, each a list of examples, with
/// the line number its fence opens on.
fn console_blocks(markdown: &str) -> Vec<(usize, Vec<Example>)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, Vec<Example>)> = None;
    for (n, line) in markdown.lines().enumerate() {
        match &mut current {
            None if line.trim_start() == "```console" => current = Some((n + 1, Vec::new())),
            None => {}
            Some(_) if line.trim_start().starts_with("```") => {
                blocks.push(current.take().expect("inside a block"));
            }
            Some((_, examples)) => {
                if let Some(command) = line.strip_prefix("$ ") {
                    examples.push(Example {
                        command: command.to_string(),
                        expected: Vec::new(),
                    });
                } else if let (Some(more), Some(last)) =
                    (line.strip_prefix("> "), examples.last_mut())
                {
                    last.command.push('\n');
                    last.command.push_str(more);
                } else if let Some(last) = examples.last_mut() {
                    last.expected.push(line.to_string());
                }
            }
        }
    }
    blocks
}

/// Whether `line` matches `pattern`, where `[..]` matches any text.
fn line_matches(pattern: &str, line: &str) -> bool {
    let (pattern, line) = (pattern.trim_end(), line.trim_end());
    let mut parts = pattern.split("[..]");
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// Whether `lines` match `patterns`, where a `...` pattern line matches
/// any number of lines.
fn output_matches(patterns: &[String], lines: &[&str]) -> bool {
    match patterns.split_first() {
        None => lines.is_empty(),
        Some((p, rest)) if p.trim() == "..." => {
            (0..=lines.len()).any(|skip| output_matches(rest, &lines[skip..]))
        }
        Some((p, rest)) => {
            lines.first().is_some_and(|l| line_matches(p, l)) && output_matches(rest, &lines[1..])
        }
    }
}

/// A directory to run a block in, set up as the module docs say.
fn workspace(dir: &Path) {
    for name in ["examples", "nix", "tests"] {
        symlink(repo().join(name), dir.join(name)).unwrap();
    }
    fs::create_dir_all(dir.join("bin")).unwrap();
    fs::create_dir_all(dir.join("target/release")).unwrap();
    symlink(strata_path(), dir.join("bin/strata")).unwrap();
    // A copy, not a link: Nix imports `./target/release/strata` into the
    // store as it is, and its builders cannot follow a link into /root.
    fs::copy(strata_path(), dir.join("target/release/strata")).unwrap();
    let podman = format!(
        "#!/bin/sh\n\
         state='{state}'\n\
         global=\"--root $state/root --runroot $state/run --runtime runc --storage-driver overlay\"\n\
         if [ \"$1\" = run ]; then\n\
         \x20 shift\n\
         \x20 exec /usr/bin/podman $global run --network none --ulimit nofile=1024:1024 --ulimit nproc=1000:1000 \"$@\"\n\
         fi\n\
         exec /usr/bin/podman $global \"$@\"\n",
        state = dir.join("podman").display()
    );
    let wrapper = dir.join("bin/podman");
    fs::write(&wrapper, podman).unwrap();
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
}

fn run_block(line: usize, examples: &[Example]) {
    let all = examples
        .iter()
        .map(|e| e.command.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let mut tools = vec![];
    if all.contains("nix-build") || all.contains("nix ") {
        tools.push("nix-build");
    }
    if all.contains("podman") {
        tools.extend(["podman", "runc"]);
    }
    if !require(&tools) {
        return;
    }
    let dir = temp_dir(&format!("readme-{line}"));
    workspace(&dir);
    let path = format!(
        "{}:{}",
        dir.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for example in examples {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("exec 2>&1\n{}", example.command))
            .current_dir(&dir)
            .env("PATH", &path)
            .env("CI", "true")
            .env("STRATA_CACHE", dir.join("cache"))
            // No binary cache (no network here); the experimental features
            // stay as a fresh Nix has them, so the README must pass its own.
            .env("NIX_CONFIG", "substituters =")
            .output()
            .expect("bash runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text.lines().collect();
        let wants_error = example.expected.iter().any(|l| l.starts_with("error: "));
        assert!(
            out.status.success() != wants_error,
            "README.md block at line {line}: `{}` exited with {}:\n{text}",
            example.command,
            out.status
        );
        assert!(
            output_matches(&example.expected, &lines),
            "README.md block at line {line}: `{}` printed:\n{text}\nbut the README shows:\n{}",
            example.command,
            example.expected.join("\n")
        );
    }
    cleanup(&dir);
}

#[test]
fn every_console_example_in_the_readme_prints_what_it_shows() {
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let blocks = console_blocks(&readme);
    assert!(blocks.len() >= 5, "only {} console blocks", blocks.len());
    for (line, examples) in &blocks {
        assert!(
            !examples.is_empty(),
            "README.md block at line {line} runs nothing"
        );
        run_block(*line, examples);
    }
}

#[test]
fn the_matcher_itself() {
    let p = |s: &str| s.lines().map(String::from).collect::<Vec<_>>();
    assert!(output_matches(&p("a\n...\nz"), &["a", "b", "c", "z"]));
    assert!(output_matches(&p("a\n...\nz"), &["a", "z"]));
    assert!(!output_matches(&p("a\n...\nz"), &["a", "b"]));
    assert!(output_matches(&p("sha256:[..] ok"), &["sha256:abc ok"]));
    assert!(!output_matches(&p("sha256:[..] ok"), &["sha256:abc no"]));
    assert!(!output_matches(&p("a"), &["a", "extra"]));
    assert!(line_matches("x [..] y [..]", "x 1 y 2"));
    assert!(!line_matches("x [..] y", "x 1 z"));
    let blocks = console_blocks("```console\n$ a \\\n> b\nout\n$ c\n```\n```sh\n$ no\n```\n");
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].1[0].command, "a \\\nb");
    assert_eq!(blocks[0].1[0].expected, ["out"]);
    assert!(blocks[0].1[1].expected.is_empty());
}
