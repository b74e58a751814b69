//! [`Budget`]: whether the saved (8-bit) images keep the radius the attack claims, in every
//! report. They always do ([`crate::attack::loops::quantize`] rounds inside the ball, and norms
//! are measured on the grid); below one grey level no 8-bit image but the clean one fits, which
//! the report says so that the real-valued scores are the ones cited.

use serde::Serialize;

use crate::attack::loops::norm::Norm;
use crate::attack::loops::outcome::Outcome;
use crate::attack::loops::quantize::below_grid;

/// The radius of an attack against what its saved images achieve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Budget {
    /// ε as a number.
    pub eps: f64,
    /// The threat model.
    pub norm: Norm,
    /// Largest L∞ distance of a saved 8-bit image from its clean image (in grey levels / 255).
    pub quantized_linf: f64,
    /// Largest L2 distance of a saved 8-bit image.
    pub quantized_l2: f64,
    /// Whether every saved image lies in the ε-ball.
    pub holds: bool,
    /// Whether ε is below one grey level, so that the only 8-bit image in the ball is the clean
    /// one: the saved images are unchanged and the real-valued scores are the primary ones.
    pub below_8bit_grid: bool,
    /// What a reader should know, in words (absent when there is nothing to say).
    pub note: Option<String>,
}

impl Budget {
    /// The budget of an attack of radius `eps` (written `text`) in `norm` whose 8-bit images
    /// are `quantized`.
    pub fn of(eps: f64, text: &str, norm: Norm, quantized: &Outcome) -> Budget {
        let achieved = match norm {
            Norm::Linf => quantized.linf,
            Norm::L2 => quantized.l2,
        };
        let holds = achieved <= eps;
        let below = below_grid(eps);
        let note = if below {
            Some(format!(
                "ε = {text} is below one grey level (1/255): no 8-bit image other than the clean one lies in the ball, so the \
                 saved images are the clean ones; the real-valued scores (adversarial) are the ones to cite"
            ))
        } else if !holds {
            Some(format!("the saved images exceed ε = {text} ({norm} {achieved:.6})"))
        } else {
            None
        };
        Budget { eps, norm, quantized_linf: quantized.linf, quantized_l2: quantized.l2, holds, below_8bit_grid: below, note }
    }
}
