//! The view in the page's address, so a view can be shared: where the
//! closure came from, the compare row, the budget, the image and revision
//! shown, pins, excludes and the pipeline. As `(key, value)` pairs; the
//! browser's `URLSearchParams` encodes them (pure here, tested natively).
//!
//! A closure opened from a file or a paste has no address to give: the
//! page says so, and the rest of the view is still in the address.

/// Where the page's closures come from, as far as an address can say.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Origin {
    /// The bundled example fleet: no key in the address.
    #[default]
    Bundled,
    /// One of the serving `strata serve`'s examples (`example=NAME`).
    ServerExample(String),
    /// A closure fetched from a URL (`closure=URL`).
    Url(String),
    /// Files or a paste: not in the address.
    Local,
}

/// Everything the address holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    /// Where the closures come from.
    pub origin: Origin,
    /// The compare row (`algorithm=`).
    pub algorithm: Option<String>,
    /// `budget=`.
    pub budget: Option<usize>,
    /// The image shown (`image=`).
    pub image: Option<String>,
    /// The revision shown (`revision=`).
    pub revision: Option<usize>,
    /// `pin=`, repeated.
    pub pins: Vec<String>,
    /// `exclude=`, repeated.
    pub excludes: Vec<String>,
    /// `pipeline=` (the editor's text).
    pub pipeline: Option<String>,
}

impl Address {
    /// Reads the pairs of a query; unknown keys and unusable values are
    /// ignored (an old link still opens).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Address {
        let mut a = Address::default();
        for (key, value) in pairs {
            match key.as_str() {
                "example" => a.origin = Origin::ServerExample(value),
                "closure" => a.origin = Origin::Url(value),
                "algorithm" => a.algorithm = Some(value),
                "budget" => a.budget = value.parse().ok().filter(|&b| b > 0),
                "image" => a.image = Some(value),
                "revision" => a.revision = value.parse().ok(),
                "pin" => a.pins.push(value),
                "exclude" => a.excludes.push(value),
                "pipeline" if !value.trim().is_empty() => a.pipeline = Some(value),
                _ => {}
            }
        }
        a
    }

    /// The pairs, in a fixed order (the same view, the same address).
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        match &self.origin {
            Origin::ServerExample(name) => pairs.push(("example", name.clone())),
            Origin::Url(url) => pairs.push(("closure", url.clone())),
            Origin::Bundled | Origin::Local => {}
        }
        let mut put = |key, value: &Option<String>| {
            if let Some(v) = value {
                pairs.push((key, v.clone()));
            }
        };
        put("algorithm", &self.algorithm);
        put("budget", &self.budget.map(|b| b.to_string()));
        put("image", &self.image);
        put("revision", &self.revision.map(|r| r.to_string()));
        pairs.extend(self.pins.iter().map(|p| ("pin", p.clone())));
        pairs.extend(self.excludes.iter().map(|p| ("exclude", p.clone())));
        if let Some(p) = &self.pipeline {
            pairs.push(("pipeline", p.clone()));
        }
        pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_round_trips_through_its_pairs() {
        let address = Address {
            origin: Origin::ServerExample("hello".into()),
            algorithm: Some("auto".into()),
            budget: Some(12),
            image: Some("git".into()),
            revision: Some(1),
            pins: vec!["/nix/store/a".into(), "/nix/store/b".into()],
            excludes: vec!["/nix/store/c".into()],
            pipeline: Some(r#"[["popularity_contest"]]"#.into()),
        };
        let pairs = address.pairs().into_iter().map(|(k, v)| (k.to_string(), v));
        assert_eq!(Address::from_pairs(pairs), address);
        let local = Address {
            origin: Origin::Local,
            ..Address::default()
        };
        assert!(local.pairs().is_empty());
        let odd = [("budget", "0"), ("revision", "x"), ("what", "1")]
            .map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(Address::from_pairs(odd), Address::default());
    }
}
