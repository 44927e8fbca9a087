//! Which manifest form a client gets for a tag: the OCI one, unless the
//! client accepts Docker schema 2 and prefers it (lists it with a higher
//! `q`, or first at the same `q`, or does not accept OCI at all). Docker
//! clients of old send only the Docker type; skopeo, podman and
//! containerd list both, OCI first or at equal weight; a client sending no
//! `Accept` gets OCI. A manifest asked for by digest is always served in
//! its own form.

use axum::http::{header, HeaderMap};

use crate::image::repository::{ManifestKind, DOCKER_MANIFEST, OCI_MANIFEST};

/// The form `headers` prefer, given that the image has a Docker manifest.
pub fn preferred(headers: &HeaderMap) -> ManifestKind {
    // (media type, q) in the order sent, over every Accept header.
    let accepted: Vec<(String, f32)> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|item| {
            let mut parts = item.split(';');
            let media_type = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (media_type, q)
        })
        .filter(|(_, q)| *q > 0.0)
        .collect();
    let find = |wanted: &str| accepted.iter().position(|(t, _)| t == wanted);
    match (find(DOCKER_MANIFEST), find(OCI_MANIFEST)) {
        (Some(_), None) => ManifestKind::Docker,
        (Some(d), Some(o))
            if accepted[d].1 > accepted[o].1 || (accepted[d].1 == accepted[o].1 && d < o) =>
        {
            ManifestKind::Docker
        }
        _ => ManifestKind::Oci,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(accepts: &[&str]) -> ManifestKind {
        let mut headers = HeaderMap::new();
        for a in accepts {
            headers.append(header::ACCEPT, HeaderValue::from_str(a).unwrap());
        }
        preferred(&headers)
    }

    #[test]
    fn oci_unless_docker_is_preferred() {
        use ManifestKind::*;
        assert_eq!(with(&[]), Oci);
        assert_eq!(with(&["*/*"]), Oci);
        assert_eq!(with(&[DOCKER_MANIFEST]), Docker);
        assert_eq!(with(&[OCI_MANIFEST]), Oci);
        assert_eq!(with(&[&format!("{OCI_MANIFEST}, {DOCKER_MANIFEST}")]), Oci);
        assert_eq!(
            with(&[&format!("{DOCKER_MANIFEST}, {OCI_MANIFEST}")]),
            Docker
        );
        assert_eq!(with(&[DOCKER_MANIFEST, OCI_MANIFEST]), Docker);
        assert_eq!(
            with(&[&format!("{DOCKER_MANIFEST};q=0.5, {OCI_MANIFEST}")]),
            Oci
        );
        assert_eq!(
            with(&[&format!("{OCI_MANIFEST};q=0.5, {DOCKER_MANIFEST}")]),
            Docker
        );
        assert_eq!(with(&[&format!("{DOCKER_MANIFEST};q=0")]), Oci);
    }
}
