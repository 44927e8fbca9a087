//! Finding the previous plan's paths in this closure.
//!
//! A Nix rebuild of a dependency gives a path a new hash but keeps its name
//! (`/nix/store/<new hash>-openssl-3.0.17`). Matching the previous plan by
//! exact path would lose every layer holding a rebuilt path, and the paths
//! around it would be grouped afresh, changing layers that did not need to
//! change. So a previous path is found by its exact path first, then by its
//! name when exactly one path in the closure has that name.

use std::cell::OnceCell;

use rustc_hash::FxHashMap;

use crate::graph::{Graph, NodeId};
use crate::store_path::StorePath;

/// Looks up previous-plan paths in a graph.
pub struct PreviousPaths<'g> {
    graph: &'g Graph,
    /// Name → node, `None` when several paths share the name.
    /// Made at the first lookup by name: most plans never make one (no
    /// `--previous`, no `--fleet`, or every path found as it is).
    by_name: OnceCell<FxHashMap<&'g str, Option<NodeId>>>,
}

impl<'g> PreviousPaths<'g> {
    /// Indexes `graph`'s paths by name.
    pub fn new(graph: &'g Graph) -> Self {
        PreviousPaths {
            graph,
            by_name: OnceCell::new(),
        }
    }

    /// Every name of the graph, with its node when only one path has it.
    fn by_name(&self) -> &FxHashMap<&'g str, Option<NodeId>> {
        self.by_name.get_or_init(|| {
            let graph = self.graph;
            let mut by_name = FxHashMap::default();
            by_name.reserve(graph.len());
            for id in 0..graph.len() {
                by_name
                    .entry(graph.name(id))
                    .and_modify(|slot| *slot = None)
                    .or_insert(Some(id));
            }
            by_name
        })
    }

    /// The node that `path` (from the previous plan) is now, if any.
    pub fn find(&self, path: &StorePath) -> Option<NodeId> {
        self.graph.find(path).or_else(|| {
            if path.store_dir() != self.graph.store_dir() {
                return None;
            }
            self.by_name().get(path.name()).copied().flatten()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::PathEntry;

    fn entry(path: &str) -> PathEntry {
        crate::testutil::entry(path, 1, &[])
    }

    fn hash(c: char) -> String {
        std::iter::repeat_n(c, 32).collect()
    }

    #[test]
    fn rebuilt_paths_are_found_by_name_unless_the_name_is_ambiguous() {
        let graph = Graph::new(
            vec![
                entry(&format!("/nix/store/{}-openssl-3.0", hash('a'))),
                entry(&format!("/nix/store/{}-zlib-1.3", hash('b'))),
                entry(&format!("/nix/store/{}-zlib-1.3", hash('c'))),
            ],
            None,
            "/nix/store",
        )
        .unwrap();
        let previous = PreviousPaths::new(&graph);
        let path = |c: char, name: &str| -> StorePath {
            format!("/nix/store/{}-{name}", hash(c)).parse().unwrap()
        };
        let exact = path('a', "openssl-3.0");
        let id = graph.find(&exact).unwrap();
        assert_eq!(previous.find(&exact), Some(id));
        assert_eq!(previous.find(&path('d', "openssl-3.0")), Some(id));
        // Two zlibs: only the exact path says which.
        let zlib = path('c', "zlib-1.3");
        assert_eq!(previous.find(&zlib), graph.find(&zlib));
        assert_eq!(previous.find(&path('f', "zlib-1.3")), None);
        assert_eq!(previous.find(&path('a', "curl-8.0")), None);
        // Another store directory is another store.
        let elsewhere: StorePath = format!("/gnu/store/{}-openssl-3.0", hash('d'))
            .parse()
            .unwrap();
        assert_eq!(previous.find(&elsewhere), None);
    }
}
