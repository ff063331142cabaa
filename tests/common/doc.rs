//! Documents to correct: four scans of one folder whose pages say, in their pixels, which they are
//! and which way up, and a reader of what each page of a PDF shows.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

/// Four scans of one folder: pages 1, 2 and 4 each a grey bar of their own shade with a black square
/// in the top-left corner (which way up the page is); page 3 blank paper.
pub fn scans(dir: &Path) -> PathBuf {
    let src = dir.join("src").join(CODE);
    std::fs::create_dir_all(&src).unwrap();
    draw(&format!(
        "from PIL import ImageDraw\n\
         for n, shade in [(1, 40), (2, 110), (3, None), (4, 180)]:\n\
         \x20   img = Image.new('L', (850, 1100), 250)\n\
         \x20   if shade is not None:\n\
         \x20       d = ImageDraw.Draw(img)\n\
         \x20       d.rectangle([40, 40, 200, 200], fill=0)\n\
         \x20       d.rectangle([150, 450, 700, 650], fill=shade)\n\
         \x20   img.save({:?} + f'/p{{n}}.jpg', quality=92, dpi=(100, 100))\n",
        src.display().to_string()
    ));
    let profile = dir.join("doc.toml");
    std::fs::write(
        &profile,
        "name = \"doc\"\n[station]\nid = \"kho-01\"\n[inbox]\nafter_capture = \"keep\"\n[grouping]\ndocument = \"folder\"\n\
         [output]\ndefault_dpi = 100\nmin_dpi = 50\nblank_pages = \"omit\"\norientation = false\ndeskew = false\nborders = false\n",
    )
    .unwrap();
    profile
}

/// The four scans ingested as one document; the data folder.
pub fn ingested(dir: &Path) -> PathBuf {
    let profile = scans(dir);
    let data = dir.join("data");
    let src = dir.join("src");
    let o = sohoa(&data, &["ingest", src.to_str().unwrap(), "--profile", profile.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    data
}

/// What each page of a PDF shows, read from its pixels: the shade of its bar (1, 2 or 4 by the
/// scans' shades; 3 for blank paper) and where its black square is (`tl`, `tr`, `br`, `bl`).
pub fn pages_seen(pdf: &Path, out: &Path) -> Vec<(u8, &'static str)> {
    let info = pdfinfo(pdf);
    let n: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("pdfinfo gives a page count");
    (1..=n)
        .map(|i| {
            let prefix = out.join(format!("seen-{i}"));
            let st = Command::new("pdftoppm")
                .args(["-r", "20", "-gray", "-singlefile", "-png", "-f", &i.to_string(), "-l", &i.to_string()])
                .arg(pdf)
                .arg(&prefix)
                .status()
                .unwrap();
            assert!(st.success());
            let img = image::open(prefix.with_extension("png")).unwrap().to_luma8();
            let (w, h) = img.dimensions();
            let mean = |x0: u32, y0: u32, x1: u32, y1: u32| {
                let mut s = 0u64;
                for y in y0..y1 {
                    for x in x0..x1 {
                        s += u64::from(img.get_pixel(x, y)[0]);
                    }
                }
                s as f64 / f64::from((x1 - x0) * (y1 - y0))
            };
            let c = w.min(h) / 4;
            let corners = [
                ("tl", mean(1, 1, c, c)),
                ("tr", mean(w - c, 1, w - 1, c)),
                ("br", mean(w - c, h - c, w - 1, h - 1)),
                ("bl", mean(1, h - c, c, h - 1)),
            ];
            let mut sorted = corners;
            sorted.sort_by(|a, b| a.1.total_cmp(&b.1));
            let (corner, dark) = sorted[0];
            let dark = dark + 40.0 < sorted[1].1;
            // The bar is in the middle of the page whichever way it is turned.
            let centre = mean(w * 2 / 5, h * 2 / 5, w * 3 / 5, h * 3 / 5);
            let which = match centre {
                v if v < 75.0 => 1,
                v if v < 145.0 => 2,
                v if v < 215.0 => 4,
                _ => 3,
            };
            (which, if dark { corner } else { "" })
        })
        .collect()
}
