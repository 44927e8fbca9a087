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

/// The layer palette: Tableau's ten, then darker companions of the same
/// hues, ordered so that any two neighbouring layers (in the stack, and
/// across the wrap from the 20th to the 21st) differ in hue and lightness.
const PALETTE: [&str; 20] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7",
    "#9c755f", "#bab0ac", "#1f4e79", "#c55a11", "#2e7d32", "#a4262c", "#6a3d9a", "#b8860b",
    "#00838f", "#d81b60", "#5d4037", "#8cd17d",
];

/// A colour per layer (`None`: a path in no layer).
pub fn layer_colour(layer: Option<usize>) -> String {
    match layer {
        Some(l) => PALETTE[l % PALETTE.len()].to_string(),
        None => "#999".to_string(),
    }
}

/// `#rrggbb` as red, green, blue.
fn rgb(colour: &str) -> [f64; 3] {
    let hex =
        |i: usize| u8::from_str_radix(colour.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0) as f64;
    [hex(1), hex(3), hex(5)]
}

/// Text that reads on a layer's colour: dark on light colours, white on
/// dark ones (by WCAG relative luminance).
pub fn text_colour(layer: Option<usize>) -> &'static str {
    let [r, g, b] = rgb(&layer_colour(layer)).map(|c| {
        let c = c / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    });
    if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.28 {
        "#111"
    } else {
        "#fff"
    }
}

/// Heights of a plan's layers in a stack `total` high, by bytes, each at
/// least `least` high so that every layer can be seen and pointed at.
pub fn stack_heights(sizes: &[u64], total: f64, least: f64) -> Vec<f64> {
    let bytes: u64 = sizes.iter().sum();
    let spare = (total - least * sizes.len() as f64).max(0.0);
    sizes
        .iter()
        .map(|&s| least + spare * s as f64 / bytes.max(1) as f64)
        .collect()
}

/// Width of one label character, in SVG units (12px system sans).
const LABEL_CHAR: f64 = 6.8;

/// Where a node's label is centred: under the node, moved in so that it
/// does not run off either side of the drawing.
pub fn label_x(node: &NodeView, chars: usize) -> f64 {
    let half = node.name.chars().count().min(chars) as f64 * LABEL_CHAR / 2.0 + 2.0;
    node.x.clamp(half, (WIDTH - half).max(half))
}

/// The nodes worth a label in the drawing: the largest paths (the ones a
/// reader looks for), at most `count`, skipping any whose label (`chars`
/// long at most, centred under the node) would overlap one already
/// chosen; in drawing order.
pub fn labelled(drawing: &Drawing, count: usize, chars: usize) -> Vec<usize> {
    let mut by_size: Vec<usize> = (0..drawing.nodes.len()).collect();
    by_size.sort_by_key(|&i| std::cmp::Reverse(drawing.nodes[i].size));
    let width = |i: usize| drawing.nodes[i].name.chars().count().min(chars) as f64 * LABEL_CHAR;
    let bottom = |i: usize| drawing.nodes[i].y + drawing.nodes[i].r;
    let mut chosen: Vec<usize> = Vec::new();
    for i in by_size {
        if chosen.len() == count {
            break;
        }
        let clear = chosen.iter().all(|&j| {
            let (a, b) = (&drawing.nodes[i], &drawing.nodes[j]);
            (bottom(i) - bottom(j)).abs() > 12.0
                || (a.x - b.x).abs() > (width(i) + width(j)) / 2.0 + 4.0
        });
        if clear {
            chosen.push(i);
        }
    }
    chosen.sort_unstable();
    chosen
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
        assert_eq!(labelled(&drawing, 1, 24), [1]);
        assert_eq!(labelled(&drawing, 5, 24), [0, 1]);
    }

    #[test]
    fn neighbouring_layers_are_told_apart() {
        let distance = |a: [f64; 3], b: [f64; 3]| {
            a.iter()
                .zip(b)
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f64>()
                .sqrt()
        };
        for l in 0..40 {
            let (a, b) = (rgb(&layer_colour(Some(l))), rgb(&layer_colour(Some(l + 1))));
            assert!(distance(a, b) > 90.0, "layers {l} and {}", l + 1);
        }
        assert_eq!(text_colour(Some(5)), "#111");
        assert_eq!(text_colour(Some(10)), "#fff");
    }

    #[test]
    fn the_stack_is_to_scale_above_a_least_height() {
        let h = stack_heights(&[0, 100, 300], 106.0, 2.0);
        assert_eq!(h, [2.0, 27.0, 77.0]);
        assert_eq!(stack_heights(&[], 100.0, 2.0), Vec::<f64>::new());
    }
}
