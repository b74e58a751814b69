//! The mIoU worst case of an ensemble, as SEA's authors report it beside the accuracy one: the
//! pooled mIoU is not a sum over images, so each image's own lowest accuracy need not give the
//! lowest pooled mIoU. Here a greedy search picks, per image, the run whose maps minimise the
//! pooled mIoU against the reference given every other image's choice (targeted goals:
//! maximise it), sweeping the images until no choice changes. It starts from the accuracy
//! choice and from each single run's maps and keeps the best end point, so it is never worse
//! than either.

use super::members::pick;
use crate::attack::loops::outcome::{AttackResult, MiouWorstCase};
use crate::data::ClassMap;
use crate::error::Result;
use crate::metrics::ConfusionMatrix;

/// The most sweeps over the images per start.
const SWEEPS: usize = 20;

/// The pooled mIoU of the per-image confusion counts `counts[i][choice[i]]` (their sum).
fn pooled(counts: &[Vec<Vec<u64>>], choice: &[usize], k: usize) -> Result<f64> {
    let mut total = vec![0u64; counts[0][0].len()];
    for (i, &c) in choice.iter().enumerate() {
        total.iter_mut().zip(&counts[i][c]).for_each(|(t, v)| *t += v);
    }
    Ok(ConfusionMatrix::from_counts(k, total)?.miou())
}

/// Coordinate search from `choice`: per image the run that makes the pooled mIoU lowest
/// (`sign = 1`) or highest (`sign = −1`), ties kept; the end point and its mIoU.
fn descend(counts: &[Vec<Vec<u64>>], mut choice: Vec<usize>, k: usize, sign: f64) -> Result<(Vec<usize>, f64)> {
    let runs = counts[0].len();
    let mut best = sign * pooled(counts, &choice, k)?;
    for _ in 0..SWEEPS {
        let mut changed = false;
        for i in 0..choice.len() {
            for r in 0..runs {
                let old = std::mem::replace(&mut choice[i], r);
                let v = sign * pooled(counts, &choice, k)?;
                if v < best - 1e-15 {
                    best = v;
                    changed = true;
                } else {
                    choice[i] = old;
                }
            }
        }
        if !changed {
            break;
        }
    }
    Ok((choice, sign * best))
}

/// Per image, the run of the greedy mIoU worst case (see the module documentation) of `runs`
/// (one batch, same reference maps), with `accuracy_winners` the accuracy choice; `k` classes.
pub fn miou_choice(runs: &[AttackResult], accuracy_winners: &[usize], k: usize) -> Result<Vec<usize>> {
    let reference = &runs[0].reference_maps;
    let counts: Vec<Vec<Vec<u64>>> = (0..reference.len())
        .map(|i| {
            runs.iter()
                .map(|r| {
                    let mut cm = ConfusionMatrix::new(k);
                    cm.add(&reference[i].data, &r.adversarial.maps[i].data)?;
                    Ok(cm.counts().to_vec())
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    let sign = if runs[0].targeted { -1.0 } else { 1.0 };
    let n = reference.len();
    let mut starts = vec![accuracy_winners.to_vec()];
    starts.extend((0..runs.len()).map(|r| vec![r; n]));
    let mut best: Option<(Vec<usize>, f64)> = None;
    for s in starts {
        let (c, v) = descend(&counts, s, k, sign)?;
        if best.as_ref().is_none_or(|(_, b)| sign * v < sign * b - 1e-15) {
            best = Some((c, v));
        }
    }
    Ok(best.map(|(c, _)| c).unwrap_or_default())
}

/// The mIoU worst case of `runs` (`winners`: the accuracy choice; `offsets`: each run's first
/// step in the ensemble's count).
pub fn miou_worst_case(runs: &[AttackResult], winners: &[usize], offsets: &[usize], k: usize) -> Result<MiouWorstCase> {
    let choice = miou_choice(runs, winners, k)?;
    let (clean, reference): (&[ClassMap], &[ClassMap]) = (&runs[0].clean_maps, &runs[0].reference_maps);
    let adversarial = pick(&runs.iter().map(|r| &r.adversarial).collect::<Vec<_>>(), &choice, offsets, clean, reference, k)?;
    let quantized = match runs.iter().map(|r| r.quantized.as_ref()).collect::<Option<Vec<_>>>() {
        Some(q) => Some(pick(&q, &choice, offsets, clean, reference, k)?),
        None => None,
    };
    Ok(MiouWorstCase { winners: choice, adversarial, quantized })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Confusion counts of one image (2 classes + void column) from (gt, pred) pairs.
    fn cm(pairs: &[(u8, u8)]) -> Vec<u64> {
        let mut m = ConfusionMatrix::new(2);
        let (g, p): (Vec<u8>, Vec<u8>) = pairs.iter().copied().unzip();
        m.add(&g, &p).unwrap();
        m.counts().to_vec()
    }

    #[test]
    fn the_greedy_choice_lowers_the_pooled_miou_below_the_accuracy_choice() {
        // image 0: runs 0 and 1 both get 2 of 4 pixels right, but run 1 wipes out class 1
        // (pooled mIoU 0.467 with it, 0.583 with run 0)
        let counts = vec![
            vec![cm(&[(0, 1), (0, 1), (0, 0), (1, 1)]), cm(&[(0, 0), (0, 1), (0, 0), (1, 0)])],
            vec![cm(&[(0, 0), (1, 1)]), cm(&[(0, 0), (1, 1)])],
        ];
        let acc = vec![0, 0];
        let (choice, v) = descend(&counts, acc.clone(), 2, 1.0).unwrap();
        assert!(v < pooled(&counts, &acc, 2).unwrap());
        assert_eq!(choice[0], 1);
        let (_, up) = descend(&counts, acc.clone(), 2, -1.0).unwrap();
        assert!(up >= pooled(&counts, &acc, 2).unwrap());
    }
}
