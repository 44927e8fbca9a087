//! The planner's [`Join`] on real threads: two halves of a job (a large
//! closure's text, read in two halves) side by side on a machine with more
//! than one core. The results are the same as one after the other.

use std::sync::{Mutex, OnceLock};

use strata_planner::Join;

/// Runs a [`Join`]'s second job on a thread of its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct Threads;

impl Join for Threads {
    fn at_once(&self) -> bool {
        static CORES: OnceLock<usize> = OnceLock::new();
        *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get())) > 1
    }

    fn run(&self, a: &mut (dyn FnMut() + Send), b: &mut (dyn FnMut() + Send)) {
        // Kept outside the thread, so a thread that cannot start leaves
        // the job to run here.
        let second = Mutex::new(b);
        let run_second = || (second.lock().unwrap_or_else(|e| e.into_inner()))();
        std::thread::scope(|scope| {
            let spawned = std::thread::Builder::new()
                .name("strata-join".into())
                .spawn_scoped(scope, run_second);
            a();
            match spawned {
                Ok(handle) => {
                    if let Err(panic) = handle.join() {
                        std::panic::resume_unwind(panic)
                    }
                }
                Err(_) => run_second(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_closure_reads_the_same_on_two_threads() {
        let path = |i: usize| format!("/nix/store/{i:032}-package-{i}");
        let entries: Vec<String> = (0..6000)
            .map(|i| {
                let references: Vec<String> = [i / 2, i / 3, i / 5]
                    .iter()
                    .filter(|&&r| r < i)
                    .map(|&r| format!("\"{}\"", path(r)))
                    .collect();
                // Signatures as Nix writes them, long enough that the
                // text is one the planner reads in halves.
                format!(
                    r#"{{"path": "{}", "narSize": {}, "narHash": "sha256:{}", "references": [{}], "deriver": "{}", "signatures": ["cache.example.org-1:{}"]}}"#,
                    path(i),
                    i * 7 + 1,
                    "0".repeat(52),
                    references.join(", "),
                    path(i).replace("package", "drv"),
                    "A".repeat(1400),
                )
            })
            .collect();
        let text = format!("{{\"graph\": [{}]}}", entries.join(",\n"));
        assert!(text.len() > 8 << 20, "large enough to be read in halves");
        let one = strata_planner::parse_closure(&text, "/nix/store").unwrap();
        let two = strata_planner::parse_closure_with(&text, "/nix/store", &Threads).unwrap();
        assert_eq!(one.nodes(), two.nodes());
        assert_eq!(one.roots(), two.roots());
        let mut owned = text.clone();
        let three =
            strata_planner::parse_closure_owned_with(&mut owned, "/nix/store", &Threads).unwrap();
        assert_eq!(owned, text, "the text is as it was");
        assert_eq!(one.nodes(), three.nodes());
        assert_eq!(one.roots(), three.roots());
    }

    #[test]
    fn both_jobs_run_and_their_results_keep_their_places() {
        let (a, b) =
            (&Threads as &dyn Join).join(|| (1..=10).sum::<u32>(), || "second".to_string());
        assert_eq!((a, b.as_str()), (55, "second"));
    }
}
