//! `docker run` arguments from a Kubernetes container spec, shared by the pods this
//! server creates and by ephemeral containers: the securityContext (user and group,
//! capabilities, read-only root, no privilege escalation; privileged refused) and the
//! image with its command and args (`command` replaces the entrypoint, `args` follow, as
//! the kubelet does).

use serde_json::Value;

/// The strings of a JSON array (`command`, `args`).
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Arguments for `securityContext`; an invalid capability name is an error message.
pub fn security(sc: &Value) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    match (sc["runAsUser"].as_i64(), sc["runAsGroup"].as_i64()) {
        (Some(u), Some(g)) => args.extend(["--user".into(), format!("{u}:{g}")]),
        (Some(u), None) => args.extend(["--user".into(), u.to_string()]),
        _ => {}
    }
    if sc["capabilities"]["drop"]
        .as_array()
        .is_some_and(|d| d.iter().any(|x| x == "ALL"))
    {
        args.extend(["--cap-drop".into(), "ALL".into()]);
    }
    for cap in sc["capabilities"]["add"].as_array().into_iter().flatten() {
        let c = cap.as_str().unwrap_or_default();
        if c.is_empty() || !c.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_') {
            return Err(format!("capability {c:?} is not valid"));
        }
        args.extend(["--cap-add".into(), c.to_owned()]);
    }
    if sc["readOnlyRootFilesystem"] == true {
        args.push("--read-only".into());
    }
    if sc["allowPrivilegeEscalation"] == false {
        args.extend(["--security-opt".into(), "no-new-privileges".into()]);
    }
    if sc["privileged"] == true {
        return Err("privileged containers are not served".into());
    }
    Ok(args)
}

/// The image and what it runs, the last arguments of `docker run`. `--` ends the
/// options, so an image named like a flag (`--privileged`) is an image.
pub fn image_and_command(container: &Value, image: &str) -> Vec<String> {
    let mut args = Vec::new();
    let command = strings(&container["command"]);
    if let Some((first, more)) = command.split_first() {
        args.extend([
            "--entrypoint".into(),
            first.clone(),
            "--".into(),
            image.to_owned(),
        ]);
        args.extend(more.iter().cloned());
    } else {
        args.extend(["--".into(), image.to_owned()]);
    }
    args.extend(strings(&container["args"]));
    args
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn an_image_named_like_a_flag_stays_an_image() {
        assert_eq!(
            super::image_and_command(&json!({}), "--privileged"),
            ["--", "--privileged"]
        );
        assert_eq!(
            super::image_and_command(&json!({"command": ["/x", "-v"], "args": ["a"]}), "img"),
            ["--entrypoint", "/x", "--", "img", "-v", "a"]
        );
    }
}
