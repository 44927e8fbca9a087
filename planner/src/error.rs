//! Typed errors of the planner. Every variant names the input it is about
//! (a store path, an entry, a field), so a user can find and fix it.

use thiserror::Error;

/// A closure graph could not be read or is not a valid closure.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputError {
    /// The text is not JSON.
    #[error("malformed JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line of the first bad character.
        line: usize,
        /// 1-based column of the first bad character.
        column: usize,
        /// What serde_json saw there.
        message: String,
    },
    /// Valid JSON, but none of the closure shapes Strata reads.
    #[error("unknown closure shape: {found} (expected an exportReferencesGraph .attrs.json, a list of path entries, {{\"graph\": [...]}}, or `nix path-info --json --recursive` output)")]
    UnknownShape {
        /// A short description of what was found instead.
        found: String,
    },
    /// A field of an entry is missing or has the wrong type or value.
    #[error("entry {entry}: field `{field}` {problem}")]
    Field {
        /// The entry's path, or its index when it has no usable path.
        entry: String,
        /// The field's JSON name.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The same path appears twice with different data.
    #[error("duplicate entry for {path} with different data")]
    DuplicatePath {
        /// The path listed twice.
        path: String,
    },
    /// An entry references a path that has no entry of its own.
    #[error("{from} references {to}, which is not in the graph")]
    MissingReference {
        /// The referencing path.
        from: String,
        /// The missing path.
        to: String,
    },
    /// A root listed by exportReferencesGraph has no entry.
    #[error("root {path} is not in the graph")]
    MissingRoot {
        /// The missing root.
        path: String,
    },
    /// A path does not live directly in the store directory.
    #[error("{path} is not in the store directory {store_dir}")]
    NotInStore {
        /// The offending path.
        path: String,
        /// The configured store directory.
        store_dir: String,
    },
    /// A path is in the store directory but its name is not a store-path name.
    #[error("{path} is not a valid store path: {reason}")]
    InvalidStorePath {
        /// The offending path.
        path: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// `nix path-info` (Nix >= 2.19) reported the path as invalid (`null`).
    #[error("{path} is not valid in the store it was exported from (null entry)")]
    InvalidPath {
        /// The path with a null entry.
        path: String,
    },
    /// An entry says of itself that its path is not valid
    /// (`"valid": false`, as `nix path-info` lists a path it cannot find).
    #[error("{path} is marked invalid (\"valid\": false) in the store it was exported from")]
    MarkedInvalid {
        /// The path of the entry.
        path: String,
    },
    /// The references form a cycle (self-references excluded).
    #[error("reference cycle: {}", cycle.join(" -> "))]
    Cycle {
        /// The paths of one cycle, its first path repeated at the end.
        cycle: Vec<String>,
    },
    /// The store directory option itself is unusable.
    #[error("invalid store directory {store_dir:?}: it must be an absolute path without a trailing slash")]
    StoreDir {
        /// The given store directory.
        store_dir: String,
    },
}

/// Options, a plan or a pipeline given to the planner are unusable.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanError {
    /// The budget is too small for what was asked.
    #[error("budget {budget} is too small: {reason}")]
    Budget {
        /// The given budget.
        budget: usize,
        /// Why it does not fit.
        reason: String,
    },
    /// A path named in the options (pin, exclude) is not in the closure.
    #[error("{option} {path}: not in the closure")]
    UnknownPath {
        /// The option (`--pin`, `--exclude`).
        option: String,
        /// The path.
        path: String,
    },
    /// A root cannot be excluded from its own image.
    #[error("--exclude {path}: a root of the closure cannot be excluded")]
    ExcludedRoot {
        /// The root.
        path: String,
    },
    /// The same path is both pinned and excluded.
    #[error("{path} is both pinned and excluded")]
    PinnedAndExcluded {
        /// The path.
        path: String,
    },
    /// The algorithm needs an input that was not given.
    #[error("algorithm `{algorithm}` needs {what}")]
    MissingInput {
        /// The algorithm's name.
        algorithm: String,
        /// The missing input (e.g. `a pipeline`).
        what: String,
    },
    /// A layering pipeline is malformed.
    #[error("pipeline {at}: {problem}")]
    Pipeline {
        /// Where in the pipeline (a JSON pointer such as `/1/0`).
        at: String,
        /// What is wrong.
        problem: String,
    },
    /// A popularity file is malformed.
    #[error("popularity data: {problem}")]
    Popularity {
        /// What is wrong.
        problem: String,
    },
    /// A plan given as `--base` or `--previous` is unusable.
    #[error("{option} plan: {source}")]
    OptionPlan {
        /// The option that carried the plan.
        option: String,
        /// Why it is unusable.
        #[source]
        source: Box<CheckError>,
    },
}

/// A plan does not fit a closure (or is not a plan at all).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckError {
    /// The text is not a plan.
    #[error("not a plan: {message}")]
    Malformed {
        /// What serde saw.
        message: String,
    },
    /// The plan's format version is not one this planner reads.
    #[error("plan version {found} is not supported (this planner reads version {supported})")]
    Version {
        /// The plan's version.
        found: u64,
        /// The version supported.
        supported: u32,
    },
    /// A closure path is in no layer.
    #[error("{path} is in the closure but in no layer")]
    Uncovered {
        /// The path.
        path: String,
    },
    /// A path is in more than one layer.
    #[error("{path} is in layers {first} and {second}")]
    Duplicated {
        /// The path.
        path: String,
        /// Index of the first layer holding it.
        first: usize,
        /// Index of the second.
        second: usize,
    },
    /// A layer holds a path that is not in the closure.
    #[error("layer {layer} holds {path}, which is not in the closure")]
    Foreign {
        /// The layer's index.
        layer: usize,
        /// The path.
        path: String,
    },
    /// More layers than the plan's own budget.
    #[error("{layers} layers exceed the budget of {budget}")]
    OverBudget {
        /// Number of layers.
        layers: usize,
        /// The plan's budget.
        budget: usize,
    },
    /// A layer has no paths.
    #[error("layer {layer} is empty")]
    EmptyLayer {
        /// The layer's index.
        layer: usize,
    },
    /// A recorded size or hash disagrees with the closure.
    #[error(
        "layer {layer}: {field} of {path} is {found} in the plan but {expected} in the closure"
    )]
    Mismatch {
        /// The layer's index.
        layer: usize,
        /// The path.
        path: String,
        /// `narSize` or `narHash`.
        field: String,
        /// Value in the plan.
        found: String,
        /// Value in the closure.
        expected: String,
    },
    /// A layer's recorded size is not the sum of its paths' sizes.
    #[error("layer {layer}: size {found} is not the sum of its paths' narSize ({expected})")]
    LayerSize {
        /// The layer's index.
        layer: usize,
        /// Recorded size.
        found: u64,
        /// Sum of the paths' sizes.
        expected: u64,
    },
    /// The plan's recorded size is not the sum of its layers' sizes.
    #[error("plan: field `size` is {found} but the layers' sizes sum to {}", expected.map_or("more than 2^64".to_string(), |e| e.to_string()))]
    PlanSize {
        /// Recorded size.
        found: u64,
        /// Sum of the layers' `size` fields (`None`: beyond `u64`).
        expected: Option<u64>,
    },
    /// The parallel arrays of a layer differ in length.
    #[error("layer {layer}: `{field}` has {found} entries for {expected} paths")]
    Shape {
        /// The layer's index.
        layer: usize,
        /// The field.
        field: String,
        /// Its length.
        found: usize,
        /// Number of paths.
        expected: usize,
    },
    /// A root of the closure is not in the plan's roots.
    #[error("root {path} of the closure is not among the plan's roots")]
    Root {
        /// The root.
        path: String,
    },
}
