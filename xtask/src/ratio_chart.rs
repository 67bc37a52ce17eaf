//! Grouped horizontal bars of ratios (Oxidis ÷ a reference), as hand-written SVG (no plotting
//! dependency to build): docs/bench-throughput.svg (`cargo xtask bench`) and
//! docs/bench-wasm.svg (`cargo xtask bench-wasm`) are both drawn here.

use std::fmt::Write as _;

/// One chart: a title, two series (the legend), a row of two ratios per label, dashed target
/// lines, an axis to `max`× with a tick every `tick`.
pub struct RatioChart<'a> {
    pub title: &'a str,
    pub series: [&'a str; 2],
    pub rows: Vec<(String, [f64; 2])>,
    pub max: f64,
    pub tick: f64,
    pub targets: Vec<(f64, String)>,
    pub footer: &'a str,
}

/// Text inside the SVG.
pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl RatioChart<'_> {
    /// The SVG; a bar beyond `max` is cut at the axis end and still labelled with its value.
    pub fn svg(&self) -> String {
        let (w, row_h, left, top) = (760.0, 16.0, 150.0, 50.0);
        let h = top + self.rows.len() as f64 * (2.0 * row_h + 10.0) + 50.0;
        let plot_w = w - left - 60.0;
        let x = |ratio: f64| left + plot_w * (ratio / self.max).clamp(0.0, 1.0);
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
            w / 2.0,
            xml_escape(self.title)
        );
        let colors = ["#4e79a7", "#f28e2b"];
        for (i, label) in self.series.iter().enumerate() {
            let lx = left + i as f64 * 200.0;
            let _ = writeln!(
                s,
                r#"<rect x="{lx}" y="30" width="12" height="12" fill="{}"/><text x="{}" y="40">{}</text>"#,
                colors[i],
                lx + 16.0,
                xml_escape(label)
            );
        }
        let bottom = h - 40.0;
        let ticks = (self.max / self.tick).round() as usize;
        for t in 0..=ticks {
            let r = t as f64 * self.tick;
            let xx = x(r);
            let _ = writeln!(
                s,
                r##"<line x1="{xx}" y1="{top}" x2="{xx}" y2="{bottom}" stroke="#ddd"/><text x="{xx}" y="{}" text-anchor="middle">{r:.1}×</text>"##,
                bottom + 15.0
            );
        }
        for (ratio, label) in &self.targets {
            let xx = x(*ratio);
            let _ = writeln!(
                s,
                r##"<line x1="{xx}" y1="{top}" x2="{xx}" y2="{bottom}" stroke="#c00" stroke-dasharray="4 3"/><text x="{}" y="{}" fill="#c00" font-size="10">{}</text>"##,
                xx + 3.0,
                bottom + 28.0,
                xml_escape(label)
            );
        }
        for (ri, (label, ratios)) in self.rows.iter().enumerate() {
            let y0 = top + ri as f64 * (2.0 * row_h + 10.0);
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
                left - 6.0,
                y0 + row_h + 4.0,
                xml_escape(label)
            );
            for (k, ratio) in ratios.iter().enumerate() {
                let y = y0 + k as f64 * row_h;
                let _ = writeln!(
                    s,
                    r#"<rect x="{left}" y="{y}" width="{:.1}" height="{}" fill="{}"/><text x="{:.1}" y="{}" font-size="10">{ratio:.2}</text>"#,
                    (x(*ratio) - left).max(0.0),
                    row_h - 2.0,
                    colors[k],
                    x(*ratio) + 3.0,
                    y + row_h - 5.0
                );
            }
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            left + plot_w / 2.0,
            h - 4.0,
            xml_escape(self.footer)
        );
        s.push_str("</svg>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_per_ratio_and_escaped_text() {
        let c = RatioChart {
            title: "t <x>",
            series: ["a", "b & c"],
            rows: vec![("GET".into(), [2.0, 0.5]), ("SET".into(), [9.0, 1.0])],
            max: 5.0,
            tick: 1.0,
            targets: vec![(1.5, "target 1.5×".into())],
            footer: "higher is better",
        };
        let svg = c.svg();
        // Two legend squares, then two bars per row.
        assert_eq!(svg.matches("<rect x=").count(), 2 + 2 * 2);
        assert!(svg.contains("t &lt;x&gt;") && svg.contains("b &amp; c"));
        assert!(svg.contains(">9.00<"), "a cut bar keeps its value");
        assert_eq!(svg.matches("stroke-dasharray").count(), 1);
        assert_eq!(svg.matches("stroke=\"#ddd\"").count(), 6);
    }
}
