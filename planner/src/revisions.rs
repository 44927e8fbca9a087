//! Planning a fleet's closures revision by revision, as a CI job does.
//!
//! Each image is planned with its own layers at the revision before as
//! `previous` (what a CI job that keeps its last plan has, and what
//! `shared/bench/pullsim.py` gives its planners), and, fleet-aware
//! ([`History::Fleet`]), with the latest plans of every image planned so
//! far as `fleet` (what pullsim.py gives as `{fleet}`). `strata simulate` and the
//! web UI's compare view both plan through [`RevisionPlanner`], so the same
//! closures and options give them the same figures.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::controls::{plan_closure, PlanOptions};
use crate::error::PlanError;
use crate::graph::Graph;
use crate::plan::{Layer, Plan};
use crate::simulate::{simulate, Figures, ImagePlan, Revision, SimulateError};

/// Whether each image is planned with its own plan of the revision before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum History {
    /// With it, as a CI job that keeps its last plan (`--previous`).
    #[default]
    Previous,
    /// Alone, as a job that keeps nothing between runs.
    Alone,
    /// With it and the latest plan of every image planned so far (as
    /// `--fleet`): what a registry, or a CI job building the whole fleet,
    /// knows. Images are planned in the order given, as they meet them.
    Fleet,
}

/// Plans images one revision after another, remembering each image's
/// latest layers.
#[derive(Debug, Clone, Default)]
pub struct RevisionPlanner {
    history: History,
    previous: BTreeMap<String, Vec<Layer>>,
    planned: usize,
}

impl RevisionPlanner {
    /// A planner that has seen no revision yet.
    pub fn new(history: History) -> Self {
        RevisionPlanner {
            history,
            ..RevisionPlanner::default()
        }
    }

    /// Closures planned so far.
    pub fn planned(&self) -> usize {
        self.planned
    }

    /// Plans one image's closure at the next revision with `options`, its
    /// layers at the revision before (if any, and unless planning
    /// [`History::Alone`]) as `previous` in place of theirs, and remembers
    /// the result.
    pub fn plan(
        &mut self,
        image: &str,
        graph: &Graph,
        options: &PlanOptions,
    ) -> Result<Plan, PlanError> {
        let mut options = options.clone();
        options.previous = match self.history {
            History::Previous | History::Fleet => self.previous.get(image).cloned(),
            History::Alone => None,
        };
        if self.history == History::Fleet {
            options.fleet = Some(self.previous.values().cloned().collect());
        }
        let plan = plan_closure(graph, &options)?;
        self.planned += 1;
        self.record(image, plan.layers.clone());
        Ok(plan)
    }

    /// Remembers an image's layers made elsewhere (a plan file), as the
    /// `previous` of its next revision.
    pub fn record(&mut self, image: &str, layers: Vec<Layer>) {
        self.previous.insert(image.to_string(), layers);
    }
}

/// One image's closure at one revision.
#[derive(Debug, Clone)]
pub struct ImageClosure {
    /// The image's name (the same at every revision).
    pub image: String,
    /// Its closure.
    pub graph: Graph,
}

/// A fleet of closures could not be planned or simulated.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FleetError {
    /// One image could not be planned.
    #[error("revision {revision}, image {image}: {source}")]
    Plan {
        /// Revision index.
        revision: usize,
        /// Image name.
        image: String,
        /// Why.
        source: PlanError,
    },
    /// The plans could not be simulated.
    #[error(transparent)]
    Simulate(#[from] SimulateError),
}

/// Every image's plan at every revision, and the pulls they cause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetPlans {
    /// Plans per revision, oldest first, images in the order given.
    pub revisions: Vec<Vec<Plan>>,
    /// The simulated pulls.
    pub figures: Figures,
}

impl FleetPlans {
    /// What [`History::Fleet`] planning handed over as `fleet` when it
    /// planned image `image` of revision `revision` (`revisions` as given
    /// to [`plan_fleet`]): the latest plan of every image planned before
    /// it, its own of the revision before included. With it (and the
    /// image's earlier plan as `previous`) the same plan is made again,
    /// as the web UI does for a fleet-aware row's plan changed by hand.
    pub fn fleet_before(
        &self,
        revisions: &[Vec<ImageClosure>],
        revision: usize,
        image: usize,
    ) -> Vec<Vec<Layer>> {
        let mut latest: BTreeMap<&str, &Plan> = BTreeMap::new();
        for (r, images) in revisions.iter().enumerate().take(revision + 1) {
            for (i, closure) in images.iter().enumerate() {
                if (r, i) == (revision, image) {
                    break;
                }
                if let Some(plan) = self.revisions.get(r).and_then(|plans| plans.get(i)) {
                    latest.insert(&closure.image, plan);
                }
            }
        }
        latest.into_values().map(|p| p.layers.clone()).collect()
    }
}

/// Plans every closure of every revision (oldest first) with `options`,
/// each image with its own previous layers or alone (`history`), and
/// simulates the pulls.
pub fn plan_fleet(
    revisions: &[Vec<ImageClosure>],
    options: &PlanOptions,
    history: History,
) -> Result<FleetPlans, FleetError> {
    let mut planner = RevisionPlanner::new(history);
    let mut plans = Vec::with_capacity(revisions.len());
    let mut simulated = Vec::with_capacity(revisions.len());
    for (r, images) in revisions.iter().enumerate() {
        let mut rev_plans = Vec::with_capacity(images.len());
        let mut rev = Revision::default();
        for closure in images {
            let plan = planner
                .plan(&closure.image, &closure.graph, options)
                .map_err(|source| FleetError::Plan {
                    revision: r,
                    image: closure.image.clone(),
                    source,
                })?;
            rev.images.push(ImagePlan {
                image: closure.image.clone(),
                layers: plan.layers.clone(),
            });
            rev_plans.push(plan);
        }
        plans.push(rev_plans);
        simulated.push(rev);
    }
    let figures = simulate(&simulated)?;
    Ok(FleetPlans {
        revisions: plans,
        figures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::Algorithm;
    use crate::input::parse_closure;

    fn closure(image: &str, entries: &[(&str, u64, &[&str])]) -> ImageClosure {
        let json: Vec<_> = entries
            .iter()
            .map(|(p, size, refs)| {
                serde_json::json!({
                    "path": format!("/nix/store/{p}"),
                    "narSize": size,
                    "references": refs.iter().map(|r| format!("/nix/store/{r}")).collect::<Vec<_>>(),
                })
            })
            .collect();
        let text = serde_json::Value::Array(json).to_string();
        ImageClosure {
            image: image.to_string(),
            graph: parse_closure(&text, "/nix/store").unwrap(),
        }
    }

    const LIBC: &str = "11111111111111111111111111111111-glibc-2.39";
    const HELLO: &str = "00000000000000000000000000000000-hello-2.12";
    const HELLO2: &str = "22222222222222222222222222222222-hello-2.13";

    #[test]
    fn each_image_gets_its_own_previous_layers() {
        let mut planner = RevisionPlanner::new(History::Previous);
        let options = PlanOptions::new(Algorithm::Fleet, 2);
        let c = closure("hello", &[(HELLO, 10, &[LIBC]), (LIBC, 20, &[])]);
        let mut plan = |image: &str| planner.plan(image, &c.graph, &options).unwrap();
        assert!(!plan("hello").algorithm.previous);
        assert!(plan("hello").algorithm.previous);
        assert!(!plan("other").algorithm.previous);
        assert_eq!(planner.planned(), 3);

        let mut alone = RevisionPlanner::new(History::Alone);
        for _ in 0..2 {
            let plan = alone.plan("hello", &c.graph, &options).unwrap();
            assert!(!plan.algorithm.previous);
        }
    }

    #[test]
    fn a_rebuilt_top_is_all_an_update_pulls_with_a_layer_per_path() {
        let revisions = vec![
            vec![closure("hello", &[(HELLO, 10, &[LIBC]), (LIBC, 20, &[])])],
            vec![closure("hello", &[(HELLO2, 12, &[LIBC]), (LIBC, 20, &[])])],
        ];
        let fleet = plan_fleet(
            &revisions,
            &PlanOptions::new(Algorithm::Fleet, 2),
            History::Previous,
        )
        .unwrap();
        assert_eq!(fleet.revisions.len(), 2);
        assert_eq!(fleet.figures.update.bytes, 12);
        assert_eq!(fleet.figures.update.ratio, Some(1.0));
        let one = plan_fleet(
            &revisions,
            &PlanOptions::new(Algorithm::Fleet, 1),
            History::Alone,
        )
        .unwrap();
        assert_eq!(one.figures.update.bytes, 32);
    }

    #[test]
    fn fleet_aware_planning_hands_over_every_images_latest_plan() {
        let mut planner = RevisionPlanner::new(History::Fleet);
        let options = PlanOptions::new(Algorithm::Fleet, 2);
        let c = closure("hello", &[(HELLO, 10, &[LIBC]), (LIBC, 20, &[])]);
        let first = planner.plan("hello", &c.graph, &options).unwrap();
        assert_eq!(first.algorithm.fleet, Some(0));
        let other = planner.plan("other", &c.graph, &options).unwrap();
        assert_eq!(other.algorithm.fleet, Some(1));
        assert!(!other.algorithm.previous);
        let again = planner.plan("hello", &c.graph, &options).unwrap();
        assert_eq!(
            (again.algorithm.fleet, again.algorithm.previous),
            (Some(2), true)
        );
        // An unchanged fleet: unchanged plans.
        assert_eq!(again.layers, first.layers);

        let revisions = vec![
            vec![
                c.clone(),
                closure("world", &[(HELLO2, 12, &[LIBC]), (LIBC, 20, &[])])
            ];
            3
        ];
        let aware = plan_fleet(&revisions, &options, History::Fleet).unwrap();
        let alone = plan_fleet(&revisions, &options, History::Previous).unwrap();
        assert!(aware
            .revisions
            .iter()
            .flatten()
            .all(|p| p.algorithm.fleet.is_some()));
        assert!(alone
            .revisions
            .iter()
            .flatten()
            .all(|p| p.algorithm.fleet.is_none()));
    }

    #[test]
    fn what_fleet_aware_planning_knew_plans_the_same_again() {
        let revisions = vec![
            vec![
                closure("hello", &[(HELLO, 10, &[LIBC]), (LIBC, 20, &[])]),
                closure("world", &[(HELLO2, 12, &[LIBC]), (LIBC, 20, &[])]),
            ],
            vec![closure(
                "world",
                &[(HELLO2, 12, &[LIBC]), (HELLO, 10, &[LIBC]), (LIBC, 20, &[])],
            )],
            vec![
                closure("hello", &[(HELLO, 10, &[LIBC]), (LIBC, 20, &[])]),
                closure("world", &[(HELLO2, 12, &[LIBC]), (LIBC, 20, &[])]),
            ],
        ];
        let options = PlanOptions::new(Algorithm::Fleet, 2);
        let aware = plan_fleet(&revisions, &options, History::Fleet).unwrap();
        let mut earlier: BTreeMap<&str, &Plan> = BTreeMap::new();
        for (r, images) in revisions.iter().enumerate() {
            for (i, c) in images.iter().enumerate() {
                let fleet = aware.fleet_before(&revisions, r, i);
                // The latest plan of every image planned before (its own
                // earlier one included), whatever its revision.
                assert_eq!(fleet.len(), earlier.len(), "revision {r}, image {i}");
                let mut again = options.clone();
                again.previous = earlier.get(c.image.as_str()).map(|p| p.layers.clone());
                again.fleet = Some(fleet);
                let plan = plan_closure(&c.graph, &again).unwrap();
                assert_eq!(plan, aware.revisions[r][i], "revision {r}, image {i}");
                earlier.insert(&c.image, &aware.revisions[r][i]);
            }
        }
    }

    #[test]
    fn a_failing_image_is_named_with_its_revision() {
        let revisions = vec![vec![closure("hello", &[(HELLO, 10, &[])])]];
        let err = plan_fleet(
            &revisions,
            &PlanOptions::new(Algorithm::Fleet, 0),
            History::Previous,
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("revision 0, image hello: "),
            "{err}"
        );
    }
}
