//! A fake Nix store under a temp dir (read with `strata build
//! --store-root`): the same shape as nix/tests, built without Nix so image
//! tests run in milliseconds.
//!
//! ```text
//! greeting-data  <- libgreet <- hello -> busybox (Debian's static busybox)
//! ```

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

/// Store paths of the fake store.
pub const BUSYBOX: &str = "/nix/store/00000000000000000000000000000000-busybox-static-1.35";
/// The data package.
pub const DATA: &str = "/nix/store/11111111111111111111111111111111-greeting-data-1.0";
/// The library.
pub const LIB: &str = "/nix/store/22222222222222222222222222222222-libgreet-1.0";
/// The program (root).
pub const HELLO: &str = "/nix/store/33333333333333333333333333333333-hello-1.0";

/// What `hello` prints.
pub const GREETING: &str = "hello from a strata image";

/// A fake store rooted at `root` (`root/nix/store/...`).
pub struct FakeStore {
    /// Stands in for `/`.
    pub root: PathBuf,
}

impl FakeStore {
    /// Creates the store with Debian's busybox at `busybox`.
    pub fn create(root: &Path, busybox: &Path) -> FakeStore {
        let at = |p: &str| root.join(p.trim_start_matches('/'));
        let bin = at(BUSYBOX).join("bin");
        fs::create_dir_all(&bin).unwrap();
        fs::copy(busybox, bin.join("busybox")).unwrap();
        fs::set_permissions(bin.join("busybox"), fs::Permissions::from_mode(0o555)).unwrap();
        for tool in ["sh", "cat", "ls"] {
            symlink("busybox", bin.join(tool)).unwrap();
        }
        let share = at(DATA).join("share/greeting");
        let long = share.join(
            "a-rather-long-directory-name-to-push-paths/past-the-hundred-byte-tar-name-field",
        );
        fs::create_dir_all(&long).unwrap();
        fs::write(share.join("message"), format!("{GREETING}\n")).unwrap();
        fs::write(long.join("file-with-a-long-name.txt"), "long\n").unwrap();
        fs::hard_link(share.join("message"), share.join("message.hardlink")).unwrap();
        symlink("message", share.join("message.symlink")).unwrap();
        let lib = at(LIB).join("lib");
        fs::create_dir_all(&lib).unwrap();
        fs::write(
            lib.join("greet.sh"),
            format!("greet() {{ cat {DATA}/share/greeting/message; }}\n"),
        )
        .unwrap();
        let hello = at(HELLO).join("bin");
        fs::create_dir_all(&hello).unwrap();
        fs::write(
            hello.join("hello"),
            format!("#!{BUSYBOX}/bin/sh\n. {LIB}/lib/greet.sh\ngreet\n"),
        )
        .unwrap();
        fs::set_permissions(hello.join("hello"), fs::Permissions::from_mode(0o555)).unwrap();
        FakeStore {
            root: root.to_path_buf(),
        }
    }

    /// Where a store path lives on disk.
    pub fn at(&self, store_path: &str) -> PathBuf {
        self.root.join(store_path.trim_start_matches('/'))
    }

    /// The closure as a list of entries (no narHash: strata hashes).
    pub fn closure(&self) -> serde_json::Value {
        serde_json::json!([
            {"path": BUSYBOX, "narSize": 2_000_000, "references": []},
            {"path": DATA, "narSize": 1000, "references": []},
            {"path": LIB, "narSize": 500, "references": [DATA]},
            {"path": HELLO, "narSize": 400, "references": [BUSYBOX, LIB]},
        ])
    }

    /// Writes the closure to `file` and returns the path.
    pub fn write_closure(&self, file: &Path) -> PathBuf {
        fs::write(file, self.closure().to_string()).unwrap();
        file.to_path_buf()
    }
}
