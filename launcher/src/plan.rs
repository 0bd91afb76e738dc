//! The plan of a collection: which route reaches each target (from `--via` and the
//! target's verdict), which targets no route can reach and why, and the permissions
//! the chosen routes need, so the preflight asks for exactly those.

use crate::rbac::{self, Need};
use crate::route::{ephemeral::Ephemeral, exec::Exec, node::Node, sidecar::Sidecar, Route, Via};
use crate::targets::{Target, Verdict};
use std::sync::Arc;

/// One target and how to reach it.
pub struct Job {
    pub target: Target,
    pub route: Arc<dyn Route>,
    /// Tried when `route` finds no shell at exec time (`--via auto`).
    pub fallback: Option<Arc<dyn Route>>,
}

pub struct Plan {
    pub jobs: Vec<Job>,
    /// Targets no route can reach, with the reason and the route that refused.
    pub refused: Vec<(Target, &'static str, String)>,
    /// Every permission the jobs need, in each namespace.
    pub needs: Vec<Need>,
}

/// Plans `targets` for `via`; `image` is the collector image of the routes that
/// bring their own container.
pub fn make(targets: Vec<Target>, via: Via, image: &str) -> Plan {
    let exec: Arc<dyn Route> = Arc::new(Exec);
    let ephemeral: Arc<dyn Route> = Arc::new(Ephemeral {
        image: image.to_owned(),
    });
    let mut plan = Plan {
        jobs: Vec::new(),
        refused: Vec::new(),
        needs: rbac::EXEC.to_vec(),
    };
    for t in targets {
        let (route, fallback): (Arc<dyn Route>, Option<Arc<dyn Route>>) = match via {
            Via::Exec => (exec.clone(), None),
            Via::Ephemeral => (ephemeral.clone(), None),
            Via::Sidecar => (Arc::new(Sidecar), None),
            Via::Node => (
                Arc::new(Node {
                    image: image.to_owned(),
                }),
                None,
            ),
            Via::Auto if t.verdict == Verdict::Distroless => (ephemeral.clone(), None),
            Via::Auto => (exec.clone(), Some(ephemeral.clone())),
        };
        if let Err(why) = route.accepts(&t) {
            plan.refused.push((t, route.method(), why));
            continue;
        }
        for n in route.needs() {
            if !plan.needs.contains(n) {
                plan.needs.push(n.clone());
            }
        }
        plan.jobs.push(Job {
            target: t,
            route,
            fallback,
        });
    }
    plan
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
            verdict,
        }
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
        let p = make(all(), Via::Exec, "img");
        assert_eq!(p.jobs.len(), 1);
        assert_eq!(p.refused.len(), 2);
        assert!(
            p.refused[0].2.contains("--via ephemeral"),
            "{}",
            p.refused[0].2
        );
        assert!(p.refused[1].2.contains("is not running"));
        assert_eq!(p.needs, rbac::EXEC);

        let p = make(all(), Via::Auto, "img");
        let methods: Vec<_> = p.jobs.iter().map(|j| j.route.method()).collect();
        assert_eq!(methods, ["exec", "ephemeral"]);
        assert!(p.jobs[0].fallback.is_some() && p.jobs[1].fallback.is_none());
        assert!(p
            .needs
            .iter()
            .any(|n| n.subresource == "ephemeralcontainers"));

        let p = make(all(), Via::Node, "img");
        assert_eq!(
            p.jobs.len(),
            3,
            "a stopped container is read from the node's disk"
        );
        assert!(p
            .needs
            .iter()
            .any(|n| n.verb == "create" && n.resource == "pods"));

        let p = make(all(), Via::Sidecar, "img");
        assert_eq!(p.jobs.len(), 2);
        assert_eq!(p.needs, rbac::EXEC);
    }
}
