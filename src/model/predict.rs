//! From images to class maps: batching, argmax, and batched prediction with any [`SegModel`].

use burn::tensor::{Device, Tensor, TensorData};

use super::seg_model::SegModel;
use crate::data::{ClassMap, VOID};
use crate::error::{Error, Result};
use crate::image::RgbImage01;

/// Argmax over channels of logits `[N, C, H, W]`, read asynchronously (the only way on wasm):
/// one map per image, classes `≥ num_classes` become [`VOID`].
pub async fn argmax_maps(logits: Tensor<4>, num_classes: usize) -> Result<Vec<ClassMap>> {
    let [n, _, h, w] = logits.dims();
    let data = logits
        .argmax(1)
        .into_data_async()
        .await
        .map_err(|e| Error::Backend(format!("reading the class maps failed: {e:?}")))?;
    maps_from_data(data, n, h, w, num_classes)
}

/// Class maps from argmax data `[N, 1, H, W]` (classes `≥ num_classes` become [`VOID`]).
pub(crate) fn maps_from_data(data: TensorData, n: usize, h: usize, w: usize, num_classes: usize) -> Result<Vec<ClassMap>> {
    let idx: Vec<i64> = data.convert::<i64>().try_to_vec::<i64>().map_err(|e| Error::Backend(format!("{e:?}")))?;
    if idx.len() != n * h * w {
        return Err(Error::Shape(format!("argmax returned {} values for [{n}, {h}, {w}]", idx.len())));
    }
    Ok(idx
        .chunks(h * w)
        .map(|c| ClassMap {
            width: w,
            height: h,
            data: c.iter().map(|&k| if (k as usize) < num_classes { k as u8 } else { VOID }).collect(),
        })
        .collect())
}

/// Stack same-size images into a `[N, 3, H, W]` tensor.
pub fn batch_tensor(images: &[RgbImage01], device: &Device) -> Result<Tensor<4>> {
    let first = images.first().ok_or_else(|| Error::InvalidArgument("empty image batch".into()))?;
    let (w, h) = (first.width, first.height);
    let mut data = Vec::with_capacity(images.len() * 3 * w * h);
    for (i, im) in images.iter().enumerate() {
        if im.width != w || im.height != h {
            return Err(Error::Shape(format!(
                "image {} of the batch is {}×{}, the first is {w}×{h}: a batch needs one size",
                i + 1,
                im.width,
                im.height
            )));
        }
        if im.data.len() != 3 * w * h {
            return Err(Error::Shape(format!("image {} has {} values, expected {}", i + 1, im.data.len(), 3 * w * h)));
        }
        data.extend_from_slice(&im.data);
    }
    Ok(Tensor::from_data(TensorData::new(data, [images.len(), 3, h, w]), device))
}

/// Class maps of `images` predicted by `model`: consecutive images of one size go through the
/// network together, at most `batch` per forward pass.
pub async fn predict_batched<M: SegModel + ?Sized>(
    model: &M,
    images: &[RgbImage01],
    batch: usize,
    device: &Device,
) -> Result<Vec<ClassMap>> {
    let mut maps = Vec::with_capacity(images.len());
    for run in same_size_runs(images, batch.max(1)) {
        let x = batch_tensor(&images[run], device)?;
        maps.extend(argmax_maps(model.logits(x)?, model.num_classes()).await?);
    }
    Ok(maps)
}

/// Splits `images` into runs of consecutive images of one size, at most `batch` each.
fn same_size_runs(images: &[RgbImage01], batch: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=images.len() {
        let size = |k: usize| (images[k].width, images[k].height);
        if i == images.len() || size(i) != size(start) || i - start >= batch {
            out.push(start..i);
            start = i;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_split_on_size_and_batch() {
        let img = |w: usize| RgbImage01::new(w, 1, vec![0.0; 3 * w]).unwrap();
        let images = [img(1), img(1), img(1), img(2), img(1)];
        assert_eq!(same_size_runs(&images, 2), [0..2, 2..3, 3..4, 4..5]);
        assert!(same_size_runs(&[], 2).is_empty());
    }
}
