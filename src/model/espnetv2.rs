//! ESPNetv2 semantic segmentation (Mehta et al., "ESPNetv2: A Light-weight, Power Efficient, and
//! General Purpose Convolutional Neural Network", CVPR 2019), built natively in burn from the
//! description in `../shared/weights/MODELS.md` §3 and loading the EdgeNets state_dict keys.
//!
//! Encoder: a strided CBR, three strided EESP "down-samplers" with input reinforcement, and
//! stacks of EESP units; decoder: four efficient pyramid-pooling heads joined to the encoder by
//! gated point-wise convolutions, output upsampled to the input size (bilinear,
//! `align_corners = true`). BatchNorms are folded (see [`crate::model::layers`]).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::Error;
use crate::model::layers::{
    BnFold, ChannelAffine, Conv, ConvSpec, PRelu, adaptive_avg_pool, avg_pool_3x3_s2, channel_shuffle,
    global_avg_pool, resize_bilinear_ac,
};
use crate::model::weights::TensorStore;

/// ImageNet mean and std used by the EdgeNets models (R, G, B).
pub const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// See [`MEAN`].
pub const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Scales of the pyramid-pooling branches, in state_dict order.
const PYRAMID_SCALES: [f64; 5] = [2.0, 1.5, 1.0, 0.5, 0.1];

/// Architecture of an ESPNetv2 segmentation network.
#[derive(Config, Debug)]
pub struct EspNetV2Config {
    /// Channels of encoder levels 1–4 (`c0..c3`); set by the width multiplier `s`.
    pub channels: [usize; 4],
    /// Output channels (21 for VOC, 20 for Cityscapes).
    pub num_classes: usize,
    /// EESP units after the level-3 down-sampler.
    #[config(default = 3)]
    pub level3_blocks: usize,
    /// EESP units after the level-4 down-sampler.
    #[config(default = 7)]
    pub level4_blocks: usize,
    /// Parallel branches of each EESP unit.
    #[config(default = 4)]
    pub branches: usize,
}

impl EspNetV2Config {
    /// The EdgeNets configuration for width multiplier `s` ∈ {0.5, 1.0, 2.0}.
    pub fn for_width(s: f32, num_classes: usize) -> crate::error::Result<Self> {
        let channels = match s {
            x if x == 0.5 => [16, 32, 64, 128],
            x if x == 1.0 => [32, 64, 128, 256],
            x if x == 2.0 => [32, 128, 256, 512],
            other => {
                return Err(Error::Model(format!(
                    "ESPNetv2 width s = {other} has no pretrained weights (expected 0.5, 1.0 or 2.0)"
                )));
            }
        };
        Ok(Self::new(channels, num_classes))
    }

    /// Build the network with weights from `store` (EdgeNets state_dict names).
    pub fn init_from(&self, store: &TensorStore, device: &Device) -> crate::error::Result<EspNetV2> {
        let [c0, c1, c2, c3] = self.channels;
        let k = self.branches;
        let proj = (self.num_classes / 2).min(16);
        let level3 = (0..self.level3_blocks)
            .map(|i| Eesp::load(store, &format!("base_net.level3.{i}"), c2, c2, 1, k, 9, device))
            .collect::<crate::error::Result<Vec<_>>>()?;
        let level4 = (0..self.level4_blocks)
            .map(|i| Eesp::load(store, &format!("base_net.level4.{i}"), c3, c3, 1, k, 7, device))
            .collect::<crate::error::Result<Vec<_>>>()?;
        Ok(EspNetV2 {
            level1: Cbr::load_espnet(store, "base_net.level1", ConvSpec::new(3, c0, 3).stride(2), device)?,
            level2_0: DownSampler::load(store, "base_net.level2_0", c0, c1, k, 13, device)?,
            level3_0: DownSampler::load(store, "base_net.level3_0", c1, c2, k, 11, device)?,
            level3,
            level4_0: DownSampler::load(store, "base_net.level4_0", c2, c3, k, 9, device)?,
            level4,
            bu_dec_l1: PyramidPool::load(store, "bu_dec_l1", c3, proj, 64, true, device)?,
            merge_enc_dec_l2: GatedPwConv::load(store, "merge_enc_dec_l2", c2, 64, device)?,
            bu_br_l2: Br::load(store, "bu_br_l2.0", "bu_br_l2.1.weight", 64, device)?,
            bu_dec_l2: PyramidPool::load(store, "bu_dec_l2", 64, proj, 48, true, device)?,
            merge_enc_dec_l3: GatedPwConv::load(store, "merge_enc_dec_l3", c1, 48, device)?,
            bu_br_l3: Br::load(store, "bu_br_l3.0", "bu_br_l3.1.weight", 48, device)?,
            bu_dec_l3: PyramidPool::load(store, "bu_dec_l3", 48, proj, 32, true, device)?,
            merge_enc_dec_l4: GatedPwConv::load(store, "merge_enc_dec_l4", c0, 32, device)?,
            bu_br_l4: Br::load(store, "bu_br_l4.0", "bu_br_l4.1.weight", 32, device)?,
            bu_dec_l4: PyramidPool::load(store, "bu_dec_l4", 32, proj, self.num_classes, false, device)?,
            num_classes: self.num_classes,
        })
    }
}

/// Whether ESPNetv2 accepts a side of length `n`: the decoder adds an upsampled coarse map to
/// the next finer encoder map, so ceil-halving must commute with doubling at every level, which
/// holds exactly when `n mod 16 ∈ {0, 15}`.
pub fn valid_side(n: usize) -> bool {
    n >= 15 && (n % 16 == 0 || n % 16 == 15)
}

/// Conv (BatchNorm folded) followed by PReLU.
#[derive(Module, Debug)]
pub struct Cbr {
    conv: Conv,
    act: PRelu,
}

impl Cbr {
    fn load(
        store: &TensorStore,
        conv_key: &str,
        bn_prefix: &str,
        act_key: &str,
        spec: ConvSpec,
        device: &Device,
    ) -> crate::error::Result<Self> {
        let bn = BnFold::load(store, bn_prefix, spec.out_channels)?;
        Ok(Self {
            conv: Conv::load(store, spec, conv_key, None, Some(&bn), device)?,
            act: PRelu::load(store, act_key, spec.out_channels, device)?,
        })
    }

    /// `espnet_utils.CBR` naming: `.conv`, `.bn`, `.act`.
    fn load_espnet(store: &TensorStore, p: &str, spec: ConvSpec, device: &Device) -> crate::error::Result<Self> {
        Self::load(store, &format!("{p}.conv.weight"), &format!("{p}.bn"), &format!("{p}.act.weight"), spec, device)
    }

    /// `cnn_utils.CBR` naming: `.cbr.0` conv, `.cbr.1` BN, `.cbr.2` PReLU.
    fn load_cnn(store: &TensorStore, p: &str, spec: ConvSpec, device: &Device) -> crate::error::Result<Self> {
        Self::load(store, &format!("{p}.cbr.0.weight"), &format!("{p}.cbr.1"), &format!("{p}.cbr.2.weight"), spec, device)
    }

    /// `[N, C_in, H, W] → [N, C_out, H', W']`
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.act.forward(self.conv.forward(x))
    }
}

/// BatchNorm (as an affine map) followed by PReLU.
#[derive(Module, Debug)]
pub struct Br {
    bn: ChannelAffine,
    act: PRelu,
}

impl Br {
    fn load(store: &TensorStore, bn_prefix: &str, act_key: &str, c: usize, device: &Device) -> crate::error::Result<Self> {
        Ok(Self {
            bn: ChannelAffine::load(store, bn_prefix, c, device)?,
            act: PRelu::load(store, act_key, c, device)?,
        })
    }

    /// `[N, C, H, W] → [N, C, H, W]`
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.act.forward(self.bn.forward(x))
    }
}

/// EESP unit: grouped 1×1 projection, `k` dilated depthwise branches fused hierarchically, a
/// BR and a grouped 1×1 expansion; stride 1 adds the input and applies PReLU.
#[derive(Module, Debug)]
pub struct Eesp {
    proj_1x1: Cbr,
    spp_dw: Vec<Conv>,
    br_after_cat: Br,
    conv_1x1_exp: Conv,
    module_act: Option<PRelu>,
}

impl Eesp {
    #[allow(clippy::too_many_arguments)]
    fn load(
        store: &TensorStore,
        p: &str,
        n_in: usize,
        n_out: usize,
        stride: usize,
        k: usize,
        r_lim: usize,
        device: &Device,
    ) -> crate::error::Result<Self> {
        let n = n_out / k;
        if n * k != n_out {
            return Err(Error::Model(format!("EESP '{p}': {n_out} channels do not split into {k} branches")));
        }
        // kernel sizes 3, 5, 7, … capped at r_lim (else 3), sorted; dilation = (k − 1) / 2
        let mut ksizes: Vec<usize> = (0..k).map(|i| 3 + 2 * i).map(|s| if s > r_lim { 3 } else { s }).collect();
        ksizes.sort_unstable();
        let spp_dw = ksizes
            .iter()
            .enumerate()
            .map(|(i, ks)| {
                let spec = ConvSpec::depthwise(n, 3).stride(stride).dilation((ks - 1) / 2);
                Conv::load(store, spec, &format!("{p}.spp_dw.{i}.conv.weight"), None, None, device)
            })
            .collect::<crate::error::Result<Vec<_>>>()?;
        let exp_bn = BnFold::load(store, &format!("{p}.conv_1x1_exp.bn"), n_out)?;
        Ok(Self {
            proj_1x1: Cbr::load_espnet(store, &format!("{p}.proj_1x1"), ConvSpec::new(n_in, n, 1).groups(k), device)?,
            spp_dw,
            br_after_cat: Br::load(
                store,
                &format!("{p}.br_after_cat.bn"),
                &format!("{p}.br_after_cat.act.weight"),
                n_out,
                device,
            )?,
            conv_1x1_exp: Conv::load(
                store,
                ConvSpec::new(n_out, n_out, 1).groups(k),
                &format!("{p}.conv_1x1_exp.conv.weight"),
                None,
                Some(&exp_bn),
                device,
            )?,
            module_act: if stride == 1 {
                Some(PRelu::load(store, &format!("{p}.module_act.weight"), n_out, device)?)
            } else {
                None
            },
        })
    }

    /// `[N, C_in, H, W] → [N, C_out, H/s, W/s]` (ceil)
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let o1 = self.proj_1x1.forward(x.clone());
        let mut outs: Vec<Tensor<4>> = Vec::with_capacity(self.spp_dw.len());
        for conv in &self.spp_dw {
            let y = conv.forward(o1.clone());
            let y = match outs.last() {
                Some(prev) => y + prev.clone(),
                None => y,
            };
            outs.push(y);
        }
        let y = self.conv_1x1_exp.forward(self.br_after_cat.forward(Tensor::cat(outs, 1)));
        match &self.module_act {
            Some(act) => act.forward(y + x),
            None => y,
        }
    }
}

/// Strided EESP with an average-pooled shortcut and input reinforcement from the image.
#[derive(Module, Debug)]
pub struct DownSampler {
    eesp: Eesp,
    inp_reinf_0: Cbr,
    inp_reinf_1: Conv,
    act: PRelu,
}

impl DownSampler {
    fn load(
        store: &TensorStore,
        p: &str,
        n_in: usize,
        n_out: usize,
        k: usize,
        r_lim: usize,
        device: &Device,
    ) -> crate::error::Result<Self> {
        let bn1 = BnFold::load(store, &format!("{p}.inp_reinf.1.bn"), n_out)?;
        Ok(Self {
            eesp: Eesp::load(store, &format!("{p}.eesp"), n_in, n_out - n_in, 2, k, r_lim, device)?,
            inp_reinf_0: Cbr::load_espnet(store, &format!("{p}.inp_reinf.0"), ConvSpec::new(3, 3, 3), device)?,
            inp_reinf_1: Conv::load(
                store,
                ConvSpec::new(3, n_out, 1),
                &format!("{p}.inp_reinf.1.conv.weight"),
                None,
                Some(&bn1),
                device,
            )?,
            act: PRelu::load(store, &format!("{p}.act.weight"), n_out, device)?,
        })
    }

    /// `x: [N, C_in, H, W]`, `image: [N, 3, H_0, W_0]` (normalised input) →
    /// `[N, C_out, ⌈H/2⌉, ⌈W/2⌉]`
    fn forward(&self, x: Tensor<4>, image: Tensor<4>) -> Tensor<4> {
        let avg = avg_pool_3x3_s2(x.clone());
        let eesp = self.eesp.forward(x);
        let out = Tensor::cat(vec![avg, eesp], 1);
        let target_h = out.dims()[2];
        let mut img = image;
        while img.dims()[2] > target_h {
            img = avg_pool_3x3_s2(img);
        }
        let out = out + self.inp_reinf_1.forward(self.inp_reinf_0.forward(img));
        self.act.forward(out)
    }
}

/// Efficient pyramid pooling: project, filter the map at five scales, merge.
#[derive(Module, Debug)]
pub struct PyramidPool {
    projection_layer: Cbr,
    stages: Vec<Conv>,
    merge_br: Br,
    merge_cbr: Cbr,
    merge_conv: Conv,
    br: Option<Br>,
}

impl PyramidPool {
    fn load(
        store: &TensorStore,
        p: &str,
        n_in: usize,
        proj: usize,
        n_out: usize,
        last_layer_br: bool,
        device: &Device,
    ) -> crate::error::Result<Self> {
        let stages = (0..PYRAMID_SCALES.len())
            .map(|i| Conv::load(store, ConvSpec::depthwise(proj, 3), &format!("{p}.stages.{i}.weight"), None, None, device))
            .collect::<crate::error::Result<Vec<_>>>()?;
        let merged = proj * PYRAMID_SCALES.len();
        let bias_key = format!("{p}.merge_layer.3.bias");
        Ok(Self {
            projection_layer: Cbr::load_cnn(store, &format!("{p}.projection_layer"), ConvSpec::new(n_in, proj, 1), device)?,
            stages,
            merge_br: Br::load(
                store,
                &format!("{p}.merge_layer.0.br.0"),
                &format!("{p}.merge_layer.0.br.1.weight"),
                merged,
                device,
            )?,
            merge_cbr: Cbr::load_cnn(store, &format!("{p}.merge_layer.2"), ConvSpec::new(merged, proj, 3).groups(proj), device)?,
            merge_conv: Conv::load(
                store,
                ConvSpec::new(proj, n_out, 1),
                &format!("{p}.merge_layer.3.weight"),
                (!last_layer_br).then_some(bias_key.as_str()),
                None,
                device,
            )?,
            br: if last_layer_br {
                Some(Br::load(store, &format!("{p}.br.br.0"), &format!("{p}.br.br.1.weight"), n_out, device)?)
            } else {
                None
            },
        })
    }

    /// `[N, C_in, H, W] → [N, C_out, H, W]`
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.projection_layer.forward(x);
        let [_, _, h, w] = x.dims();
        let branches: Vec<Tensor<4>> = PYRAMID_SCALES
            .iter()
            .zip(&self.stages)
            .map(|(&s, stage)| {
                // Python: max(math.ceil(h * s), 5)
                let hs = ((h as f64 * s).ceil() as usize).max(5);
                let ws = ((w as f64 * s).ceil() as usize).max(5);
                if s > 1.0 {
                    adaptive_avg_pool(stage.forward(resize_bilinear_ac(x.clone(), hs, ws)), h, w)
                } else if s < 1.0 {
                    resize_bilinear_ac(stage.forward(adaptive_avg_pool(x.clone(), hs, ws)), h, w)
                } else {
                    stage.forward(x.clone())
                }
            })
            .collect();
        let y = self.merge_br.forward(Tensor::cat(branches, 1));
        let y = channel_shuffle(y, PYRAMID_SCALES.len());
        let y = self.merge_conv.forward(self.merge_cbr.forward(y));
        match &self.br {
            Some(br) => br.forward(y),
            None => y,
        }
    }
}

/// Point-wise convolution gated by a squeeze-style channel weight.
#[derive(Module, Debug)]
pub struct GatedPwConv {
    wt_conv: Conv,
    expansion_layer: Cbr,
}

impl GatedPwConv {
    fn load(store: &TensorStore, p: &str, n_in: usize, n_out: usize, device: &Device) -> crate::error::Result<Self> {
        Ok(Self {
            wt_conv: Conv::load(store, ConvSpec::new(n_in, n_out, 1), &format!("{p}.wt_layer.1.weight"), None, None, device)?,
            expansion_layer: Cbr::load_cnn(
                store,
                &format!("{p}.expansion_layer"),
                ConvSpec::new(n_in, n_out, 3).groups(gcd(n_in, n_out)),
                device,
            )?,
        })
    }

    /// `[N, C_in, H, W] → [N, C_out, H, W]`
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let gate = sigmoid(self.wt_conv.forward(global_avg_pool(x.clone())));
        self.expansion_layer.forward(x) * gate
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The ESPNetv2 segmentation network.
#[derive(Module, Debug)]
pub struct EspNetV2 {
    level1: Cbr,
    level2_0: DownSampler,
    level3_0: DownSampler,
    level3: Vec<Eesp>,
    level4_0: DownSampler,
    level4: Vec<Eesp>,
    bu_dec_l1: PyramidPool,
    merge_enc_dec_l2: GatedPwConv,
    bu_br_l2: Br,
    bu_dec_l2: PyramidPool,
    merge_enc_dec_l3: GatedPwConv,
    bu_br_l3: Br,
    bu_dec_l3: PyramidPool,
    merge_enc_dec_l4: GatedPwConv,
    bu_br_l4: Br,
    bu_dec_l4: PyramidPool,
    num_classes: usize,
}

impl EspNetV2 {
    /// Output channels.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Logits for images in [0, 1].
    ///
    /// `[N, 3, H, W] → [N, classes, H, W]`; `H` and `W` must satisfy [`valid_side`] (callers
    /// check it: burn panics on the shape mismatch otherwise).
    pub fn forward(&self, x01: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = x01.dims();
        let device = x01.device();
        let mean = Tensor::<4>::from_data(TensorData::new(MEAN.to_vec(), [1, 3, 1, 1]), &device);
        let inv_std =
            Tensor::<4>::from_data(TensorData::new(STD.iter().map(|s| 1.0 / s).collect::<Vec<f32>>(), [1, 3, 1, 1]), &device);
        let x = (x01 - mean) * inv_std;

        let enc_l1 = self.level1.forward(x.clone()); // H/2
        let enc_l2 = self.level2_0.forward(enc_l1.clone(), x.clone()); // H/4
        let mut enc_l3 = self.level3_0.forward(enc_l2.clone(), x.clone()); // H/8
        for block in &self.level3 {
            enc_l3 = block.forward(enc_l3);
        }
        let mut enc_l4 = self.level4_0.forward(enc_l3.clone(), x); // H/16
        for block in &self.level4 {
            enc_l4 = block.forward(enc_l4);
        }

        let b = self.bu_dec_l1.forward(enc_l4);
        let b = self.bu_dec_l2.forward(self.bu_br_l2.forward(up2(b) + self.merge_enc_dec_l2.forward(enc_l3)));
        let b = self.bu_dec_l3.forward(self.bu_br_l3.forward(up2(b) + self.merge_enc_dec_l3.forward(enc_l2)));
        let b = self.bu_dec_l4.forward(self.bu_br_l4.forward(up2(b) + self.merge_enc_dec_l4.forward(enc_l1)));
        resize_bilinear_ac(b, h, w)
    }
}

fn up2(x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    resize_bilinear_ac(x, 2 * h, 2 * w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_sides_follow_the_mod_16_rule() {
        for n in [256, 384, 512, 1024, 383, 495, 367, 240, 320] {
            assert!(valid_side(n), "{n}");
        }
        for n in [257, 513, 500, 375, 370, 392, 0, 1] {
            assert!(!valid_side(n), "{n}");
        }
    }

    #[test]
    fn unknown_width_is_an_error() {
        let e = EspNetV2Config::for_width(1.5, 21).unwrap_err();
        assert!(e.to_string().contains("1.5"), "{e}");
    }
}
