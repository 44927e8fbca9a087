//! Pull simulation: how many bytes clients download for a set of plans.
//!
//! A scenario is a fleet of images seen at several revisions. A layer is
//! identified by its exact set of store paths (its tar, hence its digest, is
//! a function of that set), so a client reuses a layer only when it pulled
//! one with the same set before. Figures, each also as a ratio to its lower
//! bound (one layer per store path, where only new paths are ever pulled):
//!
//! - `fleet`: a node pulls every image of one revision (distinct layers),
//!   summed over revisions;
//! - `update`: a node holding every image of revision r-1 pulls revision r;
//! - `image`: each image alone updated from r-1 to r, summed over images.
//!
//! This is `shared/bench/pullsim.py`'s arithmetic exactly, so both give the
//! same figures on the same plans.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::plan::Layer;

/// One image's layers at one revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImagePlan {
    /// The image's name (the same at every revision).
    pub image: String,
    /// Its layers; `narSizes` must be present.
    pub layers: Vec<Layer>,
}

/// Every image of the fleet at one revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Revision {
    /// The images.
    pub images: Vec<ImagePlan>,
}

/// Bytes pulled and the bound for one figure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Bytes pulled with the plans.
    pub bytes: u64,
    /// Bytes pulled with one layer per path (the lower bound).
    pub bound: u64,
    /// `bytes / bound`; absent when the bound is zero.
    pub ratio: Option<f64>,
}

impl Figure {
    fn new(bytes: u64, bound: u64) -> Figure {
        let ratio = (bound > 0).then(|| bytes as f64 / bound as f64);
        Figure {
            bytes,
            bound,
            ratio,
        }
    }
}

/// The three figures and some context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    /// A node pulls every image of a revision, summed over revisions.
    pub fleet: Figure,
    /// A node with revision r-1 of every image pulls revision r.
    pub update: Figure,
    /// Each image alone updated from r-1 to r.
    pub image: Figure,
    /// Most layers any image had.
    pub max_layers: usize,
    /// Number of revisions.
    pub revisions: usize,
    /// Number of distinct images.
    pub images: usize,
}

/// A set of plans cannot be simulated.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimulateError {
    /// A layer has no `narSizes`, so its paths' sizes are unknown.
    #[error("revision {revision}, image {image}, layer {layer}: no narSizes (plan made by an old tool?)")]
    MissingSizes {
        /// Revision index.
        revision: usize,
        /// Image name.
        image: String,
        /// Layer index.
        layer: usize,
    },
    /// Two plans of one revision disagree on a path's size.
    #[error("revision {revision}: {path} has size {first} in one plan and {second} in another")]
    SizeConflict {
        /// Revision index.
        revision: usize,
        /// The path.
        path: String,
        /// One size.
        first: u64,
        /// The other.
        second: u64,
    },
    /// An image appears twice in one revision.
    #[error("revision {revision}: image {image} appears twice")]
    DuplicateImage {
        /// Revision index.
        revision: usize,
        /// Image name.
        image: String,
    },
}

type LayerKey = BTreeSet<u32>;

/// One revision with paths interned to numbers.
struct Interned {
    /// Image name -> its distinct layers.
    plans: BTreeMap<String, HashSet<LayerKey>>,
    /// Image name -> its paths.
    paths: BTreeMap<String, HashSet<u32>>,
}

/// Simulates pulls over revisions (oldest first).
pub fn simulate(revisions: &[Revision]) -> Result<Figures, SimulateError> {
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let mut sizes: Vec<HashMap<u32, u64>> = Vec::new();
    let mut interned: Vec<Interned> = Vec::new();
    let mut max_layers = 0;
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for (r, revision) in revisions.iter().enumerate() {
        let mut rev_sizes: HashMap<u32, u64> = HashMap::new();
        let mut rev = Interned {
            plans: BTreeMap::new(),
            paths: BTreeMap::new(),
        };
        for image in &revision.images {
            names.insert(&image.image);
            max_layers = max_layers.max(image.layers.len());
            let mut layers = HashSet::new();
            let mut paths = HashSet::new();
            for (l, layer) in image.layers.iter().enumerate() {
                if layer.paths.is_empty() {
                    continue;
                }
                if layer.nar_sizes.len() != layer.paths.len() {
                    return Err(SimulateError::MissingSizes {
                        revision: r,
                        image: image.image.clone(),
                        layer: l,
                    });
                }
                let mut key = LayerKey::new();
                for (path, &size) in layer.paths.iter().zip(&layer.nar_sizes) {
                    let next = ids.len() as u32;
                    let id = *ids.entry(path.as_str()).or_insert(next);
                    if let Some(&first) = rev_sizes.get(&id) {
                        if first != size {
                            return Err(SimulateError::SizeConflict {
                                revision: r,
                                path: path.to_string(),
                                first,
                                second: size,
                            });
                        }
                    }
                    rev_sizes.insert(id, size);
                    key.insert(id);
                    paths.insert(id);
                }
                layers.insert(key);
            }
            if rev.plans.insert(image.image.clone(), layers).is_some() {
                return Err(SimulateError::DuplicateImage {
                    revision: r,
                    image: image.image.clone(),
                });
            }
            rev.paths.insert(image.image.clone(), paths);
        }
        sizes.push(rev_sizes);
        interned.push(rev);
    }

    let (mut fleet_b, mut fleet_lb, mut upd_b, mut upd_lb, mut img_b, mut img_lb) =
        (0, 0, 0, 0, 0, 0);
    for (r, rev) in interned.iter().enumerate() {
        let size = |layer: &LayerKey| -> u64 { layer.iter().map(|p| sizes[r][p]).sum() };
        let distinct: HashSet<&LayerKey> = rev.plans.values().flatten().collect();
        fleet_b += distinct.iter().map(|l| size(l)).sum::<u64>();
        let all_paths: HashSet<u32> = rev.paths.values().flatten().copied().collect();
        fleet_lb += all_paths.iter().map(|p| sizes[r][p]).sum::<u64>();
        if r == 0 {
            continue;
        }
        let prev = &interned[r - 1];
        let prev_layers: HashSet<&LayerKey> = prev.plans.values().flatten().collect();
        let prev_paths: HashSet<u32> = prev.paths.values().flatten().copied().collect();
        upd_b += distinct
            .iter()
            .filter(|l| !prev_layers.contains(*l))
            .map(|l| size(l))
            .sum::<u64>();
        upd_lb += all_paths
            .iter()
            .filter(|p| !prev_paths.contains(p))
            .map(|p| sizes[r][p])
            .sum::<u64>();
        let empty_layers = HashSet::new();
        let empty_paths = HashSet::new();
        for (image, layers) in &rev.plans {
            let old = prev.plans.get(image).unwrap_or(&empty_layers);
            img_b += layers
                .iter()
                .filter(|l| !old.contains(*l))
                .map(size)
                .sum::<u64>();
            let old_paths = prev.paths.get(image).unwrap_or(&empty_paths);
            img_lb += rev.paths[image]
                .iter()
                .filter(|p| !old_paths.contains(p))
                .map(|p| sizes[r][p])
                .sum::<u64>();
        }
    }
    Ok(Figures {
        fleet: Figure::new(fleet_b, fleet_lb),
        update: Figure::new(upd_b, upd_lb),
        image: Figure::new(img_b, img_lb),
        max_layers,
        revisions: revisions.len(),
        images: names.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(paths: &[(&str, u64)]) -> Layer {
        Layer {
            paths: paths
                .iter()
                .map(|(p, _)| {
                    format!("/nix/store/{}-{p}", "0".repeat(32))
                        .parse()
                        .unwrap()
                })
                .collect(),
            size: paths.iter().map(|(_, s)| s).sum(),
            nar_sizes: paths.iter().map(|(_, s)| *s).collect(),
            ..Layer::default()
        }
    }

    fn image(name: &str, layers: Vec<Layer>) -> ImagePlan {
        ImagePlan {
            image: name.to_string(),
            layers,
        }
    }

    #[test]
    fn per_path_layers_meet_the_bound_and_one_layer_does_not() {
        let r0 = Revision {
            images: vec![
                image("a", vec![layer(&[("libc", 10)]), layer(&[("a", 1)])]),
                image("b", vec![layer(&[("libc", 10)]), layer(&[("b", 2)])]),
            ],
        };
        let r1 = Revision {
            images: vec![
                image("a", vec![layer(&[("libc", 10)]), layer(&[("a2", 3)])]),
                image("b", vec![layer(&[("libc", 10)]), layer(&[("b", 2)])]),
            ],
        };
        let f = simulate(&[r0, r1]).unwrap();
        assert_eq!((f.fleet.bytes, f.fleet.bound), (13 + 15, 13 + 15));
        assert_eq!((f.update.bytes, f.update.bound), (3, 3));
        assert_eq!((f.image.bytes, f.image.bound), (3, 3));

        let single = |r: &[(&str, u64)], s: &[(&str, u64)]| Revision {
            images: vec![image("a", vec![layer(r)]), image("b", vec![layer(s)])],
        };
        let f = simulate(&[
            single(&[("libc", 10), ("a", 1)], &[("libc", 10), ("b", 2)]),
            single(&[("libc", 10), ("a2", 3)], &[("libc", 10), ("b", 2)]),
        ])
        .unwrap();
        assert_eq!(f.fleet.bytes, 11 + 12 + 13 + 12);
        assert_eq!(f.update.bytes, 13);
        assert_eq!(f.image.ratio, Some(13.0 / 3.0));
    }

    #[test]
    fn missing_sizes_name_the_image() {
        let mut l = layer(&[("x", 1)]);
        l.nar_sizes.clear();
        let err = simulate(&[Revision {
            images: vec![image("web", vec![l])],
        }])
        .unwrap_err();
        assert!(err.to_string().contains("image web, layer 0"), "{err}");
    }
}
