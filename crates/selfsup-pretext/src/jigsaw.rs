//! Jigsaw puzzles (Noroozi & Favaro, 2016): cut the image into a `grid × grid` array of tiles, shuffle
//! them with one permutation of a fixed set, and predict which permutation it was.
//!
//! - The permutation set is chosen by the paper's greedy maximal-Hamming algorithm
//!   ([`hamming_permutation_set`]): start from one permutation, then repeatedly add the candidate whose
//!   summed Hamming distance to the permutations chosen so far is largest (ties: the first candidate in
//!   lexicographic order). Its minimum and mean pairwise Hamming distance are reported by
//!   [`PermutationSet`].
//! - Tiles: the image's central `grid·cell` square is divided into cells of `cell = min(H, W) / grid`
//!   pixels; each tile is a `tile = cell − round(gap·cell)` square inside its cell, at a uniformly random
//!   offset with `jitter` (else centred), so that edges do not line up across tiles (the "gap"
//!   against low-level shortcuts).
//! - Each tile is standardised on its own (`normalize_tiles`, zero mean and unit variance per channel).
//! - Views: `views[i]` is the tile of grid position `perm[i]`; [`unshuffle`] undoes it and
//!   [`assemble`] puts the tiles back into one image.
//! - `assemble_views` (off by default): instead of `grid²` tile views, one view of the input's size
//!   in which cell `i` holds the tile of grid position `perm[i]` (at its drawn offset; the gaps and
//!   the margin are 0) — the whole-image jigsaw of Kim et al. (2018, "Learning image representations
//!   by completing damaged jigsaw puzzles", without the damage). The encoder then trains on inputs of
//!   the size it is evaluated on, where the context-free network of Noroozi & Favaro trains on tiles
//!   a third of that size. [`Jigsaw::canvas`] builds the view; [`Jigsaw::uncanvas`] recovers the tiles.

use crate::{as_image, crop, perm_from_rank, standardize_channels, PretextGenerator, Target};
use selfsup_core::{check, Error, Generator, ImageF32, Result, Sample};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A set of permutations with its Hamming statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct PermutationSet {
    /// The permutations, in the order they were chosen (the class ids).
    pub perms: Vec<Vec<usize>>,
    /// The smallest Hamming distance between two permutations of the set.
    pub min_hamming: usize,
    /// The mean Hamming distance over all pairs.
    pub mean_hamming: f64,
}

/// Number of positions where `a` and `b` differ.
pub fn hamming(a: &[usize], b: &[usize]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x != y).count()
}

impl PermutationSet {
    /// Wraps permutations and computes their statistics.
    pub fn new(perms: Vec<Vec<usize>>) -> Self {
        let mut min = usize::MAX;
        let (mut sum, mut pairs) = (0usize, 0usize);
        for i in 0..perms.len() {
            for j in i + 1..perms.len() {
                let d = hamming(&perms[i], &perms[j]);
                min = min.min(d);
                sum += d;
                pairs += 1;
            }
        }
        PermutationSet {
            min_hamming: if pairs == 0 { 0 } else { min },
            mean_hamming: if pairs == 0 {
                0.0
            } else {
                sum as f64 / pairs as f64
            },
            perms,
        }
    }
}

/// The greedy maximal-Hamming permutation set of Noroozi & Favaro (Algorithm 1): `size` permutations
/// of `0..n`, starting from `first`, each next one the remaining candidate with the largest summed
/// Hamming distance to those chosen (first in lexicographic order among ties). `n` at most 9 (all `n!`
/// candidates are scored), `2 <= size <= n!`.
pub fn hamming_permutation_set(n: usize, size: usize, first: &[usize]) -> Result<PermutationSet> {
    if !(2..=9).contains(&n) {
        return Err(Error::config(
            "jigsaw.grid",
            format!("the maximal-Hamming set enumerates all permutations of at most 9 tiles, got {n} tiles"),
        ));
    }
    let total: usize = (1..=n).product();
    if size < 2 || size > total {
        return Err(Error::config(
            "jigsaw.n_permutations",
            format!("must be in [2, {total}] for {n} tiles, got {size}"),
        ));
    }
    let mut sorted = first.to_vec();
    sorted.sort_unstable();
    if sorted != (0..n).collect::<Vec<_>>() {
        return Err(Error::shape(format!(
            "first permutation {first:?} is not a permutation of 0..{n}"
        )));
    }
    let cands: Vec<u8> = (0..total)
        .flat_map(|r| perm_from_rank(n, r).into_iter().map(|v| v as u8))
        .collect();
    let mut score = vec![0u32; total];
    let mut used = vec![false; total];
    let mut j = crate::perm_rank(first);
    let mut perms = Vec::with_capacity(size);
    loop {
        used[j] = true;
        let chosen: Vec<u8> = cands[j * n..(j + 1) * n].to_vec();
        perms.push(chosen.iter().map(|&v| usize::from(v)).collect::<Vec<_>>());
        if perms.len() == size {
            break;
        }
        let mut best = (0u32, usize::MAX);
        for (k, (s, c)) in score.iter_mut().zip(cands.chunks_exact(n)).enumerate() {
            if used[k] {
                continue;
            }
            *s += c.iter().zip(&chosen).filter(|(a, b)| a != b).count() as u32;
            if best.1 == usize::MAX || *s > best.0 {
                best = (*s, k);
            }
        }
        j = best.1;
    }
    Ok(PermutationSet::new(perms))
}

/// Settings of the jigsaw task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JigsawConfig {
    /// Tiles per side (2 or 3; default 3).
    pub grid: usize,
    /// Permutations in the set, i.e. classes (default 100).
    pub n_permutations: usize,
    /// Fraction of each cell's side left out of its tile (default 0.15, about 64-px tiles in 75-px cells).
    pub gap: f64,
    /// Tiles at a random offset inside their cells (default true; false: centred).
    pub jitter: bool,
    /// Standardise each tile on its own (default true).
    pub normalize_tiles: bool,
    /// One view: the shuffled tiles put back on a canvas of the input's size (default false:
    /// `grid²` tile views); see the module docs.
    pub assemble_views: bool,
}

impl Default for JigsawConfig {
    fn default() -> Self {
        JigsawConfig {
            grid: 3,
            n_permutations: 100,
            gap: 0.15,
            jitter: true,
            normalize_tiles: true,
            assemble_views: false,
        }
    }
}

impl JigsawConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if !(2..=3).contains(&self.grid) {
            return Err(Error::config(
                "jigsaw.grid",
                format!("must be 2 or 3, got {}", self.grid),
            ));
        }
        let total: usize = (1..=self.grid * self.grid).product();
        if self.n_permutations < 2 || self.n_permutations > total {
            return Err(Error::config(
                "jigsaw.n_permutations",
                format!(
                    "must be in [2, {total}] for a {g}x{g} grid, got {}",
                    self.n_permutations,
                    g = self.grid
                ),
            ));
        }
        check::in_range("jigsaw.gap", self.gap, 0.0, 0.9)
    }

    /// The tile side for a cell side.
    fn tile_for(&self, cell: usize) -> usize {
        cell.saturating_sub((self.gap * cell as f64).round() as usize)
    }

    /// The smallest image side whose tiles have at least 2 pixels per side.
    pub fn min_side(&self) -> usize {
        (1..)
            .find(|&s| self.tile_for(s / self.grid) >= 2)
            .unwrap_or(usize::MAX)
    }

    /// Validates and builds the generator (computing the permutation set, starting from the identity).
    pub fn build(&self) -> Result<Jigsaw> {
        self.validate()?;
        let n = self.grid * self.grid;
        let identity: Vec<usize> = (0..n).collect();
        let set = hamming_permutation_set(n, self.n_permutations, &identity)?;
        tracing::debug!(
            min_hamming = set.min_hamming,
            mean_hamming = set.mean_hamming,
            "jigsaw permutation set"
        );
        Ok(Jigsaw {
            cfg: self.clone(),
            set: Arc::new(set),
        })
    }
}

/// The drawn parameters of one puzzle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JigsawParams {
    /// Index of the permutation in the set (the class).
    pub class: usize,
    /// Cell side in pixels.
    pub cell: usize,
    /// Tile side in pixels.
    pub tile: usize,
    /// Top-left corner of the grid in the image.
    pub origin: (usize, usize),
    /// Offset `(dy, dx)` of each grid position's tile inside its cell (row-major grid positions).
    pub offsets: Vec<(usize, usize)>,
}

/// The jigsaw generator; see the module docs.
#[derive(Clone, Debug)]
pub struct Jigsaw {
    cfg: JigsawConfig,
    set: Arc<PermutationSet>,
}

impl Jigsaw {
    /// The permutation set (class `i` is `set().perms[i]`).
    pub fn set(&self) -> &PermutationSet {
        &self.set
    }

    /// Draws the puzzle of an `h × w` image.
    pub fn sample_params(&self, h: usize, w: usize, rng: &mut Generator) -> Result<JigsawParams> {
        let g = self.cfg.grid;
        let cell = h.min(w) / g;
        let tile = self.cfg.tile_for(cell);
        if tile < 2 {
            return Err(Error::config(
                "jigsaw.grid",
                format!(
                    "a {h}x{w} image is too small for a {g}x{g} grid with gap {}: tiles would be {tile} px; the image side must be >= {}",
                    self.cfg.gap,
                    self.cfg.min_side()
                ),
            ));
        }
        let class = rng.below(self.set.perms.len() as u64) as usize;
        let slack = cell - tile;
        let (sy, sx) = (h - g * cell, w - g * cell);
        let origin = if self.cfg.jitter {
            (
                rng.below(sy as u64 + 1) as usize,
                rng.below(sx as u64 + 1) as usize,
            )
        } else {
            (sy / 2, sx / 2)
        };
        let offsets = (0..g * g)
            .map(|_| {
                if self.cfg.jitter {
                    (
                        rng.below(slack as u64 + 1) as usize,
                        rng.below(slack as u64 + 1) as usize,
                    )
                } else {
                    (slack / 2, slack / 2)
                }
            })
            .collect();
        Ok(JigsawParams {
            class,
            cell,
            tile,
            origin,
            offsets,
        })
    }

    /// The top-left corner of the tile cut at grid cell `pos` (row-major), with that cell's drawn offset.
    fn tile_corner(&self, p: &JigsawParams, pos: usize) -> (usize, usize) {
        let g = self.cfg.grid;
        let (r, c) = (pos / g, pos % g);
        let (dy, dx) = p.offsets[pos];
        (p.origin.0 + r * p.cell + dy, p.origin.1 + c * p.cell + dx)
    }

    /// The `tile × tile` crops of `img` at every grid cell, in grid order.
    fn cut(&self, img: &ImageF32, p: &JigsawParams) -> Vec<ImageF32> {
        let g = self.cfg.grid;
        (0..g * g)
            .map(|pos| {
                let (top, left) = self.tile_corner(p, pos);
                crop(img, top, left, p.tile, p.tile)
            })
            .collect()
    }

    /// The tiles in grid order (row-major), before shuffling and normalisation.
    pub fn tiles(&self, img: &ImageF32, p: &JigsawParams) -> Vec<ImageF32> {
        self.cut(img, p)
    }

    /// The views of a puzzle: `views[i]` = tile of grid position `perm[i]`, normalised if configured.
    pub fn apply(&self, img: &ImageF32, p: &JigsawParams) -> Vec<ImageF32> {
        let tiles = self.tiles(img, p);
        self.set.perms[p.class]
            .iter()
            .map(|&pos| {
                let mut t = tiles[pos].clone();
                if self.cfg.normalize_tiles {
                    standardize_channels(&mut t);
                }
                t
            })
            .collect()
    }

    /// The one view of `assemble_views`: an image of `img`'s size, 0 outside the tiles, whose cell
    /// `i` holds [`Jigsaw::apply`]'s `views[i]` (the tile of grid position `perm[i]`) at cell `i`'s
    /// drawn offset.
    pub fn canvas(&self, img: &ImageF32, p: &JigsawParams) -> ImageF32 {
        let (c, h, w) = img.dims();
        let mut out = ImageF32::zeros(c, h, w);
        for (i, tile) in self.apply(img, p).iter().enumerate() {
            let (top, left) = self.tile_corner(p, i);
            for ch in 0..c {
                for y in 0..p.tile {
                    for x in 0..p.tile {
                        out.set(ch, top + y, left + x, tile.get(ch, y, x));
                    }
                }
            }
        }
        out
    }

    /// Cuts [`Jigsaw::canvas`]'s view back into `views[i]` (the tiles in shuffled order), the inverse
    /// of `canvas` given the same parameters.
    pub fn uncanvas(&self, view: &ImageF32, p: &JigsawParams) -> Vec<ImageF32> {
        self.cut(view, p)
    }
}

/// Undoes the shuffle: `out[perm[i]] = views[i]`, the tiles back in grid order.
pub fn unshuffle<T: Clone>(views: &[T], perm: &[usize]) -> Result<Vec<T>> {
    if views.len() != perm.len() {
        return Err(Error::shape(format!(
            "{} tiles for a permutation of {}",
            views.len(),
            perm.len()
        )));
    }
    let mut out: Vec<Option<T>> = vec![None; perm.len()];
    for (v, &p) in views.iter().zip(perm) {
        *out.get_mut(p)
            .ok_or_else(|| Error::shape(format!("position {p} out of range")))? = Some(v.clone());
    }
    out.into_iter()
        .map(|t| t.ok_or_else(|| Error::shape("not a permutation")))
        .collect()
}

/// Puts `grid × grid` equal tiles (grid order, row-major) side by side into one image.
pub fn assemble(tiles: &[ImageF32], grid: usize) -> Result<ImageF32> {
    let first = tiles
        .first()
        .ok_or_else(|| Error::shape("no tiles to assemble"))?;
    let (c, t, tw) = first.dims();
    if tiles.len() != grid * grid || tiles.iter().any(|x| x.dims() != (c, t, tw)) {
        return Err(Error::shape(format!(
            "need {} tiles of one size for a {grid}x{grid} grid",
            grid * grid
        )));
    }
    let mut out = ImageF32::zeros(c, grid * t, grid * tw);
    for (pos, tile) in tiles.iter().enumerate() {
        let (r, col) = (pos / grid, pos % grid);
        for ch in 0..c {
            for y in 0..t {
                for x in 0..tw {
                    out.set(ch, r * t + y, col * tw + x, tile.get(ch, y, x));
                }
            }
        }
    }
    Ok(out)
}

impl PretextGenerator for Jigsaw {
    fn kind(&self) -> &'static str {
        "jigsaw"
    }
    fn n_views(&self) -> usize {
        if self.cfg.assemble_views {
            1
        } else {
            self.cfg.grid * self.cfg.grid
        }
    }
    fn num_classes(&self) -> Option<usize> {
        Some(self.set.perms.len())
    }
    fn generate(&self, sample: &Sample, rng: &mut Generator) -> Result<(Vec<Sample>, Target)> {
        let img = as_image(sample, "jigsaw")?;
        let p = self.sample_params(img.height(), img.width(), rng)?;
        if self.cfg.assemble_views {
            let view = Sample::Image(self.canvas(&img, &p));
            return Ok((vec![view], Target::Class(p.class as i64)));
        }
        let views = self
            .apply(&img, &p)
            .into_iter()
            .map(Sample::Image)
            .collect();
        Ok((views, Target::Class(p.class as i64)))
    }
}
