//! The data behind the UI, kept free of the DOM so it is tested natively:
//! a fleet of closures at revisions (the bundled example or the user's
//! files) and the comparison of algorithms over it by simulated pulls.

use strata_planner::{
    parse_closure, parse_popularity, plan_fleet, Algorithm, Figure, FleetPlans, History,
    ImageClosure, PlanOptions, Popularity, DEFAULT_STORE_DIR,
};

/// One way of planning that the compare view measures: an algorithm, and
/// whether each image gets its plan of the revision before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planner {
    /// Its name on the page (`fleet`, `fleet-alone`, `auto`, ...), also in
    /// `data-testid`s and `?algorithm=`.
    pub key: &'static str,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// With or without each image's previous plan.
    pub history: History,
}

const fn planner(key: &'static str, algorithm: Algorithm, history: History) -> Planner {
    Planner {
        key,
        algorithm,
        history,
    }
}

/// What the compare view measures, in its order: `fleet` with
/// `--previous`, knowing the fleet (`--fleet`, as a registry does) and
/// alone (the peers use neither), then the peers. `pipeline` needs
/// a user-written pipeline, so it is not compared here.
pub const COMPARED: [Planner; 6] = [
    planner("fleet", Algorithm::Fleet, History::Previous),
    planner("fleet-aware", Algorithm::Fleet, History::Fleet),
    planner("fleet-alone", Algorithm::Fleet, History::Alone),
    planner("auto", Algorithm::Auto, History::Previous),
    planner("popularity", Algorithm::Popularity, History::Previous),
    planner("nixery", Algorithm::Nixery, History::Previous),
];

/// The compared planner with this key.
pub fn find_planner(key: &str) -> Option<Planner> {
    COMPARED.iter().copied().find(|p| p.key == key)
}

/// Closures of a fleet of images at one or more revisions, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Fleet {
    /// Where it came from, for people.
    pub name: String,
    /// Per revision, one closure per image.
    pub revisions: Vec<Vec<ImageClosure>>,
    /// The package set's Nixery-style popularity, for the algorithms that
    /// use it (`nixery`), as `strata simulate --popularity` takes it.
    pub popularity: Option<PopularityFile>,
    /// What it is, which decides what a new revision of files does to it.
    pub kind: FleetKind,
}

/// What a fleet is: opening files replaces the example or a single
/// closure, and adds a revision to closures added as revisions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FleetKind {
    /// The bundled example.
    Example,
    /// One closure opened on its own (a file, a paste, an example of the
    /// server, an address).
    Single,
    /// The user's revisions of files.
    #[default]
    Revisions,
}

/// A popularity file and where it came from.
#[derive(Debug, Clone)]
pub struct PopularityFile {
    /// Its name, for people.
    pub file: String,
    /// The counts.
    pub counts: Popularity,
    /// Whether it came with the example (and goes with it).
    pub bundled: bool,
}

impl Fleet {
    /// Names of the images of the newest revision.
    pub fn images(&self) -> Vec<String> {
        self.revisions
            .last()
            .map(|r| r.iter().map(|c| c.image.clone()).collect())
            .unwrap_or_default()
    }

    /// One line for people: where the fleet came from and its size.
    pub fn summary(&self) -> String {
        if self.kind == FleetKind::Single {
            return format!(
                "{}: one closure, {} store paths",
                self.name,
                self.path_count()
            );
        }
        let mut line = format!(
            "{}: {} images, {} revisions, {} distinct store paths",
            self.name,
            self.images().len(),
            self.revisions.len(),
            self.path_count()
        );
        if let Some(p) = &self.popularity {
            line += &format!("; popularity from {} ({} names)", p.file, p.counts.len());
        }
        line
    }

    /// One closure alone, as the page shows a closure opened on its own.
    pub fn single(closure: ImageClosure, name: String) -> Fleet {
        Fleet {
            name,
            revisions: vec![vec![closure]],
            popularity: None,
            kind: FleetKind::Single,
        }
    }

    /// Adds a revision of the user's closures; the first one replaces the
    /// example or a single closure (and its popularity, but not a
    /// popularity the user chose).
    pub fn add_user_revision(&mut self, revision: Vec<ImageClosure>) {
        if self.kind != FleetKind::Revisions {
            let popularity = self.popularity.take().filter(|p| !p.bundled);
            *self = Fleet {
                popularity,
                ..Fleet::default()
            };
        }
        self.revisions.push(revision);
        self.name = format!("your closures, {} revisions", self.revisions.len());
    }

    /// Distinct store paths over every revision.
    pub fn path_count(&self) -> usize {
        let mut paths: Vec<&str> = self
            .revisions
            .iter()
            .flatten()
            .flat_map(|c| (0..c.graph.len()).map(|id| c.graph.path(id).as_str()))
            .collect();
        paths.sort_unstable();
        paths.dedup();
        paths.len()
    }
}

/// The bundled example: five Debian-derived images at three revisions, as
/// in `examples/fleet` (regenerated by `examples/fleet/generate.py`).
pub fn example_fleet() -> Fleet {
    macro_rules! revision {
        ($r:literal) => {
            [
                (
                    "curl",
                    include_str!(concat!("../../examples/fleet/rev", $r, "/curl.json")),
                ),
                (
                    "git",
                    include_str!(concat!("../../examples/fleet/rev", $r, "/git.json")),
                ),
                (
                    "jq",
                    include_str!(concat!("../../examples/fleet/rev", $r, "/jq.json")),
                ),
                (
                    "nginx-light",
                    include_str!(concat!("../../examples/fleet/rev", $r, "/nginx-light.json")),
                ),
                (
                    "python3-requests",
                    include_str!(concat!(
                        "../../examples/fleet/rev",
                        $r,
                        "/python3-requests.json"
                    )),
                ),
            ]
        };
    }
    let revisions = [revision!("0"), revision!("1"), revision!("2")]
        .into_iter()
        .map(|files| {
            files
                .into_iter()
                .map(|(image, text)| {
                    read_closure(image, text).expect("the bundled example closures parse")
                })
                .collect()
        })
        .collect();
    let counts = parse_popularity(include_str!("../../examples/fleet/popularity.json"))
        .expect("the bundled popularity parses");
    Fleet {
        name: "example fleet (examples/fleet)".to_string(),
        revisions,
        popularity: Some(PopularityFile {
            file: "examples/fleet/popularity.json".to_string(),
            counts,
            bundled: true,
        }),
        kind: FleetKind::Example,
    }
}

/// Reads a Nixery-style popularity file; the error names the file.
pub fn read_popularity(file_name: &str, text: &str) -> Result<Popularity, String> {
    parse_popularity(text).map_err(|e| format!("{file_name}: {e}"))
}

/// An image's name from its closure file's name: `git.closure.json`,
/// `git.json` and `git` all name `git`.
pub fn image_name(file_name: &str) -> String {
    let stem = file_name.strip_suffix(".json").unwrap_or(file_name);
    stem.strip_suffix(".closure").unwrap_or(stem).to_string()
}

/// Parses one image's closure file; the error names the file (and the
/// planner's names the entry).
pub fn read_closure(file_name: &str, text: &str) -> Result<ImageClosure, String> {
    let graph = parse_closure(text, DEFAULT_STORE_DIR).map_err(|e| format!("{file_name}: {e}"))?;
    Ok(ImageClosure {
        image: image_name(file_name),
        graph,
    })
}

/// A revision from closure files, sorted by image name as `strata
/// simulate` reads a directory; two files naming one image are an error.
pub fn read_revision(files: &[(String, String)]) -> Result<Vec<ImageClosure>, String> {
    let mut images = files
        .iter()
        .map(|(name, text)| read_closure(name, text))
        .collect::<Result<Vec<_>, _>>()?;
    images.sort_by(|a, b| a.image.cmp(&b.image));
    if let Some(pair) = images.windows(2).find(|w| w[0].image == w[1].image) {
        return Err(format!("two files name the image {}", pair[0].image));
    }
    if images.is_empty() {
        return Err("no closure files chosen".to_string());
    }
    Ok(images)
}

/// One planner's plans over the fleet, or why it could not plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The planner.
    pub planner: Planner,
    /// Its plans and figures.
    pub result: Result<FleetPlans, String>,
}

/// Plans the fleet with each planner at this budget, as `strata simulate
/// -a ALGORITHM -b BUDGET [--popularity FILE]` (with `--alone` for
/// [`History::Alone`]) does with the same closures.
pub fn compare(fleet: &Fleet, budget: usize, planners: &[Planner]) -> Vec<Comparison> {
    planners
        .iter()
        .map(|&planner| {
            let mut options = PlanOptions::new(planner.algorithm, budget);
            options.popularity = fleet.popularity.as_ref().map(|p| p.counts.clone());
            Comparison {
                planner,
                result: plan_fleet(&fleet.revisions, &options, planner.history)
                    .map_err(|e| e.to_string()),
            }
        })
        .collect()
}

/// A figure's ratio as the CLI's table prints it (`1.051`), `-` when there
/// is nothing to pull (a single revision has no update).
pub fn ratio_text(figure: &Figure) -> String {
    figure.ratio.map_or("-".to_string(), |r| format!("{r:.3}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_has_five_images_at_three_revisions() {
        let fleet = example_fleet();
        assert_eq!(fleet.revisions.len(), 3);
        assert_eq!(
            fleet.images(),
            ["curl", "git", "jq", "nginx-light", "python3-requests"]
        );
        assert!(fleet.path_count() > 100);
        assert_eq!(fleet.popularity.unwrap().counts["debconf-1.5.82"], 670);
    }

    #[test]
    fn fleet_pulls_no_more_than_one_layer_per_image_and_no_less_than_the_bound() {
        let fleet = example_fleet();
        let results = compare(&fleet, 20, &COMPARED);
        assert_eq!(results.len(), COMPARED.len());
        for c in &results {
            let plans = c.result.as_ref().unwrap();
            let f = &plans.figures;
            assert!(f.fleet.bytes >= f.fleet.bound, "{}", c.planner.key);
            assert!(f.max_layers <= 20);
            assert_eq!(plans.revisions.len(), 3);
        }
        let one_layer = compare(&fleet, 1, &COMPARED[..1]);
        let one = &one_layer[0].result.as_ref().unwrap().figures;
        assert!(one.update.bytes > results[0].result.as_ref().unwrap().figures.update.bytes);
    }

    #[test]
    fn fleet_alone_plans_without_the_previous_plan() {
        let fleet = example_fleet();
        let alone = compare(&fleet, 20, &[find_planner("fleet-alone").unwrap()]);
        let plans = alone[0].result.as_ref().unwrap();
        assert!(plans.revisions[2].iter().all(|p| !p.algorithm.previous));
        let kept = compare(&fleet, 20, &COMPARED[..1]);
        let plans = kept[0].result.as_ref().unwrap();
        assert!(plans.revisions[2].iter().all(|p| p.algorithm.previous));
        assert!(plans.revisions[0].iter().all(|p| !p.algorithm.previous));
    }

    #[test]
    fn files_name_images_and_bad_files_are_named() {
        assert_eq!(image_name("git.closure.json"), "git");
        assert_eq!(image_name("git.json"), "git");
        let err = read_revision(&[("bad.json".into(), "{".into())]).unwrap_err();
        assert!(err.starts_with("bad.json: "), "{err}");
        let text = r#"[{"path": "/nix/store/00000000000000000000000000000000-a-1", "narSize": 1}]"#;
        let twice = [
            ("a.json".to_string(), text.to_string()),
            ("a.closure.json".to_string(), text.to_string()),
        ];
        assert_eq!(
            read_revision(&twice).unwrap_err(),
            "two files name the image a"
        );
        assert_eq!(read_revision(&[]).unwrap_err(), "no closure files chosen");
        let err = read_popularity("pop.json", "[1]").unwrap_err();
        assert!(err.starts_with("pop.json: "), "{err}");
    }

    #[test]
    fn user_closures_replace_the_example_and_its_popularity_only() {
        let example = example_fleet();
        let revision = example.revisions[0].clone();
        let mut fleet = example_fleet();
        fleet.add_user_revision(revision.clone());
        assert_eq!(fleet.revisions.len(), 1);
        assert!(fleet.popularity.is_none());
        let mine = || PopularityFile {
            file: "mine.json".to_string(),
            counts: Popularity::new(),
            bundled: false,
        };
        fleet.popularity = Some(mine());
        fleet.add_user_revision(revision.clone());
        assert_eq!(fleet.name, "your closures, 2 revisions");
        assert_eq!(fleet.kind, FleetKind::Revisions);

        let mut fleet = example_fleet();
        fleet.popularity = Some(mine());
        fleet.add_user_revision(revision);
        assert_eq!(fleet.popularity.unwrap().file, "mine.json");
        assert!(example
            .summary()
            .ends_with("popularity from examples/fleet/popularity.json (94 names)"));
    }

    #[test]
    fn a_single_revision_has_no_update_figure() {
        let mut fleet = example_fleet();
        fleet.revisions.truncate(1);
        let c = compare(&fleet, 20, &[find_planner("auto").unwrap()]);
        let f = &c[0].result.as_ref().unwrap().figures;
        assert_eq!(ratio_text(&f.update), "-");
        assert_ne!(ratio_text(&f.fleet), "-");
    }
}
