//! DeepLabV3 with a MobileNetV2 backbone (depth multiplier 0.5, output stride 8): Google's
//! TensorFlow Lite hosted model `deeplabv3_257_mv_gpu`, built natively in burn from the ONNX
//! graph listed in `../shared/weights/deeplabv3_mnv2_257_voc.graph.txt` and loading its
//! initializers by their ONNX names. BatchNorm was folded into the convolutions by the
//! converter; ReLU6 is `clamp(0, 6)` (`relu6_op`).
//!
//! The shipped graph has constant pooling and resize sizes: it takes 257×257 only.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};


use crate::model::layers::{Conv, ConvSpec, global_avg_pool, resize_bilinear_ac};
use crate::model::relu6_op::relu6;
use crate::model::weights::TensorStore;

/// The only input side the shipped graph accepts.
pub const INPUT_SIDE: usize = 257;

/// One inverted-residual block: (input ch, output ch, expansion, stride, dilation).
type BlockSpec = (usize, usize, usize, usize, usize);

/// The 17 blocks `expanded_conv` … `expanded_conv_16` of the shipped graph.
const BLOCKS: [BlockSpec; 17] = [
    (16, 8, 1, 1, 1),
    (8, 12, 6, 2, 1),
    (12, 12, 6, 1, 1),
    (12, 16, 6, 2, 1),
    (16, 16, 6, 1, 1),
    (16, 16, 6, 1, 1),
    (16, 32, 6, 1, 1),
    (32, 32, 6, 1, 2),
    (32, 32, 6, 1, 2),
    (32, 32, 6, 1, 2),
    (32, 48, 6, 1, 2),
    (48, 48, 6, 1, 2),
    (48, 48, 6, 1, 2),
    (48, 80, 6, 1, 2),
    (80, 80, 6, 1, 4),
    (80, 80, 6, 1, 4),
    (80, 160, 6, 1, 4),
];

/// Architecture of the DeepLabV3-MobileNetV2 network.
#[derive(Config, Debug)]
pub struct DeepLabV3Config {
    /// Output channels.
    #[config(default = 21)]
    pub num_classes: usize,
    /// Channels of the ASPP / projection head.
    #[config(default = 256)]
    pub head_channels: usize,
}

impl DeepLabV3Config {
    /// Build the network with weights from `store` (ONNX initializer names).
    pub fn init_from(&self, store: &TensorStore, device: &Device) -> crate::error::Result<DeepLabV3> {
        let conv = |spec: ConvSpec, name: &str, w: &str, b: &str| {
            Conv::load(store, spec, &format!("{name}/{w}"), Some(&format!("{name}/{b}")), None, device)
        };
        let blocks = BLOCKS
            .iter()
            .enumerate()
            .map(|(i, &(cin, cout, t, stride, dilation))| {
                let name = if i == 0 { "MobilenetV2/expanded_conv".to_string() } else { format!("MobilenetV2/expanded_conv_{i}") };
                let mid = cin * t;
                let expand = if t == 1 {
                    None
                } else {
                    Some(conv(ConvSpec::new(cin, mid, 1), &format!("{name}/expand"), "weights", "Conv2D_bias")?)
                };
                Ok(InvertedResidual {
                    expand,
                    depthwise: conv(
                        ConvSpec::depthwise(mid, 3).stride(stride).dilation(dilation),
                        &format!("{name}/depthwise"),
                        "depthwise_weights",
                        "depthwise_bias",
                    )?,
                    project: conv(ConvSpec::new(mid, cout, 1), &format!("{name}/project"), "weights", "Conv2D_bias")?,
                    residual: stride == 1 && cin == cout,
                })
            })
            .collect::<crate::error::Result<Vec<_>>>()?;
        let h = self.head_channels;
        Ok(DeepLabV3 {
            stem: conv(ConvSpec::new(3, 16, 3).stride(2), "MobilenetV2/Conv", "weights", "Conv2D_bias")?,
            blocks,
            image_pooling: conv(ConvSpec::new(160, h, 1), "image_pooling", "weights", "Conv2D_bias")?,
            aspp0: conv(ConvSpec::new(160, h, 1), "aspp0", "weights", "Conv2D_bias")?,
            concat_projection: conv(ConvSpec::new(2 * h, h, 1), "concat_projection", "weights", "Conv2D_bias")?,
            logits: conv(ConvSpec::new(h, self.num_classes, 1), "logits/semantic", "weights", "Conv2D_bias")?,
            num_classes: self.num_classes,
        })
    }
}

/// MobileNetV2 inverted residual: 1×1 expand + ReLU6, depthwise 3×3 + ReLU6, linear 1×1 project.
#[derive(Module, Debug)]
pub struct InvertedResidual {
    expand: Option<Conv>,
    depthwise: Conv,
    project: Conv,
    residual: bool,
}

impl InvertedResidual {
    /// `[N, C_in, H, W] → [N, C_out, H/s, W/s]`
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = match &self.expand {
            Some(e) => relu6(e.forward(x.clone())),
            None => x.clone(),
        };
        let y = self.project.forward(relu6(self.depthwise.forward(y)));
        if self.residual { y + x } else { y }
    }
}

/// The DeepLabV3-MobileNetV2 network.
#[derive(Module, Debug)]
pub struct DeepLabV3 {
    stem: Conv,
    blocks: Vec<InvertedResidual>,
    image_pooling: Conv,
    aspp0: Conv,
    concat_projection: Conv,
    logits: Conv,
    num_classes: usize,
}

impl DeepLabV3 {
    /// Output channels.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Logits for images in [0, 1]: `[N, 3, 257, 257] → [N, classes, 257, 257]`.
    /// Normalisation `(x − 0.5) / 0.5` happens here.
    pub fn forward(&self, x01: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = x01.dims();
        let x = (x01 - 0.5) * 2.0;
        let mut y = relu6(self.stem.forward(x));
        for block in &self.blocks {
            y = block.forward(y);
        }
        let [n, _, fh, fw] = y.dims();
        // image pooling: the 33×33 VALID average pool is a global mean at 257×257; the 1×1 → 33×33
        // align-corners resize is a broadcast
        let pooled = relu(self.image_pooling.forward(global_avg_pool(y.clone())));
        let c = pooled.dims()[1];
        let pooled = pooled.expand([n, c, fh, fw]);
        let aspp = relu(self.aspp0.forward(y));
        let y = relu(self.concat_projection.forward(Tensor::cat(vec![pooled, aspp], 1)));
        resize_bilinear_ac(self.logits.forward(y), h, w)
    }
}
