//! Wall-clock timing that compiles on every target.

/// Wall-clock time since [`Timer::start`] (NaN on wasm32, which has no `Instant`).
pub struct Timer {
    #[cfg(not(target_arch = "wasm32"))]
    t0: std::time::Instant,
}

impl Timer {
    pub fn start() -> Timer {
        Timer {
            #[cfg(not(target_arch = "wasm32"))]
            t0: std::time::Instant::now(),
        }
    }

    pub fn seconds(&self) -> f64 {
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.t0.elapsed().as_secs_f64()
        }
        #[cfg(target_arch = "wasm32")]
        {
            f64::NAN
        }
    }
}
