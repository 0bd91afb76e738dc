//! deploy/admission-policy.yaml checked where no API server evaluates it (the test
//! server admits everything): the file holds the three objects Kubernetes takes (typed
//! by k8s-openapi, so a misspelt field fails), and each of its CEL expressions,
//! evaluated with `cel-interpreter` as the API server would, admits the node pod the
//! launcher makes, for either runtime and a Localhost profile, and refuses each
//! deviation that would make the pod a way onto the node.

use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{json, Value};

const POLICY: &str = include_str!("../../../deploy/admission-policy.yaml");

/// The three objects of the file, parsed as their Kubernetes types.
fn objects() -> (
    ConfigMap,
    ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding,
) {
    let docs: Vec<Value> = serde_yaml_ng::Deserializer::from_str(POLICY)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    assert_eq!(docs.len(), 3, "{docs:?}");
    let typed = |i: usize| docs[i].clone();
    (
        serde_json::from_value(typed(0)).unwrap(),
        serde_json::from_value(typed(1)).unwrap(),
        serde_json::from_value(typed(2)).unwrap(),
    )
}

/// The messages of the validations `pod` fails, as the API server would refuse it.
fn refusals(pod: &Value) -> Vec<String> {
    let (params, policy, _) = objects();
    let params = serde_json::to_value(&params).unwrap();
    let spec = policy.spec.unwrap();
    spec.validations
        .unwrap()
        .into_iter()
        .filter(|v| {
            let program = cel_interpreter::Program::compile(&v.expression)
                .unwrap_or_else(|e| panic!("{}: {e}", v.expression));
            let mut cx = cel_interpreter::Context::default();
            cx.add_variable("object", pod.clone()).unwrap();
            cx.add_variable("params", params.clone()).unwrap();
            // An error fails the request too (failurePolicy: Fail).
            !matches!(program.execute(&cx), Ok(cel_interpreter::Value::Bool(true)))
        })
        .map(|v| v.message.unwrap_or_default())
        .collect()
}

/// One change that makes the pod a way onto the node.
type Deviation = Box<dyn Fn(&mut Value)>;

fn cairns_pod(runtime: &str, seccomp: Option<&str>) -> Value {
    let n = super::node::Node {
        image: super::default_image(),
        namespace: "cairn-system".into(),
        deadline: std::time::Duration::from_secs(600),
        seccomp: seccomp.map(str::to_owned),
        node_logs: true,
        at_once: 4,
        pod_per_target: false,
        pool: Default::default(),
    };
    let spot = super::node::Spot {
        node: "node-1",
        runtime,
        targets: 8,
        at_once: 4,
    };
    super::node::manifest("cairn-node-1", &spot, &n)
}

#[test]
fn the_file_holds_a_policy_its_binding_and_the_image_cairn_runs() {
    let (params, policy, binding) = objects();
    let data = params.data.unwrap();
    assert_eq!(
        data["image"],
        super::default_image(),
        "the ConfigMap names another image"
    );
    let spec = binding.spec;
    assert_eq!(
        Some(spec.policy_name.as_str()),
        policy.metadata.name.as_deref()
    );
    assert_eq!(spec.validation_actions, vec!["Deny".to_owned()]);
    let selector = spec.match_resources.unwrap().namespace_selector.unwrap();
    assert_eq!(
        selector.match_labels.unwrap()["kubernetes.io/metadata.name"],
        "cairn-system"
    );
    assert_eq!(policy.spec.unwrap().failure_policy.as_deref(), Some("Fail"));
}

#[test]
fn the_policy_admits_cairns_node_pod_and_refuses_each_way_onto_the_node() {
    for (runtime, seccomp) in [
        ("docker", None),
        ("containerd", None),
        ("containerd", Some("profiles/cairn-node.json")),
    ] {
        let pod = cairns_pod(runtime, seccomp);
        assert_eq!(
            refusals(&pod),
            Vec::<String>::new(),
            "{runtime} {seccomp:?}"
        );
    }
    for (what, change) in deviations() {
        let mut pod = cairns_pod("containerd", None);
        change(&mut pod);
        assert!(!refusals(&pod).is_empty(), "{what} was admitted");
    }
}

/// Each way a pod in cairn-system could reach beyond reading containers' files.
fn deviations() -> Vec<(&'static str, Deviation)> {
    vec![
        (
            "another image",
            Box::new(|p| p["spec"]["containers"][0]["image"] = json!("alpine:3")),
        ),
        (
            "a shell",
            Box::new(|p| p["spec"]["containers"][0]["command"] = json!(["/bin/sh", "-c", "id"])),
        ),
        (
            "the node's /",
            Box::new(|p| p["spec"]["volumes"][0]["hostPath"]["path"] = json!("/")),
        ),
        (
            "a writable mount",
            Box::new(|p| p["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] = json!(false)),
        ),
        (
            "privileged",
            Box::new(|p| p["spec"]["containers"][0]["securityContext"]["privileged"] = json!(true)),
        ),
        (
            "escalation",
            Box::new(|p| {
                p["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] =
                    json!(true)
            }),
        ),
        (
            "SYS_ADMIN",
            Box::new(|p| {
                p["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] =
                    json!(["DAC_READ_SEARCH", "SYS_ADMIN"])
            }),
        ),
        (
            "capabilities kept",
            Box::new(|p| {
                p["spec"]["containers"][0]["securityContext"]["capabilities"]["drop"] = json!([])
            }),
        ),
        ("host PID", Box::new(|p| p["spec"]["hostPID"] = json!(true))),
        (
            "host network",
            Box::new(|p| p["spec"]["hostNetwork"] = json!(true)),
        ),
        (
            "Unconfined",
            Box::new(|p| {
                p["spec"]["securityContext"]["seccompProfile"] = json!({"type": "Unconfined"})
            }),
        ),
        (
            "Unconfined container",
            Box::new(|p| {
                p["spec"]["containers"][0]["securityContext"]["seccompProfile"] =
                    json!({"type": "Unconfined"})
            }),
        ),
        (
            "a token",
            Box::new(|p| p["spec"]["automountServiceAccountToken"] = json!(true)),
        ),
        (
            "a second container",
            Box::new(|p| {
                let c = p["spec"]["containers"][0].clone();
                p["spec"]["containers"].as_array_mut().unwrap().push(c);
            }),
        ),
        (
            "an init container",
            Box::new(|p| p["spec"]["initContainers"] = p["spec"]["containers"].clone()),
        ),
        (
            "an ephemeral container",
            Box::new(|p| {
                p["spec"]["ephemeralContainers"] = json!([{"name": "x", "image": "alpine:3"}])
            }),
        ),
        (
            "no security context",
            Box::new(|p| {
                p["spec"]["containers"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("securityContext")
                    .map(drop)
                    .unwrap_or(())
            }),
        ),
    ]
}
