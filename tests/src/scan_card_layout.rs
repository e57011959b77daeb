//! How the hard cards of [`crate::scan_cases`] are drawn: a light, dark or two-tone card,
//! colour bands and divider rules, landscape or portrait, the name in the case's face, colour
//! and spacing, a QR code with 扫一扫, the details wrapped at the bottom.

use crate::fixtures::Rng;
use crate::scan_card_content::Content;
use crate::scan_render::{Canvas, Face, Fonts};
use image::{Rgb, RgbImage};

/// A card's look.
pub(crate) struct Look {
    pub(crate) paper: Rgb<u8>,
    pub(crate) ink: Rgb<u8>,
    pub(crate) accent: Rgb<u8>,
    pub(crate) name_ink: Rgb<u8>,
    pub(crate) name_face: Face,
    /// Px between the name's characters.
    pub(crate) tracking: i32,
    /// A dark panel: (x, y, w, h).
    pub(crate) panel: Option<(i32, i32, u32, u32)>,
    pub(crate) panel_ink: Rgb<u8>,
    pub(crate) bands: bool,
}

pub(crate) const RED: Rgb<u8> = Rgb([200, 28, 36]);
pub(crate) const DARKS: [Rgb<u8>; 4] = [
    Rgb([22, 24, 30]),
    Rgb([16, 36, 72]),
    Rgb([40, 40, 44]),
    Rgb([60, 18, 24]),
];
pub(crate) const GOLD: Rgb<u8> = Rgb([212, 180, 110]);

/// A QR-code-like block of `size` px at (x, y): finder squares and random modules.
fn qr_block(c: &mut Canvas, rng: &mut Rng, x: i32, y: i32, size: u32, ink: Rgb<u8>) {
    let m = (size / 25).max(2) as i32;
    for r in 0..25 {
        for q in 0..25 {
            // Finder squares: a ring at distance 3 and a 3x3 centre.
            let finder = |a: i32, b: i32| {
                let d = (r - a).abs().max((q - b).abs());
                d == 3 || d <= 1
            };
            let on = if r < 7 && q < 7 {
                finder(3, 3)
            } else if r < 7 && q >= 18 {
                finder(3, 21)
            } else if r >= 18 && q < 7 {
                finder(21, 3)
            } else {
                rng.chance(45)
            };
            if on {
                c.rect(x + q * m, y + r * m, m as u32, m as u32, ink);
            }
        }
    }
}

/// Splits a long detail line (an address) in two at the space nearest its middle.
fn split_line(line: &str) -> (String, String) {
    let chars: Vec<char> = line.chars().collect();
    let mid = chars.len() / 2;
    let cut = (0..mid)
        .flat_map(|d| [mid + d, mid - d])
        .find(|&k| k < chars.len() && chars[k] == ' ')
        .unwrap_or(mid);
    let first: String = chars[..cut].iter().collect();
    let rest: String = chars[cut..].iter().collect();
    (first.trim().to_string(), rest.trim().to_string())
}

pub(crate) fn draw_card(
    fonts: &Fonts,
    content: &Content,
    look: &Look,
    w: u32,
    h: u32,
    vertical: bool,
    rng: &mut Rng,
) -> RgbImage {
    let mut c = Canvas {
        image: RgbImage::from_pixel(w, h, look.paper),
        fonts,
    };
    let margin = if vertical { 60 } else { 80 };
    let name_size = rng.range(80, 104) as f32;
    let title_size = rng.range(32, 40) as f32;
    let company_size = rng.range(38, 48) as f32;
    let detail_size = if vertical {
        rng.range(26, 30) as f32
    } else {
        rng.range(27, 32) as f32
    };
    let line_gap = (detail_size * 1.55) as i32;

    // The area the name and details go in: all of the card, or the light part of a two-tone.
    let (mut x0, mut y0, x1) = (margin, 50, w as i32 - margin);
    if let Some((px, py, pw, ph)) = look.panel {
        c.rect(px, py, pw, ph, look.accent);
        if ph == h {
            // Left panel: logo and company in it, the rest to its right.
            let cx = (pw / 2) as i32;
            c.rect(cx - 55, 160, 110, 110, look.panel_ink);
            c.draw_centre(
                &content.mark,
                cx,
                172,
                70.0,
                Face::Bold,
                look.accent,
                110,
                0,
            );
            c.draw_centre(
                &content.company,
                cx,
                330,
                company_size * 0.8,
                Face::Bold,
                look.panel_ink,
                pw - 40,
                0,
            );
            x0 = pw as i32 + 60;
        } else {
            // Top panel: the company in it.
            c.draw(
                &content.company,
                margin,
                (ph as i32 - company_size as i32) / 2,
                company_size,
                Face::Bold,
                look.panel_ink,
                w - 2 * margin as u32,
                0,
            );
            y0 = ph as i32 + 40;
        }
    }
    let max_w = (x1 - x0).max(100) as u32;

    // Details (wrapped when too long), from the bottom up.
    let mut details: Vec<String> = Vec::new();
    for d in &content.details {
        if c.face_width(d, detail_size, Face::Regular, 0) > max_w {
            let (a, b) = split_line(d);
            details.push(a);
            details.push(b);
        } else {
            details.push(d.clone());
        }
    }
    let bottom_band = if look.bands {
        rng.range(40, 70) as i32
    } else {
        0
    };
    let details_top = h as i32 - 50 - bottom_band - line_gap * details.len() as i32;

    let mut y = y0;
    if look.panel.is_none() {
        if look.bands {
            // A colour band across the top with the company in it.
            let band = rng.range(90, 130) as i32;
            c.rect(0, 0, w, band as u32, look.accent);
            c.draw(
                &content.company,
                margin,
                (band - company_size as i32) / 2,
                company_size,
                Face::Bold,
                look.paper,
                w - 2 * margin as u32,
                0,
            );
            y = band + 40;
        } else {
            let logo = 100;
            if vertical {
                let cx = w as i32 / 2;
                c.rect(cx - logo / 2, y, logo as u32, logo as u32, look.accent);
                c.draw_centre(
                    &content.mark,
                    cx,
                    y + 12,
                    64.0,
                    Face::Bold,
                    look.paper,
                    100,
                    0,
                );
                y += logo + 24;
                y += 10
                    + c.draw_centre(
                        &content.company,
                        cx,
                        y,
                        company_size * 0.85,
                        Face::Bold,
                        look.ink,
                        max_w,
                        0,
                    ) as i32;
            } else {
                c.rect(x0, y, logo as u32, logo as u32, look.accent);
                c.draw(
                    &content.mark,
                    x0 + 18,
                    y + 12,
                    64.0,
                    Face::Bold,
                    look.paper,
                    100,
                    0,
                );
                c.draw(
                    &content.company,
                    x0 + logo + 30,
                    y + 26,
                    company_size,
                    Face::Bold,
                    look.ink,
                    max_w - logo as u32 - 30,
                    0,
                );
                y += logo;
            }
        }
        y += 40;
    } else {
        y += 20;
    }

    // Labels and slogans just above the name.
    for label in &content.near_name {
        let size = 26.0;
        if vertical {
            c.draw_centre(
                label,
                w as i32 / 2,
                y,
                size,
                Face::Regular,
                look.accent,
                max_w,
                0,
            );
        } else {
            c.draw(label, x0, y, size, Face::Regular, look.accent, max_w, 0);
        }
        y += 42;
    }
    // The name, its pinyin or romaji, the title.
    let name_w_max = if content.qr { max_w - 220 } else { max_w };
    let used = if vertical {
        c.draw_centre(
            &content.name_printed,
            w as i32 / 2,
            y,
            name_size,
            look.name_face,
            look.name_ink,
            name_w_max,
            look.tracking,
        )
    } else {
        c.draw(
            &content.name_printed,
            x0,
            y,
            name_size,
            look.name_face,
            look.name_ink,
            name_w_max,
            look.tracking,
        )
    };
    let name_w = c.face_width(&content.name_printed, used, look.name_face, look.tracking) as i32;
    let title_beside = !vertical && rng.chance(50) && x0 + name_w + 360 < x1;
    let mut below = y + used as i32 + 26;
    if let Some(alt) = &content.alt_name {
        if vertical {
            c.draw_centre(
                alt,
                w as i32 / 2,
                below,
                26.0,
                Face::Regular,
                look.ink,
                max_w,
                4,
            );
        } else {
            c.draw(alt, x0, below, 26.0, Face::Regular, look.ink, max_w, 4);
        }
        below += 44;
    }
    if let Some(t) = &content.title {
        if title_beside {
            c.draw(
                t,
                x0 + name_w + 36,
                y + (used - title_size) as i32 - 8,
                title_size,
                Face::Regular,
                look.ink,
                (x1 - x0 - name_w - 36).max(60) as u32,
                0,
            );
        } else if vertical {
            c.draw_centre(
                t,
                w as i32 / 2,
                below,
                title_size,
                Face::Regular,
                look.ink,
                max_w,
                0,
            );
            below += title_size as i32 + 20;
        } else {
            c.draw(t, x0, below, title_size, Face::Regular, look.ink, max_w, 0);
            below += title_size as i32 + 20;
        }
    }
    if content.qr {
        let size = 175;
        let (qx, qy) = if vertical {
            (w as i32 - margin - size, below + 10)
        } else {
            (x1 - size, y0 + 10)
        };
        c.rect(
            qx - 8,
            qy - 8,
            (size + 16) as u32,
            (size + 16) as u32,
            look.paper,
        );
        qr_block(&mut c, rng, qx, qy, size as u32, Rgb([20, 20, 20]));
        let label = *rng.pick(&["扫一扫", "扫一扫 加微信", "微信扫一扫"]);
        c.draw_centre(
            label,
            qx + size / 2,
            qy + size + 14,
            24.0,
            Face::Regular,
            look.ink,
            260,
            0,
        );
    }
    if look.bands || (case_rule(rng) && !vertical) {
        // A divider rule across the card between the name block and the details.
        let rule_y = (below + details_top) / 2 - 2;
        let t = if look.bands { 4 } else { 2 };
        c.rect(
            margin / 2,
            rule_y.min(details_top - 16),
            w - margin as u32,
            t,
            look.accent,
        );
    }
    for (k, d) in details.iter().enumerate() {
        let dy = details_top + line_gap * k as i32;
        if vertical {
            c.draw_centre(
                d,
                w as i32 / 2,
                dy,
                detail_size,
                Face::Regular,
                look.ink,
                max_w,
                0,
            );
        } else {
            c.draw(d, x0, dy, detail_size, Face::Regular, look.ink, max_w, 0);
        }
    }
    if look.bands {
        c.rect(
            0,
            h as i32 - bottom_band,
            w,
            bottom_band as u32,
            look.accent,
        );
    }
    c.image
}

/// Some cards of every case carry a thin divider rule.
fn case_rule(rng: &mut Rng) -> bool {
    rng.chance(30)
}
