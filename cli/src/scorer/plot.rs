//! Charts drawn to PNG files.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use plotters::prelude::*;

/// Draws a ROC curve (false-positive rate, true-positive rate) with the chance diagonal.
pub fn roc(path: &Path, title: &str, curve: &[(f64, f64)]) -> Result<()> {
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = BitMapBackend::new(path, (640, 640)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
        chart.configure_mesh().x_desc("false-positive rate").y_desc("true-positive rate").draw()?;
        chart.draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.3)))?;
        chart.draw_series(LineSeries::new(curve.iter().copied(), BLUE.stroke_width(2)))?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| anyhow!("{e}")).with_context(|| format!("cannot draw {}", path.display()))
}
