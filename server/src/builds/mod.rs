//! The build queue: images built in the background from [`BuildRequest`]s,
//! at most `jobs` at a time, one build per distinct request (single-flight
//! by the request's content id), progress as a watched [`Status`] (what the
//! API's status and event stream report), cancellation by id.
//!
//! A finished build leaves a record (`builds/<id>` in the blob store, the
//! image's name, tag and manifest digest), written atomically after every
//! blob it names, so a restarted server knows every build it finished and
//! a build killed half-way leaves nothing that claims to be done: asked
//! again, it runs again (its finished layers come from the layer cache).

pub mod fleet;
pub mod request;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Semaphore};

use crate::image::archive;
use crate::image::digest::{BadDigest, Sha256Digest};
use crate::image::layer::{NixStore, Progress};
use crate::image::publish::publish;
use crate::image::{self, BuildError, Image};
use crate::store::BlobStore;
pub use request::{BuildRequest, ImageConfig, RequestError};

/// Where a build is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for a job slot.
    Queued,
    /// Running.
    Building,
    /// Finished: the image is in the store.
    Done,
    /// Stopped by an error (`error` says which).
    Failed,
    /// Stopped by a `DELETE`.
    Cancelled,
}

impl State {
    /// Whether the build will not change any more.
    pub fn is_final(self) -> bool {
        matches!(self, State::Done | State::Failed | State::Cancelled)
    }
}

/// Layers of a build, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerCounts {
    /// Layers finished (built or from the cache).
    pub done: usize,
    /// Layers in all (the plan's, plus the image's own layer).
    pub total: usize,
    /// Layers that came from the layer cache.
    pub cached: usize,
}

/// A build's status, as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The build's id.
    pub id: String,
    /// Where it is.
    pub state: State,
    /// Layers done of total.
    pub layers: LayerCounts,
    /// Uncompressed tar bytes written so far.
    pub bytes: u64,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `name:tag`, once known (a tag not given is the build's id).
    pub image: String,
    /// The OCI manifest's digest, once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
}

/// Why a request was not queued.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// A field of the request is unusable (a client error).
    #[error(transparent)]
    Request(#[from] RequestError),
    /// A path of the plan is not in the server's store (a client error).
    #[error("plan layer {layer}: {source}")]
    Path {
        /// The plan layer.
        layer: usize,
        /// Which path, and why.
        #[source]
        source: image::layer::LayerError,
    },
    /// Too many builds wait already (try again later).
    #[error("the build queue is full ({0} builds waiting)")]
    QueueFull(usize),
}

/// One build in flight (or just finished).
struct Build {
    status: watch::Sender<Status>,
    cancel: AtomicBool,
}

/// Reports progress into a build's status; says when it is cancelled.
struct BuildProgress(Arc<Build>);

impl Progress for BuildProgress {
    fn bytes(&self, n: u64) {
        self.0.status.send_modify(|s| s.bytes += n);
    }

    fn layer_done(&self, cached: bool) {
        self.0.status.send_modify(|s| {
            s.layers.done += 1;
            s.layers.cached += usize::from(cached);
        });
    }

    fn cancelled(&self) -> bool {
        self.0.cancel.load(Ordering::Relaxed)
    }
}

/// What a finished build leaves in the store.
#[derive(Debug, Serialize, Deserialize)]
struct BuildRecord {
    name: String,
    tag: String,
    manifest: String,
    layers: LayerCounts,
    bytes: u64,
}

/// How the queue runs builds.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// Where store paths are read.
    pub nix: NixStore,
    /// Builds at once.
    pub jobs: usize,
    /// Builds that may wait for a slot before new ones are refused.
    pub max_queued: usize,
    /// Threads compressing one gzip layer.
    pub threads: usize,
}

/// The queue; cheap to clone (shared state).
#[derive(Clone)]
pub struct BuildQueue {
    store: Arc<dyn BlobStore>,
    options: QueueOptions,
    slots: Arc<Semaphore>,
    builds: Arc<Mutex<HashMap<String, Arc<Build>>>>,
}

fn record_name(id: &str) -> String {
    format!("builds/{id}")
}

impl BuildQueue {
    /// A queue building into `store`.
    pub fn new(store: Arc<dyn BlobStore>, options: QueueOptions) -> Self {
        BuildQueue {
            slots: Arc::new(Semaphore::new(options.jobs.max(1))),
            store,
            options,
            builds: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The store builds go into.
    pub fn store(&self) -> &Arc<dyn BlobStore> {
        &self.store
    }

    /// Where store paths are read.
    pub fn nix(&self) -> &NixStore {
        &self.options.nix
    }

    /// Queues a build, or joins the same request's build, or answers at
    /// once from a finished build's record. Returns its current status.
    pub fn submit(&self, request: BuildRequest) -> Result<Status, SubmitError> {
        let id = request.id();
        let mut options = request.options(&self.options.nix, self.options.threads)?;
        if options.tag.is_none() {
            options.tag = Some(id.clone());
        }
        // A plan that does not match this server's store is the client's
        // mistake, said now rather than when a job slot frees up.
        image::locate_plan(&request.plan, &options.nix)
            .map_err(|(layer, source)| SubmitError::Path { layer, source })?;
        let mut builds = self.builds.lock().expect("no thread panics holding it");
        if let Some(build) = builds.get(&id) {
            let status = build.status.borrow().clone();
            if !matches!(status.state, State::Failed | State::Cancelled) {
                return Ok(status);
            }
        }
        if let Some(status) = self.finished(&id) {
            return Ok(status);
        }
        let waiting = builds
            .values()
            .filter(|b| b.status.borrow().state == State::Queued)
            .count();
        if waiting >= self.options.max_queued {
            return Err(SubmitError::QueueFull(waiting));
        }
        let name = options
            .name
            .clone()
            .unwrap_or_else(|| image::default_name(&request.plan.roots));
        let tag = options.tag.clone().expect("set above");
        let total = request.plan.layers.len()
            + usize::from(!options.customisation.is_empty())
            + usize::from(options.nix_db.is_some());
        let status = Status {
            id: id.clone(),
            state: State::Queued,
            layers: LayerCounts {
                total,
                ..LayerCounts::default()
            },
            bytes: 0,
            error: None,
            image: format!("{name}:{tag}"),
            manifest: None,
        };
        let build = Arc::new(Build {
            status: watch::Sender::new(status.clone()),
            cancel: AtomicBool::new(false),
        });
        builds.insert(id.clone(), build.clone());
        drop(builds);
        let queue = self.clone();
        tokio::spawn(async move { queue.run(id, request, options, build).await });
        Ok(status)
    }

    async fn run(
        self,
        id: String,
        request: BuildRequest,
        options: image::BuildOptions,
        build: Arc<Build>,
    ) {
        let Ok(_slot) = self.slots.clone().acquire_owned().await else {
            return;
        };
        if build.cancel.load(Ordering::Relaxed) {
            return;
        }
        build.status.send_modify(|s| s.state = State::Building);
        let store = self.store.clone();
        let progress = BuildProgress(build.clone());
        let started = std::time::Instant::now();
        let result = tokio::task::spawn_blocking(move || {
            let image =
                image::build(&request.plan, &options, &*store, &progress).map_err(|e| match e {
                    BuildError::Cancelled => (State::Cancelled, "cancelled".to_string()),
                    e => (State::Failed, error_chain(&e)),
                })?;
            // Pullable at its name and tag before the build says done.
            publish(&*store, &image).map_err(|e| (State::Failed, error_chain(&e)))?;
            // Known to the next plans made here (a lost record only costs
            // them some knowledge).
            if let Err(e) = fleet::record_plan(&*store, &image.name, &request.plan) {
                tracing::warn!(image = %image.name, error = %e, "recording the plan");
            }
            Ok::<Image, (State, String)>(image)
        })
        .await;
        let outcome = match result {
            Ok(Ok(image)) => self.record(&id, &image, &build),
            Ok(Err(failure)) => Err(failure),
            Err(e) => Err((State::Failed, format!("the build stopped: {e}"))),
        };
        build.status.send_modify(|s| match outcome {
            Ok(manifest) => {
                s.state = State::Done;
                s.manifest = Some(manifest);
            }
            Err((state, error)) => {
                s.state = state;
                s.error = Some(error);
            }
        });
        let status = build.status.borrow().clone();
        tracing::info!(
            build = %id,
            image = %status.image,
            state = ?status.state,
            layers = status.layers.done,
            cached = status.layers.cached,
            bytes = status.bytes,
            seconds = started.elapsed().as_secs_f64(),
            error = status.error.as_deref().unwrap_or(""),
            "build"
        );
    }

    /// Writes a finished build's record; returns its manifest digest.
    fn record(&self, id: &str, image: &Image, build: &Build) -> Result<String, (State, String)> {
        let status = build.status.borrow().clone();
        let record = BuildRecord {
            name: image.name.clone(),
            tag: image.tag.clone(),
            manifest: image.manifest_digest.to_string(),
            layers: status.layers,
            bytes: status.bytes,
        };
        let json = serde_json::to_vec(&record).expect("a record serialises");
        self.store
            .put_record(&record_name(id), &json)
            .map_err(|e| (State::Failed, format!("recording the build: {e}")))?;
        Ok(record.manifest)
    }

    /// A finished build's status from its record, if there is one.
    fn finished(&self, id: &str) -> Option<Status> {
        let bytes = self.store.get_record(&record_name(id)).ok()??;
        let record: BuildRecord = serde_json::from_slice(&bytes).ok()?;
        Some(Status {
            id: id.to_string(),
            state: State::Done,
            layers: record.layers,
            bytes: record.bytes,
            error: None,
            image: format!("{}:{}", record.name, record.tag),
            manifest: Some(record.manifest),
        })
    }

    /// A build's status: in flight, or from its record.
    pub fn status(&self, id: &str) -> Option<Status> {
        let builds = self.builds.lock().expect("no thread panics holding it");
        if let Some(build) = builds.get(id) {
            let status = build.status.borrow().clone();
            return Some(status);
        }
        drop(builds);
        self.finished(id)
    }

    /// A receiver of a build's status changes (for an event stream);
    /// `None` when the build is not in flight.
    pub fn watch(&self, id: &str) -> Option<watch::Receiver<Status>> {
        let builds = self.builds.lock().expect("no thread panics holding it");
        builds.get(id).map(|b| b.status.subscribe())
    }

    /// Cancels a queued or running build; its status, or `None` when
    /// there is no such build. A finished build stays as it is.
    pub fn cancel(&self, id: &str) -> Option<Status> {
        let build = self
            .builds
            .lock()
            .expect("no thread panics holding it")
            .get(id)
            .cloned();
        let Some(build) = build else {
            return self.finished(id);
        };
        build.cancel.store(true, Ordering::Relaxed);
        build.status.send_modify(|s| {
            if s.state == State::Queued {
                s.state = State::Cancelled;
                s.error = Some("cancelled".to_string());
            }
        });
        let status = build.status.borrow().clone();
        Some(status)
    }

    /// The finished image of a build, read back from the store.
    fn image(&self, id: &str) -> Result<Image, ArchiveError> {
        let status = self.status(id).ok_or(ArchiveError::Unknown)?;
        let manifest = match (&status.state, &status.manifest) {
            (State::Done, Some(manifest)) => manifest
                .parse()
                .map_err(|e: BadDigest| ArchiveError::Failed(e.to_string()))?,
            _ => return Err(ArchiveError::NotDone(status.state)),
        };
        let (name, tag) = status
            .image
            .rsplit_once(':')
            .ok_or_else(|| ArchiveError::Failed(format!("image {:?} has no tag", status.image)))?;
        Image::from_store(&*self.store, name, tag, &manifest)
            .map_err(|e| ArchiveError::Failed(error_chain(&e)))
    }

    /// A finished build's archive as a blob of the store (written once,
    /// then found by its record): its digest and size. The bytes are what
    /// `strata build --format docker|oci` writes for the same plan and
    /// config. Blocking: call it off the async threads.
    pub fn archive(
        &self,
        id: &str,
        format: ArchiveFormat,
    ) -> Result<(Sha256Digest, u64), ArchiveError> {
        let record = format!("archives/{id}.{}", format.extension());
        let failed = |e: &dyn std::error::Error| ArchiveError::Failed(error_chain(e));
        if let Some(bytes) = self.store.get_record(&record).map_err(|e| failed(&e))? {
            if let Ok(digest) = String::from_utf8_lossy(&bytes)
                .trim()
                .parse::<Sha256Digest>()
            {
                if let Some(size) = self.store.stat(&digest).map_err(|e| failed(&e))? {
                    return Ok((digest, size));
                }
            }
        }
        let image = self.image(id)?;
        let writer = self.store.create().map_err(|e| failed(&e))?;
        let writer = match format {
            ArchiveFormat::Docker => archive::docker::write(&image, &*self.store, writer),
            ArchiveFormat::Oci => archive::oci::write_archive(&image, &*self.store, writer),
        }
        .map_err(|e| failed(&e))?;
        let (digest, size) = writer.commit(None).map_err(|e| failed(&e))?;
        self.store
            .put_record(&record, digest.to_string().as_bytes())
            .map_err(|e| failed(&e))?;
        Ok((digest, size))
    }
}

/// The archive formats a build can be downloaded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// docker-archive (`image.tar`).
    Docker,
    /// OCI image layout as a tar (`image.oci.tar`).
    Oci,
}

impl ArchiveFormat {
    fn extension(self) -> &'static str {
        match self {
            ArchiveFormat::Docker => "docker.tar",
            ArchiveFormat::Oci => "oci.tar",
        }
    }
}

/// Why a build's archive cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// No such build.
    #[error("no such build")]
    Unknown,
    /// The build is not done.
    #[error("the build is {0:?}, not done")]
    NotDone(State),
    /// The store failed.
    #[error("{0}")]
    Failed(String),
}

/// An error and its causes on one line.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::image::golden_tests::{fixed_store, GREETING, HELLO};
    use crate::store::FsStore;
    use strata_planner::{parse_closure, plan_closure, Algorithm, PlanOptions};

    fn queue(dir: &Path, jobs: usize, max_queued: usize) -> BuildQueue {
        fixed_store(dir);
        BuildQueue::new(
            Arc::new(FsStore::open(dir.join("data")).unwrap()),
            QueueOptions {
                nix: NixStore {
                    store_dir: "/nix/store".to_string(),
                    root: Some(dir.to_path_buf()),
                },
                jobs,
                max_queued,
                threads: 1,
            },
        )
    }

    fn request(tag: &str) -> BuildRequest {
        let closure = serde_json::json!([
            {"path": HELLO, "narSize": 1, "references": [GREETING]},
            {"path": GREETING, "narSize": 2, "references": []},
        ]);
        let graph = parse_closure(&closure.to_string(), "/nix/store").unwrap();
        BuildRequest {
            nix_db: None,
            plan: plan_closure(&graph, &PlanOptions::new(Algorithm::Popularity, 2)).unwrap(),
            config: ImageConfig {
                tag: Some(tag.to_string()),
                ..ImageConfig::default()
            },
        }
    }

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("strata-builds-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    async fn done(queue: &BuildQueue, id: &str) -> Status {
        let mut watch = queue.watch(id).expect("in flight");
        while !watch.borrow_and_update().state.is_final() {
            watch.changed().await.unwrap();
        }
        let status = watch.borrow().clone();
        status
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn identical_requests_at_once_are_one_build() {
        let dir = temp("single");
        let queue = queue(&dir, 1, 8);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let queue = queue.clone();
                tokio::task::spawn_blocking(move || queue.submit(request("t")).unwrap())
            })
            .collect();
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.unwrap().id);
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{ids:?}");
        assert_eq!(queue.builds.lock().unwrap().len(), 1);
        let status = done(&queue, &ids[0]).await;
        assert_eq!(status.state, State::Done, "{status:?}");
        // Built once: every layer was built, none came from the cache.
        assert_eq!((status.layers.done, status.layers.cached), (2, 0));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_and_a_cancelled_build_stops() {
        let dir = temp("full");
        // No job slot ever frees up while the test looks: all wait.
        let queue = queue(&dir, 1, 2);
        let _slot = queue.slots.clone().acquire_owned().await.unwrap();
        let a = queue.submit(request("a")).unwrap();
        let b = queue.submit(request("b")).unwrap();
        assert!(matches!(
            queue.submit(request("c")),
            Err(SubmitError::QueueFull(2))
        ));
        assert_eq!(queue.cancel(&a.id).unwrap().state, State::Cancelled);
        // A cancelled build frees its place, and asking again builds anew.
        let c = queue.submit(request("c")).unwrap();
        assert_eq!(c.state, State::Queued);
        drop(_slot);
        assert_eq!(done(&queue, &b.id).await.state, State::Done);
        assert_eq!(done(&queue, &c.id).await.state, State::Done);
        assert_eq!(queue.status(&a.id).unwrap().state, State::Cancelled);
        let again = queue.submit(request("a")).unwrap();
        assert_eq!(done(&queue, &again.id).await.state, State::Done);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
