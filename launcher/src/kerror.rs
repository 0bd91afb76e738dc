//! Kubernetes API errors said the way kubectl says them: the API server's own
//! message once (`pods "web" not found`), with what to do, instead of kube-rs's debug
//! structures.

/// One sentence for `e`, which happened while doing `what` (e.g. `getting pod shop/web`).
pub fn say(what: &str, e: &kube::Error) -> String {
    match e {
        kube::Error::Api(r) => {
            let hint = match r.code {
                401 => ": the cluster refused the credentials (expired token? check the context's user)",
                403 => ": deploy/rbac.yaml in cairn's repository has the least each route needs",
                _ => "",
            };
            format!("{what}: {}{hint}", r.message)
        }
        kube::Error::Auth(a) => format!("{what}: the credentials could not be obtained: {a}"),
        other => format!("{what}: {other}"),
    }
}

/// Whether `e` is the API server's 404.
pub fn not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(r) if r.code == 404)
}

/// A Kubernetes call's error as one sentence ([`say`]) instead of kube-rs's debug
/// structures in an `anyhow` chain.
pub trait Said<T> {
    /// `what` says what was being done, e.g. `adding an ephemeral container to shop/web`.
    fn said(self, what: impl FnOnce() -> String) -> anyhow::Result<T>;
}

impl<T> Said<T> for Result<T, kube::Error> {
    fn said(self, what: impl FnOnce() -> String) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::anyhow!(say(&what(), &e)))
    }
}
