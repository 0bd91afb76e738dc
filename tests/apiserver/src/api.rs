//! The REST side: discovery (`/version`, `/api`, `/apis`, `/api/v1`, the authorization
//! group), pods list, get and watch (JSON or the server-side Table kubectl asks for), label
//! selectors, SelfSubjectAccessReview, and the entry to `pods/exec`. Every request but
//! `/version` needs a known bearer token; what the token's user may do is checked as
//! RBAC would, and refusals are real `Status` objects. `pods/log` is [`crate::logs`];
//! service accounts, RBAC, network policies, owners and events are [`crate::objects`].

use crate::{auth, exec, pods, State};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, std::convert::Infallible>;

fn respond(code: u16, v: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(v.to_string())).boxed_unsync())
        .unwrap_or_default()
}

fn status(v: Value) -> Response<Body> {
    let code = v["code"].as_u64().unwrap_or(500) as u16;
    respond(code, &v)
}

fn not_found(what: &str, name: &str) -> Response<Body> {
    status(auth::status(
        404,
        "NotFound",
        &format!("{what} \"{name}\" not found"),
        json!({"name": name, "kind": what}),
    ))
}

fn query(req: &Request<Incoming>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-decoding of a query component (`+` is a space).
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
                continue;
            }
            (b'+', _) => out.push(b' '),
            (c, _) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn resource_list(group_version: &str, resources: Value) -> Value {
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

fn discovery(path: &str) -> Option<Value> {
    Some(match path {
        "/api" => json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
        }),
        "/apis" => {
            let mut groups = vec![json!({
                "name": "authorization.k8s.io",
                "versions": [{"groupVersion": "authorization.k8s.io/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "authorization.k8s.io/v1", "version": "v1"},
            })];
            groups.push(json!({
                "name": "authentication.k8s.io",
                "versions": [{"groupVersion": "authentication.k8s.io/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "authentication.k8s.io/v1", "version": "v1"},
            }));
            groups.extend(crate::objects::groups());
            json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        }
        "/api/v1" => resource_list(
            "v1",
            json!([
                {"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod",
                 "verbs": ["create", "delete", "get", "list", "watch"], "shortNames": ["po"], "categories": ["all"]},
                {"name": "pods/exec", "singularName": "", "namespaced": true, "kind": "PodExecOptions",
                 "verbs": ["create", "get"]},
                {"name": "pods/ephemeralcontainers", "singularName": "", "namespaced": true, "kind": "Pod",
                 "verbs": ["get", "patch", "update"]},
                {"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace",
                 "verbs": ["get", "list"], "shortNames": ["ns"]},
                {"name": "nodes", "singularName": "node", "namespaced": false, "kind": "Node",
                 "verbs": ["get"], "shortNames": ["no"]},
                {"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod",
                 "verbs": ["get"]},
                {"name": "serviceaccounts", "singularName": "serviceaccount", "namespaced": true,
                 "kind": "ServiceAccount", "verbs": ["get", "list"], "shortNames": ["sa"]},
                {"name": "events", "singularName": "event", "namespaced": true, "kind": "Event",
                 "verbs": ["get", "list"], "shortNames": ["ev"]},
            ]),
        ),
        "/apis/authentication.k8s.io/v1" => resource_list(
            "authentication.k8s.io/v1",
            json!([{"name": "selfsubjectreviews", "singularName": "selfsubjectreview",
                    "namespaced": false, "kind": "SelfSubjectReview", "verbs": ["create"]}]),
        ),
        "/apis/authorization.k8s.io/v1" => resource_list(
            "authorization.k8s.io/v1",
            json!([{"name": "selfsubjectaccessreviews", "singularName": "selfsubjectaccessreview",
                    "namespaced": false, "kind": "SelfSubjectAccessReview", "verbs": ["create"]}]),
        ),
        p if p.starts_with("/apis/") && p.matches('/').count() == 3 => {
            let gv = &p["/apis/".len()..];
            let resources = crate::objects::resources(gv);
            if resources.is_empty() {
                return None;
            }
            resource_list(gv, json!(resources))
        }
        _ => return None,
    })
}

/// Answers one request.
pub async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let method = req.method().clone();
    tracing::info!(%method, %path, "request");
    if path == "/version" {
        return respond(
            200,
            &json!({"major": "1", "minor": "31", "gitVersion": "v1.31.0-cairn-test",
                    "platform": "linux/amd64", "goVersion": "none", "compiler": "none"}),
        );
    }
    let authz = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let Some(user) = state.tokens.user(authz) else {
        return status(auth::unauthorized());
    };
    if method == hyper::Method::GET {
        if let Some(v) = discovery(&path) {
            return respond(200, &v);
        }
    }
    let parts: Vec<&str> = path.split('/').skip(1).collect();
    match (method.as_str(), parts.as_slice()) {
        ("POST", ["apis", "authorization.k8s.io", "v1", "selfsubjectaccessreviews"]) => {
            access_review(req, user).await
        }
        // Who the token is: every user may ask (as on a real cluster).
        ("POST", ["apis", "authentication.k8s.io", "v1", "selfsubjectreviews"]) => respond(
            201,
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview",
                    "metadata": {"creationTimestamp": null},
                    "status": {"userInfo": {"username": user, "groups": ["system:authenticated"]}}}),
        ),
        ("GET", ["api", "v1", "namespaces"]) => namespaces().await,
        ("GET", ["api", "v1", "namespaces", ns]) => namespace(ns).await,
        ("GET", ["api", "v1", "nodes", name]) => {
            if !auth::allowed(user, "get", "nodes", "") {
                return status(auth::forbidden(user, "get", "nodes", "", name, None));
            }
            match pods::node(name) {
                Some(mut n) => {
                    n["status"]["images"] = Value::Array(pods::node_images().await);
                    respond(200, &n)
                }
                None => not_found("nodes", name),
            }
        }
        ("POST", ["api", "v1", "namespaces", ns, "pods"]) => {
            let ns = ns.to_string();
            create_pod(req, user, &ns, &state).await
        }
        ("DELETE", ["api", "v1", "namespaces", ns, "pods", name]) => {
            delete_pod(user, ns, name, &state).await
        }
        ("GET", ["api", "v1", "pods"]) => list(&req, user, None).await,
        ("GET", ["api", "v1", "namespaces", ns, "pods"]) => list(&req, user, Some(ns)).await,
        ("GET", ["api", "v1", "namespaces", ns, "pods", name]) => get_pod(user, ns, name).await,
        ("PATCH", ["api", "v1", "namespaces", ns, "pods", name, "ephemeralcontainers"]) => {
            let (ns, name) = (ns.to_string(), name.to_string());
            patch_ephemeral(req, user, &ns, &name).await
        }
        ("GET", ["api", "v1", "namespaces", ns, "pods", name, "log"]) => {
            let o = crate::logs::Options::from_query(&query(&req));
            pod_log(user, ns, name, &o).await
        }
        ("GET", parts) if crate::objects::wanted(parts).is_some() => {
            let Some(w) = crate::objects::wanted(parts) else {
                return not_found("resource", "");
            };
            let verb = if w.name.is_some() { "get" } else { "list" };
            if !auth::allowed(user, verb, w.kind.plural, "") {
                return status(auth::forbidden(
                    user,
                    verb,
                    w.kind.plural,
                    "",
                    w.name.unwrap_or(""),
                    w.namespace,
                ));
            }
            let selector = query(&req)
                .into_iter()
                .find(|(k, _)| k == "fieldSelector")
                .map(|(_, v)| v)
                .unwrap_or_default();
            match crate::objects::answer(state.objects.as_deref(), &w, &selector) {
                Ok(v) => respond(200, &v),
                Err((code, reason, message)) => status(auth::status(
                    code,
                    reason,
                    &message,
                    json!({"name": w.name, "kind": w.kind.plural}),
                )),
            }
        }
        ("GET" | "POST", ["api", "v1", "namespaces", ns, "pods", name, "exec"]) => {
            let (ns, name) = (ns.to_string(), name.to_string());
            exec_upgrade(state, req, user, &ns, &name).await
        }
        _ => status(auth::status(
            404,
            "NotFound",
            "the server could not find the requested resource",
            json!({}),
        )),
    }
}

/// A 500 Status for an error of the server itself (Docker failing).
fn internal(e: impl std::fmt::Display) -> Response<Body> {
    status(auth::status(
        500,
        "InternalError",
        &e.to_string(),
        json!({}),
    ))
}

/// SelfSubjectAccessReview, in JSON or protobuf: allowed or not, by the user's role.
async fn access_review(req: Request<Incoming>, user: &str) -> Response<Body> {
    let protobuf = req.headers().get("content-type").is_some_and(|v| {
        v.as_bytes()
            .starts_with(b"application/vnd.kubernetes.protobuf")
    });
    let bad = |m: &str| status(auth::status(400, "BadRequest", m, json!({})));
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return bad("unreadable body"),
    };
    let review = if protobuf {
        crate::proto::access_review(&body)
    } else {
        serde_json::from_slice::<Value>(&body).ok()
    };
    let Some(mut review) = review else {
        return bad("the body is not a SelfSubjectAccessReview");
    };
    let a = &review["spec"]["resourceAttributes"];
    let s = |k: &str| a[k].as_str().unwrap_or("").to_owned();
    let ok = auth::allowed(user, &s("verb"), &s("resource"), &s("subresource"));
    review["status"] = if ok {
        json!({"allowed": true, "reason": "cairn-test-apiserver: allowed"})
    } else {
        json!({"allowed": false})
    };
    respond(201, &review)
}

/// The namespaces that hold pods.
async fn namespaces() -> Response<Body> {
    let pods = match pods::all().await {
        Ok(p) => p,
        Err(e) => return internal(e),
    };
    let mut names: Vec<String> = pods.iter().map(|p| p.namespace.clone()).collect();
    names.sort();
    names.dedup();
    let items: Vec<Value> = names
        .iter()
        .map(|n| json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": n}, "status": {"phase": "Active"}}))
        .collect();
    respond(
        200,
        &json!({"kind": "NamespaceList", "apiVersion": "v1", "metadata": {}, "items": items}),
    )
}

/// One namespace: one that holds pods.
async fn namespace(name: &str) -> Response<Body> {
    match pods::all().await {
        Ok(p) if p.iter().any(|p| p.namespace == name) => respond(
            200,
            &json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": name}, "status": {"phase": "Active"}}),
        ),
        Ok(_) => not_found("namespaces", name),
        Err(e) => internal(e),
    }
}

/// Creates a pod of Docker containers.
async fn create_pod(
    req: Request<Incoming>,
    user: &str,
    ns: &str,
    state: &crate::State,
) -> Response<Body> {
    if !auth::allowed(user, "create", "pods", "") {
        return status(auth::forbidden(user, "create", "pods", "", "", Some(ns)));
    }
    let pod = match json_body(req, "the body is not a JSON Pod").await {
        Ok(v) => v,
        Err(refusal) => return refusal,
    };
    match crate::create::create(ns, &pod, state).await {
        Ok(name) => match find(ns, &name).await {
            Ok(Some(p)) => respond(201, &p.to_json()),
            _ => respond(201, &pod),
        },
        Err((code, reason, message)) => status(auth::status(
            code,
            reason,
            &message,
            json!({"kind": "pods"}),
        )),
    }
}

/// Deletes a pod's containers.
async fn delete_pod(user: &str, ns: &str, name: &str, state: &crate::State) -> Response<Body> {
    if !auth::allowed(user, "delete", "pods", "") {
        return status(auth::forbidden(user, "delete", "pods", "", name, Some(ns)));
    }
    let found = find(ns, name).await.ok().flatten();
    if crate::create::delete(ns, name, state).await == 0 {
        return not_found("pods", name);
    }
    match found {
        Some(p) => respond(200, &p.to_json()),
        None => respond(
            200,
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
        ),
    }
}

/// One pod.
async fn get_pod(user: &str, ns: &str, name: &str) -> Response<Body> {
    if !auth::allowed(user, "get", "pods", "") {
        return status(auth::forbidden(user, "get", "pods", "", name, Some(ns)));
    }
    match find(ns, name).await {
        Ok(Some(p)) => respond(200, &p.to_json()),
        Ok(None) => not_found("pods", name),
        Err(e) => internal(e),
    }
}

/// A container's log, as text.
async fn pod_log(user: &str, ns: &str, name: &str, o: &crate::logs::Options) -> Response<Body> {
    if !auth::allowed(user, "get", "pods", "log") {
        return status(auth::forbidden(user, "get", "pods", "log", name, Some(ns)));
    }
    let pod = match find(ns, name).await {
        Ok(Some(p)) => p,
        Ok(None) => return not_found("pods", name),
        Err(e) => return internal(e),
    };
    match crate::logs::log(&pod, o).await {
        Ok(body) => Response::builder()
            .status(200)
            .header("content-type", "text/plain")
            .body(Full::new(Bytes::from(body)).boxed_unsync())
            .unwrap_or_default(),
        Err((code, reason, message)) => status(auth::status(code, reason, &message, json!({}))),
    }
}

/// The ephemeralcontainers subresource: adds the patch's new ephemeral containers.
async fn patch_ephemeral(
    req: Request<Incoming>,
    user: &str,
    ns: &str,
    name: &str,
) -> Response<Body> {
    if !auth::allowed(user, "patch", "pods", "ephemeralcontainers") {
        return status(auth::forbidden(
            user,
            "patch",
            "pods",
            "ephemeralcontainers",
            name,
            Some(ns),
        ));
    }
    let patch = match json_body(req, "the patch is not JSON").await {
        Ok(v) => v,
        Err(refusal) => return refusal,
    };
    let pod = match find(ns, name).await {
        Ok(Some(p)) => p,
        Ok(None) => return not_found("pods", name),
        Err(e) => return internal(e),
    };
    if let Err((code, reason, message)) = crate::ephemeral::apply(&pod, &patch).await {
        return status(auth::status(
            code,
            reason,
            &message,
            json!({"name": name, "kind": "pods"}),
        ));
    }
    match find(ns, name).await {
        Ok(Some(p)) => respond(200, &crate::ephemeral::answer(&p)),
        Ok(None) => not_found("pods", name),
        Err(e) => internal(e),
    }
}

/// A request's JSON body, or the 400 Status that refuses it (`not_json` says what was
/// expected).
async fn json_body(req: Request<Incoming>, not_json: &str) -> Result<Value, Response<Body>> {
    let bad = |m: &str| status(auth::status(400, "BadRequest", m, json!({})));
    let body = req
        .into_body()
        .collect()
        .await
        .map_err(|_| bad("unreadable body"))?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|_| bad(not_json))
}

async fn find(ns: &str, name: &str) -> anyhow::Result<Option<pods::Pod>> {
    Ok(pods::all()
        .await?
        .into_iter()
        .find(|p| p.namespace == ns && p.name == name))
}

async fn list(req: &Request<Incoming>, user: &str, ns: Option<&str>) -> Response<Body> {
    if !auth::allowed(user, "list", "pods", "") {
        return status(auth::forbidden(user, "list", "pods", "", "", ns));
    }
    let q: BTreeMap<String, String> = query(req).into_iter().collect();
    let selector = q.get("labelSelector").cloned().unwrap_or_default();
    let accept = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if matches!(q.get("watch").map(String::as_str), Some("true" | "1")) {
        if !auth::allowed(user, "watch", "pods", "") {
            return status(auth::forbidden(user, "watch", "pods", "", "", ns));
        }
        let rv = q.get("resourceVersion").map(String::as_str).unwrap_or("");
        let w = crate::watch::Watch {
            namespace: ns.map(str::to_owned),
            selector,
            table: accept.contains("as=Table"),
            from_start: rv.is_empty() || rv == "0",
            timeout: std::time::Duration::from_secs(
                q.get("timeoutSeconds")
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(1800),
            ),
        };
        return Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(BodyExt::boxed_unsync(crate::watch::stream(w)))
            .unwrap_or_default();
    }
    let all = match pods::all().await {
        Ok(p) => p,
        Err(e) => {
            return status(auth::status(
                500,
                "InternalError",
                &e.to_string(),
                json!({}),
            ))
        }
    };
    let pods: Vec<pods::Pod> = all
        .into_iter()
        .filter(|p| ns.is_none_or(|n| p.namespace == n))
        .filter(|p| pods::matches(&selector, &p.labels))
        .collect();
    if accept.contains("as=Table") {
        let mut t = pods::table(&pods);
        t["apiVersion"] = json!("meta.k8s.io/v1");
        return respond(200, &t);
    }
    // Pages, as API servers give them: `limit` items from the offset `continue` names,
    // and the token of the next page while there is one.
    let from: usize = q.get("continue").and_then(|c| c.parse().ok()).unwrap_or(0);
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let page: Vec<Value> = pods
        .iter()
        .skip(from)
        .take(limit)
        .map(pods::Pod::to_json)
        .collect();
    let next = from.saturating_add(page.len());
    tracing::info!(from, items = page.len(), of = pods.len(), "pods listed");
    let mut metadata = json!({"resourceVersion": "1"});
    if next < pods.len() {
        metadata["continue"] = json!(next.to_string());
        metadata["remainingItemCount"] = json!(pods.len() - next);
    }
    respond(
        200,
        &json!({
            "kind": "PodList",
            "apiVersion": "v1",
            "metadata": metadata,
            "items": page,
        }),
    )
}

/// pods/exec: checks the request, picks the container, and upgrades the connection
/// to a WebSocket on which [`exec::run`] runs the command.
async fn exec_upgrade(
    state: Arc<State>,
    mut req: Request<Incoming>,
    user: &str,
    ns: &str,
    name: &str,
) -> Response<Body> {
    if !auth::allowed(user, "create", "pods", "exec") {
        return status(auth::forbidden(
            user,
            "create",
            "pods",
            "exec",
            name,
            Some(ns),
        ));
    }
    let bad = |m: &str| status(auth::status(400, "BadRequest", m, json!({})));
    let q = query(&req);
    let get = |k: &str| q.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    let command: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == "command")
        .map(|(_, v)| v.clone())
        .collect();
    if command.is_empty() {
        return bad("you must specify at least 1 command");
    }
    let container = match exec_container(ns, name, get("container")).await {
        Ok(c) => c,
        Err(refusal) => return refusal,
    };
    let (key, protocol) = match websocket(&req, state.v4_only) {
        Ok(k) => k,
        Err(why) => return bad(&why),
    };
    let record = state.record_execs.as_ref().map(|(dir, n)| {
        let n = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _ = std::fs::create_dir_all(dir);
        let _ = std::fs::write(dir.join(format!("exec-{n}.argv")), command.join("\n"));
        dir.join(format!("exec-{n}.stdin"))
    });
    let request = exec::ExecRequest {
        container_id: container.id.clone(),
        command,
        stdin: get("stdin").is_some_and(|v| v == "true" || v == "1"),
        protocol,
        record,
    };
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match upgrade.await {
            Ok(up) => {
                let io = hyper_util::rt::TokioIo::new(up);
                let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
                    io,
                    tokio_tungstenite::tungstenite::protocol::Role::Server,
                    None,
                )
                .await;
                exec::run(ws, request).await;
            }
            Err(e) => tracing::warn!("exec upgrade failed: {e}"),
        }
    });
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-accept", accept)
        .header("sec-websocket-protocol", protocol)
        .body(Full::new(Bytes::new()).boxed_unsync())
        .unwrap_or_default()
}

/// The running container an exec names (or the pod's only one), or the refusal.
async fn exec_container(
    ns: &str,
    name: &str,
    wanted: Option<String>,
) -> Result<pods::Container, Response<Body>> {
    let bad = |m: &str| status(auth::status(400, "BadRequest", m, json!({})));
    let pod = match find(ns, name).await {
        Ok(Some(p)) => p,
        Ok(None) => return Err(not_found("pods", name)),
        Err(e) => return Err(internal(e)),
    };
    let container = match wanted.filter(|c| !c.is_empty()) {
        Some(c) => match pod.containers.iter().find(|x| x.name == c) {
            Some(x) => x.clone(),
            None => return Err(bad(&format!("container {c} is not valid for pod {name}"))),
        },
        None if pod.regular().count() == 1 => match pod.regular().next() {
            Some(c) => c.clone(),
            None => return Err(not_found("pods", name)),
        },
        None => {
            return Err(bad(&format!(
                "a container name must be specified for pod {name}"
            )))
        }
    };
    if !container.running {
        return Err(bad(&format!("container {} is not running", container.name)));
    }
    Ok(container)
}

/// The WebSocket key and the exec subprotocol chosen from those offered; SPDY and plain
/// requests are refused, as a server without SPDY would.
fn websocket(req: &Request<Incoming>, v4_only: bool) -> Result<(String, &'static str), String> {
    let h = req.headers();
    let is_ws = h
        .get("upgrade")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let key = h
        .get("sec-websocket-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let offered = h
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (true, Some(key)) = (is_ws, key) else {
        return Err("cairn-test-apiserver serves exec over WebSocket only (v5.channel.k8s.io, v4.channel.k8s.io)".into());
    };
    let protocol = exec::choose(&offered, v4_only)
        .ok_or_else(|| format!("none of the offered subprotocols ({offered}) is served"))?;
    Ok((key, protocol))
}
