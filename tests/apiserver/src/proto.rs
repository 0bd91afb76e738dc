//! Just enough of the Kubernetes protobuf encoding to read a SelfSubjectAccessReview,
//! which kubectl sends as `application/vnd.kubernetes.protobuf`: the `k8s\0` magic, the
//! `runtime.Unknown` envelope (field 2: raw), and the review's
//! `spec.resourceAttributes` strings. Hand-written because a protobuf crate would need
//! the generated Kubernetes types for these three fields; answers go back as JSON,
//! which kubectl accepts.

/// The protobuf wire format: (field number, bytes) of each length-delimited field;
/// varints and fixed-width fields are skipped. `None` on malformed input.
fn fields(mut b: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    fn varint(b: &mut &[u8]) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = b.split_first()?;
            *b = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b)?;
        match key & 7 {
            0 => {
                varint(&mut b)?;
            }
            1 => b = b.get(8..)?,
            2 => {
                let len = usize::try_from(varint(&mut b)?).ok()?;
                let (v, rest) = (b.get(..len)?, b.get(len..)?);
                out.push((key >> 3, v));
                b = rest;
            }
            5 => b = b.get(4..)?,
            _ => return None,
        }
    }
    Some(out)
}

fn field(b: &[u8], n: u64) -> Option<&[u8]> {
    fields(b)?
        .into_iter()
        .find(|(k, _)| *k == n)
        .map(|(_, v)| v)
}

/// `spec.resourceAttributes` of a protobuf SelfSubjectAccessReview, as the JSON the
/// rest of the server reads.
pub fn access_review(body: &[u8]) -> Option<serde_json::Value> {
    let raw = field(body.strip_prefix(b"k8s\0")?, 2)?;
    let attrs = field(field(raw, 2)?, 1)?;
    let mut v = serde_json::Map::new();
    let names = [
        "namespace",
        "verb",
        "group",
        "version",
        "resource",
        "subresource",
        "name",
    ];
    for (n, bytes) in fields(attrs)? {
        if let Some(name) = usize::try_from(n).ok().and_then(|i| names.get(i - 1)) {
            v.insert(
                (*name).to_owned(),
                String::from_utf8_lossy(bytes).into_owned().into(),
            );
        }
    }
    Some(serde_json::json!({
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {},
        "spec": {"resourceAttributes": v},
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_what_kubectl_auth_can_i_sends() {
        // Captured from kubectl 1.37 `auth can-i create pods --subresource=exec -n shop`.
        let mut attrs = Vec::new();
        for (n, s) in [
            (1u8, "shop"),
            (2, "create"),
            (3, ""),
            (4, ""),
            (5, "pods"),
            (6, "exec"),
        ] {
            attrs.push(n << 3 | 2);
            attrs.push(s.len() as u8);
            attrs.extend_from_slice(s.as_bytes());
        }
        let spec = [&[10u8, attrs.len() as u8][..], &attrs].concat();
        let review = [&[10u8, 0, 18, spec.len() as u8][..], &spec].concat();
        let tm = b"\x0a\x17authorization.k8s.io/v1\x12\x17SelfSubjectAccessReview";
        let body = [
            &b"k8s\0"[..],
            &[10u8, tm.len() as u8],
            tm,
            &[18u8, review.len() as u8],
            &review,
        ]
        .concat();
        let v = super::access_review(&body).unwrap();
        let a = &v["spec"]["resourceAttributes"];
        assert_eq!(a["namespace"], "shop");
        assert_eq!(a["verb"], "create");
        assert_eq!(a["resource"], "pods");
        assert_eq!(a["subresource"], "exec");
        assert!(super::access_review(b"k8s\0\x12\xff").is_none());
        assert!(super::access_review(b"{}").is_none());
    }
}
