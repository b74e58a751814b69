//! The builtin options of the TFLite operators the native networks execute, read from an
//! operator's `builtin_options` table (tensorflow/lite/schema/schema.fbs; union type numbers
//! and field indices below are that schema's).

use super::tflite::Table;

/// `Padding` of convolutions and pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TfPadding {
    /// `SAME`: output `⌈in / stride⌉`, the extra padding (if odd) after.
    Same,
    /// `VALID`: no padding.
    Valid,
}

/// The parsed `builtin_options` of one operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TfOptions {
    /// No options, or options of a type not read here.
    None,
    /// `Conv2DOptions` (union type 1) and `DepthwiseConv2DOptions` (type 2).
    Conv {
        /// Padding.
        padding: TfPadding,
        /// Strides (height, width).
        stride: (usize, usize),
        /// Dilations (height, width).
        dilation: (usize, usize),
        /// Fused activation (0 none, 1 RELU, 3 RELU6).
        activation: u8,
    },
    /// `Pool2DOptions` (type 5).
    Pool {
        /// Padding.
        padding: TfPadding,
        /// Strides (height, width).
        stride: (usize, usize),
        /// Window (height, width).
        filter: (usize, usize),
        /// Fused activation.
        activation: u8,
    },
    /// `AddOptions` (type 11) and `MulOptions` (type 21).
    Elementwise {
        /// Fused activation.
        activation: u8,
    },
    /// `ResizeBilinearOptions` (type 15).
    Resize {
        /// `align_corners`.
        align_corners: bool,
        /// `half_pixel_centers`.
        half_pixel_centers: bool,
    },
}

fn padding(code: u8) -> TfPadding {
    if code == 1 { TfPadding::Valid } else { TfPadding::Same }
}

fn positive(v: u32) -> usize {
    (v as usize).max(1)
}

/// Parse the options of union type `ty` from table `t` (`None` if the file is corrupt).
pub(super) fn parse(ty: u8, t: Option<Table<'_>>) -> Option<TfOptions> {
    let Some(t) = t else { return Some(TfOptions::None) };
    Some(match ty {
        1 => TfOptions::Conv {
            padding: padding(t.u8(0)?),
            stride: (positive(t.u32(2)?), positive(t.u32(1)?)),
            activation: t.u8(3)?,
            dilation: (positive(t.u32(5)?), positive(t.u32(4)?)),
        },
        2 => TfOptions::Conv {
            padding: padding(t.u8(0)?),
            stride: (positive(t.u32(2)?), positive(t.u32(1)?)),
            activation: t.u8(4)?,
            dilation: (positive(t.u32(6)?), positive(t.u32(5)?)),
        },
        5 => TfOptions::Pool {
            padding: padding(t.u8(0)?),
            stride: (positive(t.u32(2)?), positive(t.u32(1)?)),
            filter: (positive(t.u32(4)?), positive(t.u32(3)?)),
            activation: t.u8(5)?,
        },
        11 | 21 => TfOptions::Elementwise { activation: t.u8(0)? },
        15 => TfOptions::Resize { align_corners: t.u8(2)? != 0, half_pixel_centers: t.u8(3)? != 0 },
        _ => TfOptions::None,
    })
}
