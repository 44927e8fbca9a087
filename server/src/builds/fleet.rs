//! The fleet a server knows: the latest plan of every image it built.
//!
//! `fleet` plans an image best knowing the other images' layers (see the
//! planner's `fleet` module): a registry serves them all, so it keeps the
//! plan of each image name's latest build as a record (`plans/<name>`,
//! `/` in the name as `+`) and hands them to the planner when the build
//! API plans a closure with `fleet`, as `strata plan --fleet DIR` takes
//! them. Images built through one server so share layers by construction.

use strata_planner::{Layer, Plan};

use crate::store::{BlobStore, StoreError};

const FOLDER: &str = "plans/";

/// The record of an image name's latest plan.
fn record_name(image: &str) -> String {
    format!("{FOLDER}{}", image.replace('/', "+"))
}

/// Keeps `plan` as the latest plan of image `image`.
pub fn record_plan(store: &dyn BlobStore, image: &str, plan: &Plan) -> Result<(), StoreError> {
    store.put_record(&record_name(image), plan.to_json().as_bytes())
}

/// One image's latest plan, as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetPlan {
    /// The image name.
    pub image: String,
    /// The budget it was planned with.
    pub budget: usize,
    /// Its layers.
    pub layers: Vec<Layer>,
}

/// The latest plan of every image built here, by image name (sorted). A
/// record that no longer reads as a plan is skipped with a warning: it
/// only costs the planner some knowledge.
pub fn read_fleet(store: &dyn BlobStore) -> Result<Vec<FleetPlan>, StoreError> {
    let mut plans = Vec::new();
    for leaf in store.list_records(FOLDER)? {
        let record = format!("{FOLDER}{leaf}");
        let Some(bytes) = store.get_record(&record)? else {
            continue;
        };
        // Records are full plans (`record_plan`): one read gives both.
        match std::str::from_utf8(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|text| Plan::from_json(text).map_err(|e| e.to_string()))
        {
            Ok(plan) => plans.push(FleetPlan {
                image: leaf.replace('+', "/"),
                budget: plan.algorithm.budget,
                layers: plan.layers,
            }),
            Err(e) => tracing::warn!(record, error = %e, "skipping a fleet plan"),
        }
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::FsStore;
    use strata_planner::{parse_closure, plan_closure, Algorithm, PlanOptions};

    #[test]
    fn the_latest_plan_of_each_image_is_kept_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        assert!(read_fleet(&store).unwrap().is_empty());
        let text = serde_json::json!([
            {"path": "/nix/store/0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a-hello-2.12", "narSize": 10,
             "references": ["/nix/store/1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b-glibc-2.39"]},
            {"path": "/nix/store/1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b-glibc-2.39", "narSize": 20, "references": []},
        ])
        .to_string();
        let graph = parse_closure(&text, "/nix/store").unwrap();
        let one = plan_closure(&graph, &PlanOptions::new(Algorithm::Fleet, 1)).unwrap();
        let two = plan_closure(&graph, &PlanOptions::new(Algorithm::Fleet, 2)).unwrap();
        record_plan(&store, "library/hello", &one).unwrap();
        record_plan(&store, "world", &one).unwrap();
        record_plan(&store, "library/hello", &two).unwrap();
        store.put_record("plans/broken", b"{not json").unwrap();
        let fleet = read_fleet(&store).unwrap();
        let names: Vec<&str> = fleet.iter().map(|p| p.image.as_str()).collect();
        assert_eq!(names, ["library/hello", "world"]);
        assert_eq!((fleet[0].budget, fleet[1].budget), (2, 1));
        let paths = |layers: &[Layer]| -> Vec<Vec<String>> {
            layers
                .iter()
                .map(|l| l.paths.iter().map(|p| p.to_string()).collect())
                .collect()
        };
        assert_eq!(paths(&fleet[0].layers), paths(&two.layers));
        assert_eq!(paths(&fleet[1].layers), paths(&one.layers));
    }
}
