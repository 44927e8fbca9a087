//! Where each store path of a closure goes in the reference-graph drawing,
//! computed once per closure (in the planning worker) and independent of
//! the plan, so a replan only recolours it: the roots on top, every path
//! below the lowest path referencing it, so references always point down.
//! A level holds its paths in the order of their referrers' mean position
//! (one barycentre pass, top down), so a path sits under what uses it; a
//! level wider than the drawing wraps onto more lines, so 20,000 paths
//! stay a block that zooming opens up. Pure, so it is tested natively.

use serde::{Deserialize, Serialize};
use strata_planner::Graph;

/// Width of a small closure's drawing, in drawing units (wider for big
/// closures, so that the whole keeps a readable shape).
pub const WIDTH: f64 = 960.0;
/// Height of a level that fits on one line.
const ROW: f64 = 56.0;
/// Least distance between two paths on a line, and between wrapped lines.
const CELL: f64 = 12.0;
/// Margin around the drawing.
const MARGIN: f64 = 16.0;
/// Closures with more paths than this get smaller circles.
const DENSE: usize = 400;

/// A closure laid out for drawing, in the compact shape the worker sends
/// to the page: one entry per store path in each list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphView {
    /// Store paths.
    pub paths: Vec<String>,
    /// NAR sizes in bytes.
    pub sizes: Vec<u64>,
    /// References, as indexes into `paths` (without the path itself).
    pub references: Vec<Vec<u32>>,
    /// Centres.
    pub x: Vec<f32>,
    /// Centres.
    pub y: Vec<f32>,
    /// Radii: grow with the square root of the size.
    pub r: Vec<f32>,
    /// Size of the drawing.
    pub width: f64,
    /// Size of the drawing.
    pub height: f64,
}

impl GraphView {
    /// How many paths.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// A path's `name-version` (the store path without its hash).
    pub fn name(&self, id: usize) -> &str {
        let path = &self.paths[id];
        let base = path.rsplit('/').next().unwrap_or(path);
        base.split_once('-').map_or(base, |(_, name)| name)
    }

    /// Who references each path (the reverse of `references`).
    pub fn referrers(&self) -> Vec<Vec<u32>> {
        let mut referrers = vec![Vec::new(); self.len()];
        for (id, refs) in self.references.iter().enumerate() {
            for &r in refs {
                referrers[r as usize].push(id as u32);
            }
        }
        referrers
    }

    /// Closure size of one path: its NAR size and all it references.
    pub fn closure_size(&self, id: usize) -> u64 {
        let mut seen = vec![false; self.len()];
        let (mut todo, mut total) = (vec![id], 0);
        while let Some(n) = todo.pop() {
            if !std::mem::replace(&mut seen[n], true) {
                total += self.sizes[n];
                todo.extend(self.references[n].iter().map(|&r| r as usize));
            }
        }
        total
    }

    /// `start` and every path that depends on it (references it, directly
    /// or not): what changes when it does.
    pub fn dependents(&self, referrers: &[Vec<u32>], start: usize) -> Vec<bool> {
        let mut seen = vec![false; self.len()];
        let mut todo = vec![start];
        while let Some(n) = todo.pop() {
            if !std::mem::replace(&mut seen[n], true) {
                todo.extend(referrers[n].iter().map(|&r| r as usize));
            }
        }
        seen
    }
}

/// Lays out `graph`.
pub fn lay_out(graph: &Graph) -> GraphView {
    let n = graph.len();
    // Depth: one more than the deepest referrer (referrers come first in
    // topological order).
    let mut depth = vec![0usize; n];
    for id in graph.topological_order() {
        for &r in &graph.node(id).references {
            depth[r] = depth[r].max(depth[id] + 1);
        }
    }
    let levels = depth.iter().max().map_or(0, |d| d + 1);
    let mut by_level: Vec<Vec<usize>> = vec![Vec::new(); levels];
    for id in 0..n {
        by_level[depth[id]].push(id);
    }
    // Wide enough to be about 1.6 times wider than high, as a screen is
    // (every level takes a row of its own, so deep closures get wider).
    let sizes: Vec<usize> = by_level.iter().map(Vec::len).collect();
    let height_at = |width: f64| -> f64 {
        let per_line = (((width - 2.0 * MARGIN) / CELL).floor() as usize).max(1);
        let wraps: usize = sizes.iter().map(|&s| s.div_ceil(per_line).max(1) - 1).sum();
        2.0 * MARGIN + ROW * sizes.len() as f64 + CELL * wraps as f64
    };
    let mut width = WIDTH;
    while height_at(width) * 1.6 > width && width < 200_000.0 {
        width *= 1.1;
    }
    let per_line = (((width - 2.0 * MARGIN) / CELL).floor() as usize).max(1);
    let largest = graph
        .nodes()
        .iter()
        .map(|x| x.nar_size)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let (base, span) = if n > DENSE { (1.8, 7.0) } else { (3.0, 11.0) };
    let mut x = vec![0f32; n];
    let mut y = vec![0f32; n];
    let mut top = MARGIN;
    for ids in &mut by_level {
        let mean = |id: usize| {
            let referrers = graph.referrers(id);
            if referrers.is_empty() {
                0.0
            } else {
                referrers.iter().map(|&r| x[r] as f64).sum::<f64>() / referrers.len() as f64
            }
        };
        let mut keyed: Vec<(f64, usize)> = ids.iter().map(|&id| (mean(id), id)).collect();
        keyed.sort_by(|a, b| {
            a.0.total_cmp(&b.0)
                .then_with(|| graph.name(a.1).cmp(graph.name(b.1)))
        });
        let lines = ids.len().div_ceil(per_line).max(1);
        let height = if lines == 1 {
            ROW
        } else {
            ROW + CELL * (lines - 1) as f64
        };
        for (k, &(_, id)) in keyed.iter().enumerate() {
            let (line, at) = (k / per_line, k % per_line);
            let on_line = (ids.len() - line * per_line).min(per_line);
            let step = (width - 2.0 * MARGIN) / on_line as f64;
            x[id] = (MARGIN + step * (at as f64 + 0.5)) as f32;
            y[id] = (top + ROW / 2.0 + CELL * line as f64) as f32;
        }
        top += height;
    }
    let index = |id: usize| id as u32;
    GraphView {
        paths: (0..n).map(|id| graph.path(id).to_string()).collect(),
        sizes: (0..n).map(|id| graph.node(id).nar_size).collect(),
        references: (0..n)
            .map(|id| {
                graph
                    .node(id)
                    .references
                    .iter()
                    .map(|&r| index(r))
                    .collect()
            })
            .collect(),
        r: (0..n)
            .map(|id| (base + span * (graph.node(id).nar_size as f64 / largest).sqrt()) as f32)
            .collect(),
        x,
        y,
        width,
        height: top + MARGIN,
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

#[cfg(test)]
mod tests {
    use super::*;
    use strata_planner::parse_closure;

    #[test]
    fn references_point_down_and_every_path_is_drawn() {
        let fleet = crate::fleet::example_fleet();
        let git = &fleet.revisions[0][1];
        assert_eq!(git.image, "git");
        let view = lay_out(&git.graph);
        assert_eq!(view.len(), git.graph.len());
        for (from, refs) in view.references.iter().enumerate() {
            for &to in refs {
                assert!(view.y[from] < view.y[to as usize]);
            }
        }
        for id in 0..view.len() {
            assert_eq!(view.paths[id], git.graph.path(id).as_str());
            assert!(view.x[id] > 0.0 && (view.x[id] as f64) < view.width);
            assert!((view.y[id] as f64) < view.height);
        }
        assert!(view.width >= WIDTH && view.height * 1.6 <= view.width * 1.1);
        let sizes = git.graph.closure_sizes();
        assert!((0..view.len()).all(|id| view.closure_size(id) == sizes[id]));
    }

    #[test]
    fn a_chain_is_one_path_per_level_and_its_bottom_has_every_dependent() {
        let text = r#"[
          {"path": "/nix/store/00000000000000000000000000000000-a-1", "narSize": 10,
           "references": ["/nix/store/11111111111111111111111111111111-b-1"]},
          {"path": "/nix/store/11111111111111111111111111111111-b-1", "narSize": 40, "references": []}
        ]"#;
        let graph = parse_closure(text, "/nix/store").unwrap();
        let view = lay_out(&graph);
        assert_eq!(view.name(0), "a-1");
        assert!(view.y[0] < view.y[1]);
        assert!(view.r[1] > view.r[0]);
        assert_eq!(view.closure_size(0), 50);
        let referrers = view.referrers();
        assert_eq!(view.dependents(&referrers, 1), [true, true]);
        assert_eq!(view.dependents(&referrers, 0), [true, false]);
        assert_ne!(layer_colour(Some(0)), layer_colour(Some(1)));
        assert_eq!(layer_colour(None), "#999");
    }

    #[test]
    fn a_wide_level_wraps_inside_a_wider_drawing() {
        let entries: Vec<String> = (0..3000)
            .map(|i| format!(r#"{{"path": "/nix/store/{i:032}-p-{i}", "narSize": {i}}}"#))
            .collect();
        let graph = parse_closure(&format!("[{}]", entries.join(",")), "/nix/store").unwrap();
        let view = lay_out(&graph);
        assert!(view.width >= WIDTH && view.height > 2.0 * ROW);
        assert!(view.height * 1.6 <= view.width * 1.1);
        assert!(view.x.iter().all(|&x| x > 0.0 && (x as f64) < view.width));
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
