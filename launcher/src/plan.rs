//! The plan of a collection: which route reaches each target (from `--via` and the
//! target's verdict), which targets no route can reach and why, and the permissions
//! the chosen routes need, so the preflight asks for exactly those.

use crate::rbac::{self, Need};
use crate::route::{ephemeral::Ephemeral, exec::Exec, node::Node, sidecar::Sidecar, Route, Via};
use crate::targets::{Target, Verdict};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// What the routes that bring their own container are given.
#[derive(Debug, Clone)]
pub struct RouteOptions {
    /// The collector image.
    pub image: String,
    /// Where the node route's pods run.
    pub collector_namespace: String,
    /// How long what a route creates may live: the collection's timeout and a margin.
    pub lifetime: Duration,
    /// A Localhost seccomp profile for collector pods.
    pub seccomp: Option<String>,
    /// `--node-logs`.
    pub node_logs: bool,
    /// Nothing may be written to a target's disk (`--no-disk-writes`): exec in memory
    /// only, else an ephemeral container.
    pub no_disk_writes: bool,
    /// Targets collected at once (`--concurrency`), and on one node (`--per-node`).
    pub concurrency: usize,
    pub per_node: Option<usize>,
    /// `--pod-per-target`: the node route starts a pod for each target.
    pub pod_per_target: bool,
}

/// One target and how to reach it.
pub struct Job {
    pub target: Target,
    pub route: Arc<dyn Route>,
    /// Tried when `route` finds no shell at exec time (`--via auto`), or no memory to
    /// run from (`--no-disk-writes`).
    pub fallback: Option<Arc<dyn Route>>,
}

pub struct Plan {
    pub jobs: Vec<Job>,
    /// Targets no route can reach, with the reason and the route that refused.
    pub refused: Vec<(Target, &'static str, String)>,
    /// Every permission the jobs need, by namespace.
    pub needs: BTreeMap<String, Vec<Need>>,
}

impl Plan {
    fn need(&mut self, namespace: &str, needs: &[Need]) {
        let list = self.needs.entry(namespace.to_owned()).or_default();
        for n in needs {
            if !list.contains(n) {
                list.push(n.clone());
            }
        }
    }
}

/// Plans `targets` for `via`.
pub fn make(targets: Vec<Target>, via: Via, o: &RouteOptions) -> Plan {
    let exec: Arc<dyn Route> = Arc::new(Exec {
        memory_only: o.no_disk_writes,
    });
    let ephemeral: Arc<dyn Route> = Arc::new(Ephemeral {
        image: o.image.clone(),
        available: Default::default(),
        idle: o.lifetime,
    });
    let node: Arc<dyn Route> = Arc::new(node_route(&targets, via, o));
    let mut plan = Plan {
        jobs: Vec::new(),
        refused: Vec::new(),
        needs: BTreeMap::new(),
    };
    for t in targets {
        let (route, fallback): (Arc<dyn Route>, Option<Arc<dyn Route>>) = match via {
            Via::Exec if o.no_disk_writes => (exec.clone(), Some(ephemeral.clone())),
            Via::Exec => (exec.clone(), None),
            Via::Ephemeral => (ephemeral.clone(), None),
            Via::Sidecar => (Arc::new(Sidecar), None),
            Via::Node => (node.clone(), None),
            Via::Auto if t.verdict == Verdict::Distroless => (ephemeral.clone(), None),
            Via::Auto => (exec.clone(), Some(ephemeral.clone())),
        };
        plan.need(&t.namespace, rbac::READ);
        if let Err(why) = route.accepts(&t) {
            plan.refused.push((t, route.method(), why));
            continue;
        }
        plan.need(&t.namespace, route.needs());
        if let Some((ns, needs)) = route.own_namespace() {
            plan.need(ns, needs);
        }
        plan.jobs.push(Job {
            target: t,
            route,
            fallback,
        });
    }
    plan
}

/// The node route for `targets`: each pod expects the targets of its node, and lives as
/// long as they may take, waiting their turn behind the other nodes' included.
fn node_route(targets: &[Target], via: Via, o: &RouteOptions) -> Node {
    let at_once = o.concurrency.min(o.per_node.unwrap_or(usize::MAX)).max(1);
    let rounds = if o.pod_per_target {
        1
    } else {
        targets.len().div_ceil(o.concurrency.max(1)).max(1)
    };
    let node = Node {
        image: o.image.clone(),
        namespace: o.collector_namespace.clone(),
        deadline: o
            .lifetime
            .saturating_mul(u32::try_from(rounds).unwrap_or(u32::MAX)),
        seccomp: o.seccomp.clone(),
        node_logs: o.node_logs,
        at_once,
        pod_per_target: o.pod_per_target,
        pool: Default::default(),
    };
    if via == Via::Node {
        for t in targets {
            node.pool.expect(&node.key(t));
        }
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(pod: &str, verdict: Verdict) -> Target {
        Target {
            namespace: "shop".into(),
            pod: pod.into(),
            container: "app".into(),
            image: "img".into(),
            node: "n1".into(),
            phase: "Running".into(),
            user: None,
            container_id: Some("docker://abc".into()),
            arch: None,
            started: None,
            verdict,
        }
    }

    fn options() -> RouteOptions {
        RouteOptions {
            image: "img".into(),
            collector_namespace: "cairn-system".into(),
            lifetime: Duration::from_secs(600),
            seccomp: None,
            node_logs: false,
            no_disk_writes: false,
            concurrency: 4,
            per_node: None,
            pod_per_target: false,
        }
    }

    fn needs(p: &Plan, ns: &str) -> Vec<String> {
        p.needs[ns]
            .iter()
            .map(|n| format!("{} {}/{}", n.verb, n.resource, n.subresource))
            .collect()
    }

    #[test]
    fn each_target_gets_the_route_its_verdict_allows_and_the_preflight_asks_only_for_those() {
        let all = || {
            vec![
                target("shell", Verdict::Exec),
                target("distroless", Verdict::Distroless),
                target("stopped", Verdict::NotRunning),
            ]
        };
        let o = options();
        let p = make(all(), Via::Exec, &o);
        assert_eq!(p.jobs.len(), 1);
        assert_eq!(p.refused.len(), 2);
        assert!(
            p.refused[0].2.contains("--via ephemeral"),
            "{}",
            p.refused[0].2
        );
        assert!(p.refused[1].2.contains("is not running"));
        assert_eq!(
            needs(&p, "shop"),
            ["get pods/", "list pods/", "create pods/exec"]
        );

        let p = make(all(), Via::Auto, &o);
        let methods: Vec<_> = p.jobs.iter().map(|j| j.route.method()).collect();
        assert_eq!(methods, ["exec", "ephemeral"]);
        assert!(p.jobs[0].fallback.is_some() && p.jobs[1].fallback.is_none());
        assert!(needs(&p, "shop").contains(&"patch pods/ephemeralcontainers".to_owned()));

        // The node route creates its pods in the collector namespace only; in the
        // target's namespace it reads.
        let p = make(all(), Via::Node, &o);
        assert_eq!(
            p.jobs.len(),
            3,
            "a stopped container is read from the node's disk"
        );
        assert_eq!(needs(&p, "shop"), ["get pods/", "list pods/"]);
        assert_eq!(
            needs(&p, "cairn-system"),
            [
                "create pods/",
                "get pods/",
                "delete pods/",
                "create pods/exec"
            ]
        );

        let p = make(all(), Via::Sidecar, &o);
        assert_eq!(p.jobs.len(), 2);
        assert_eq!(
            needs(&p, "shop"),
            ["get pods/", "list pods/", "create pods/exec"]
        );
    }
}
