//! Whether a node can start a container of the collector image, asked before an
//! ephemeral container is added: Kubernetes never removes one, so an ephemeral
//! container whose image cannot be pulled would stay in the pod's spec, failed, for
//! good.
//!
//! The node's own list (`status.images`, which a kubelet cuts at 50 images) says when
//! it holds the image. Otherwise the registry the name points at is asked, once per
//! run, with the responder's credentials. Only a clear "no such image" from that
//! registry stops the target; whatever cannot be known here (no right to read nodes, a
//! registry this machine cannot reach but the nodes may) lets the collection go on.

use super::registry;
use k8s_openapi::api::core::v1::Node;
use kube::{Api, Client};
use tokio::sync::OnceCell;

/// A kubelet reports at most this many images by default (`nodeStatusMaxImages`):
/// a list this long may leave the image out.
const KUBELET_IMAGE_CAP: usize = 50;

/// What the registry said about the image, asked at most once.
#[derive(Default)]
pub struct Availability {
    registry: OnceCell<Option<bool>>,
}

/// What a node's image list says about an image.
#[derive(Debug, PartialEq, Eq)]
pub enum Listed {
    Held,
    /// Not in a list that holds every image of the node.
    Absent,
    /// Not in the list, which may be cut short, or no list at all.
    Unknown,
}

/// What the node's image list says about `image` (given as the pod spec would give it).
pub fn listed(node: &Node, image: &str) -> Listed {
    let Some(images) = node.status.as_ref().and_then(|s| s.images.as_ref()) else {
        return Listed::Unknown;
    };
    let want = normal(image);
    let held = images
        .iter()
        .flat_map(|i| i.names.iter().flatten())
        .any(|n| normal(n) == want);
    match held {
        true => Listed::Held,
        false if images.len() < KUBELET_IMAGE_CAP => Listed::Absent,
        false => Listed::Unknown,
    }
}

/// The fully qualified form of an image name (`docker.io/library/NAME:TAG`).
fn normal(name: &str) -> String {
    registry::parse(name)
        .map(|r| r.whole())
        .unwrap_or_else(|_| name.to_owned())
}

impl Availability {
    /// `Err` with one sentence when `node` surely cannot start a container of `image`.
    pub async fn check(&self, client: &Client, node: &str, image: &str) -> Result<(), String> {
        let nodes: Api<Node> = Api::all(client.clone());
        let listed = match nodes.get_opt(node).await {
            Ok(Some(n)) => listed(&n, image),
            _ => Listed::Unknown,
        };
        if listed == Listed::Held {
            return Ok(());
        }
        let Ok(reference) = registry::parse(image) else {
            return Err(format!(
                "--collector-image {image:?} is not an image name (REGISTRY/NAME:TAG)"
            ));
        };
        let held = *self
            .registry
            .get_or_init(|| registry::holds(&reference))
            .await;
        match held {
            Some(false) => Err(format!(
                "node {node} does not hold the collector image {image} and {} has no such image, so an ephemeral container would fail and stay in the pod's spec: push it there with `cairn image --push {image}`, or name another with --collector-image",
                reference.resolve_registry()
            )),
            // Neither the node nor its registry can be asked: a name without a
            // registry, absent from the node's whole list, is one only `docker
            // load`/`ctr import` on the node could have provided.
            None if listed == Listed::Absent && image_is_local_only(image) => Err(format!(
                "node {node} does not hold the collector image {image}: load it there (`cairn image` writes it for docker load or ctr import) or push it with `cairn image --push REGISTRY/NAME:TAG` and pass --collector-image"
            )),
            _ => Ok(()),
        }
    }
}

/// cairn's default name, which no public registry serves: only a node that loaded
/// it holds it.
fn image_is_local_only(image: &str) -> bool {
    image == crate::route::default_image()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerImage, NodeStatus};

    fn node_with(names: &[&[&str]]) -> Node {
        Node {
            status: Some(NodeStatus {
                images: Some(
                    names
                        .iter()
                        .map(|n| ContainerImage {
                            names: Some(n.iter().map(|s| s.to_string()).collect()),
                            size_bytes: None,
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_node_holds_an_image_under_any_of_its_names_and_a_full_list_proves_nothing() {
        let n = node_with(&[&[
            "docker.io/library/cairn-collector@sha256:ab",
            "docker.io/library/cairn-collector:0.1.0",
        ]]);
        assert_eq!(listed(&n, "cairn-collector:0.1.0"), Listed::Held);
        assert_eq!(
            listed(&n, "docker.io/library/cairn-collector:0.1.0"),
            Listed::Held
        );
        assert_eq!(listed(&n, "cairn-collector:0.2.0"), Listed::Absent);
        assert_eq!(
            listed(&Node::default(), "cairn-collector:0.1.0"),
            Listed::Unknown
        );
        let full: Vec<Vec<String>> = (0..KUBELET_IMAGE_CAP)
            .map(|i| vec![format!("app{i}:1")])
            .collect();
        let refs: Vec<Vec<&str>> = full
            .iter()
            .map(|v| v.iter().map(String::as_str).collect())
            .collect();
        let slices: Vec<&[&str]> = refs.iter().map(Vec::as_slice).collect();
        assert_eq!(
            listed(&node_with(&slices), "cairn-collector:0.1.0"),
            Listed::Unknown
        );
    }
}
