//! Where each store path of a closure goes in the reference-graph drawing:
//! the roots on top, every path one row below the lowest path referencing
//! it, so references always point down; within a row, paths sit in the
//! order of their layers, so a layer's paths are drawn side by side.
//! Pure, so it is tested natively.

use strata_planner::{Graph, Plan};

/// Width of the drawing, in SVG units.
pub const WIDTH: f64 = 960.0;
/// Height of one row.
const ROW: f64 = 56.0;
/// Margin around the drawing.
const MARGIN: f64 = 16.0;

/// One store path in the drawing.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeView {
    /// The store path.
    pub path: String,
    /// Its `name-version`.
    pub name: String,
    /// NAR size in bytes.
    pub size: u64,
    /// Index of its layer in the plan (`None`: not in the plan).
    pub layer: Option<usize>,
    /// Centre and radius.
    pub x: f64,
    /// Centre.
    pub y: f64,
    /// Radius: grows with the square root of the size.
    pub r: f64,
}

/// The drawing of a closure with a plan's layers.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawing {
    /// The nodes.
    pub nodes: Vec<NodeView>,
    /// References, as (referrer, reference) indexes into `nodes`.
    pub edges: Vec<(usize, usize)>,
    /// Height of the drawing.
    pub height: f64,
}

/// Lays out `graph` with the layers of `plan`.
pub fn draw(graph: &Graph, plan: &Plan) -> Drawing {
    let n = graph.len();
    let mut layer_of = vec![None; n];
    for (l, layer) in plan.layers.iter().enumerate() {
        for path in &layer.paths {
            if let Some(id) = graph.find(path) {
                layer_of[id] = Some(l);
            }
        }
    }
    // Depth: one more than the deepest referrer (referrers come first in
    // topological order).
    let mut depth = vec![0usize; n];
    for id in graph.topological_order() {
        for &r in &graph.node(id).references {
            depth[r] = depth[r].max(depth[id] + 1);
        }
    }
    let rows = depth.iter().max().map_or(0, |d| d + 1);
    let mut by_row: Vec<Vec<usize>> = vec![Vec::new(); rows];
    for id in 0..n {
        by_row[depth[id]].push(id);
    }
    let largest = graph
        .nodes()
        .iter()
        .map(|x| x.nar_size)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut index = vec![0; n];
    let mut nodes = Vec::with_capacity(n);
    for (row, ids) in by_row.iter_mut().enumerate() {
        ids.sort_by_key(|&id| (layer_of[id], graph.name(id).to_string()));
        let step = (WIDTH - 2.0 * MARGIN) / ids.len() as f64;
        for (k, &id) in ids.iter().enumerate() {
            index[id] = nodes.len();
            let size = graph.node(id).nar_size;
            nodes.push(NodeView {
                path: graph.path(id).to_string(),
                name: graph.name(id).to_string(),
                size,
                layer: layer_of[id],
                x: MARGIN + step * (k as f64 + 0.5),
                y: MARGIN + ROW * (row as f64 + 0.5),
                r: 3.0 + 11.0 * (size as f64 / largest).sqrt(),
            });
        }
    }
    let edges = (0..n)
        .flat_map(|id| {
            let index = &index;
            graph
                .node(id)
                .references
                .iter()
                .map(move |&r| (index[id], index[r]))
        })
        .collect();
    Drawing {
        nodes,
        edges,
        height: 2.0 * MARGIN + ROW * rows as f64,
    }
}

/// A colour per layer, far apart for neighbouring layers (golden-angle hues).
pub fn layer_colour(layer: Option<usize>) -> String {
    match layer {
        Some(l) => format!("hsl({:.0}, 65%, 50%)", (l as f64 * 137.508) % 360.0),
        None => "#999".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_planner::{parse_closure, plan_closure, Algorithm, PlanOptions};

    #[test]
    fn references_point_down_and_every_path_has_its_layer() {
        let fleet = crate::fleet::example_fleet();
        let git = &fleet.revisions[0][1];
        assert_eq!(git.image, "git");
        let plan = plan_closure(&git.graph, &PlanOptions::new(Algorithm::Auto, 8)).unwrap();
        let drawing = draw(&git.graph, &plan);
        assert_eq!(drawing.nodes.len(), git.graph.len());
        for &(from, to) in &drawing.edges {
            assert!(drawing.nodes[from].y < drawing.nodes[to].y);
        }
        for node in &drawing.nodes {
            let layer = node.layer.expect("every path is in the plan");
            assert!(plan.layers[layer].paths.iter().any(|p| *p == node.path));
            assert!(node.x > 0.0 && node.x < WIDTH && node.y < drawing.height);
        }
        let edges: usize = (0..git.graph.len())
            .map(|id| git.graph.node(id).references.len())
            .sum();
        assert_eq!(drawing.edges.len(), edges);
    }

    #[test]
    fn a_chain_is_one_path_per_row_and_colours_differ() {
        let text = r#"[
          {"path": "/nix/store/00000000000000000000000000000000-a-1", "narSize": 10,
           "references": ["/nix/store/11111111111111111111111111111111-b-1"]},
          {"path": "/nix/store/11111111111111111111111111111111-b-1", "narSize": 40, "references": []}
        ]"#;
        let graph = parse_closure(text, "/nix/store").unwrap();
        let plan = plan_closure(&graph, &PlanOptions::new(Algorithm::Popularity, 2)).unwrap();
        let drawing = draw(&graph, &plan);
        assert_eq!(drawing.nodes[0].name, "a-1");
        assert!(drawing.nodes[0].y < drawing.nodes[1].y);
        assert!(drawing.nodes[1].r > drawing.nodes[0].r);
        assert_ne!(layer_colour(Some(0)), layer_colour(Some(1)));
        assert_eq!(layer_colour(None), "#999");
    }
}
