//! Draws a decoded printout as the paper would look: a PNG, one pixel per printer dot.
//!
//! The point is an independent check of printed receipts: the printer simulator records bytes,
//! [`crate::escpos_view`] decodes them, this module draws text with an 8×8 bitmap font and QR
//! codes module by module (encoded again from the received data with the `qrcode` crate, as the
//! printer's firmware would), and a test reads the QR back from the image with a decoder that
//! shares no code with any encoder here (`rqrr`).
//!
//! Geometry follows an Epson-class 203 dpi printer: 576 dots (80 mm) or 384 dots (58 mm) wide,
//! font A cells 12 dots wide, 30-dot line pitch (24-dot characters and the default spacing).
//! The 8×8 glyphs sit in those cells at 1 dot per font pixel across and 2 down. A QR code gets a
//! 4-module quiet zone and is centred. Barcodes and raster images are drawn schematically (a bar
//! pattern, a grey block): only text and QR codes are meant to be read back.

use image::{ImageEncoder as _, codecs::png::PngEncoder};

use crate::escpos::{Align, CutKind, PaperWidth};
use crate::escpos_view::{Element, Line, Printout, ViewError};

const CELL_WIDTH: usize = 12;
const LINE_PITCH: usize = 30;
const GLYPH_TOP: usize = 4;
const MARGIN: usize = 16;
const QUIET_ZONE: usize = 4;
const WHITE: u8 = 0xFF;
const BLACK: u8 = 0x00;

/// `€` for the 8×8 font, which lacks it (bit 0 is the leftmost pixel).
const EURO: [u8; 8] = [0x38, 0x44, 0x1F, 0x04, 0x1F, 0x44, 0x38, 0x00];

/// Why a printout could not be drawn.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The byte stream could not be decoded.
    #[error("cannot decode the printer stream: {0}")]
    View(#[source] ViewError),
    /// The PNG encoder failed.
    #[error("cannot encode the PNG: {0}")]
    Png(#[source] image::ImageError),
}

impl RenderError {
    /// Stable machine-readable code: `RENDER_VIEW` or `RENDER_PNG`.
    pub fn code(&self) -> &'static str {
        match self {
            RenderError::View(_) => "RENDER_VIEW",
            RenderError::Png(_) => "RENDER_PNG",
        }
    }
}

/// Printable width in dots.
pub fn paper_dots(paper: PaperWidth) -> usize {
    match paper {
        PaperWidth::Mm58 => 384,
        PaperWidth::Mm80 => 576,
    }
}

/// A growing white page.
struct Page {
    width: usize,
    pixels: Vec<u8>,
    y: usize,
}

impl Page {
    fn new(width: usize) -> Page {
        Page {
            width,
            pixels: Vec::new(),
            y: MARGIN,
        }
    }

    fn height(&self) -> usize {
        self.pixels.len() / self.width
    }

    fn grow(&mut self, height: usize) {
        if height > self.height() {
            self.pixels.resize(height * self.width, WHITE);
        }
    }

    fn fill(&mut self, x: usize, y: usize, w: usize, h: usize, value: u8) {
        self.grow(y + h);
        for row in y..y + h {
            let start = row * self.width + x.min(self.width);
            let end = row * self.width + (x + w).min(self.width);
            self.pixels[start..end].fill(value);
        }
    }

    fn left(&self, align: Align, content: usize) -> usize {
        let free = self.width.saturating_sub(content);
        match align {
            Align::Left => 0,
            Align::Center => free / 2,
            Align::Right => free,
        }
    }
}

fn glyph(c: char) -> [u8; 8] {
    let code = u32::from(c);
    let basic = usize::try_from(code).ok().filter(|&i| i < 128);
    let latin = usize::try_from(code.wrapping_sub(0xA0))
        .ok()
        .filter(|&i| i < 96);
    match (c, basic, latin) {
        ('€', _, _) => EURO,
        (_, Some(i), _) => font8x8::legacy::BASIC_LEGACY[i],
        (_, _, Some(i)) => font8x8::legacy::LATIN_LEGACY[i],
        _ => font8x8::legacy::BASIC_LEGACY[usize::from(b'?')],
    }
}

fn draw_line(page: &mut Page, line: &Line) {
    let cells: Vec<(char, usize, usize, bool)> = line
        .styled()
        .flat_map(|(text, style)| {
            text.chars().map(move |c| {
                (
                    c,
                    usize::from(style.width.max(1)),
                    usize::from(style.height.max(1)),
                    style.bold,
                )
            })
        })
        .collect();
    let content: usize = cells.iter().map(|(_, w, _, _)| CELL_WIDTH * w).sum();
    let tallest = cells.iter().map(|(_, _, h, _)| *h).max().unwrap_or(1);
    let pitch = LINE_PITCH + 24 * (tallest - 1);
    let mut x = page.left(line.align, content);
    let top = page.y;
    page.grow(top + pitch);
    for (c, w, h, bold) in cells {
        let rows = glyph(c);
        // Characters of a taller line share its baseline.
        let y0 = top + GLYPH_TOP + 24 * (tallest - h);
        for (gy, bits) in rows.iter().enumerate() {
            for gx in 0..8 {
                if bits & (1 << gx) == 0 {
                    continue;
                }
                let px = x + 2 * w + gx * w;
                let extra = usize::from(bold);
                page.fill(px, y0 + gy * 2 * h, w + extra, 2 * h, BLACK);
            }
        }
        x += CELL_WIDTH * w;
    }
    page.y += pitch;
}

fn draw_qr(page: &mut Page, data: &[u8], module: usize, ecc: char) {
    let level = match ecc {
        'L' => qrcode::EcLevel::L,
        'Q' => qrcode::EcLevel::Q,
        'H' => qrcode::EcLevel::H,
        _ => qrcode::EcLevel::M,
    };
    let module = module.max(1);
    let Ok(code) = qrcode::QrCode::with_error_correction_level(data, level) else {
        // What the printer does with data it cannot encode varies; draw a crossed box.
        let size = 20 * module;
        let x = page.left(Align::Center, size);
        page.fill(x, page.y, size, 2, BLACK);
        page.fill(x, page.y + size - 2, size, 2, BLACK);
        page.y += size + LINE_PITCH;
        return;
    };
    let n = code.width();
    let side = (n + 2 * QUIET_ZONE) * module;
    let x0 = page.left(Align::Center, side) + QUIET_ZONE * module;
    let y0 = page.y + QUIET_ZONE * module;
    page.grow(page.y + side);
    for (i, color) in code.to_colors().into_iter().enumerate() {
        if color == qrcode::Color::Dark {
            page.fill(
                x0 + (i % n) * module,
                y0 + (i / n) * module,
                module,
                module,
                BLACK,
            );
        }
    }
    page.y += side;
}

fn draw_barcode(page: &mut Page, data: &[u8], text: Option<&str>) {
    let bars = data.len() * 8 * 2;
    let x0 = page.left(Align::Center, bars);
    for (i, byte) in data.iter().enumerate() {
        for bit in 0..8 {
            if byte & (0x80 >> bit) != 0 {
                page.fill(x0 + (i * 8 + bit) * 2, page.y, 2, 60, BLACK);
            }
        }
    }
    page.y += 66;
    if let Some(text) = text {
        let line = Line {
            text: text.to_owned(),
            align: Align::Center,
            runs: vec![crate::escpos_view::Run {
                start: 0,
                end: text.len(),
                style: crate::escpos_view::TextStyle::default(),
            }],
        };
        draw_line(page, &line);
    }
}

/// Draws a printout on paper of the given width.
pub fn render(printout: &Printout, paper: PaperWidth) -> image::GrayImage {
    let mut page = Page::new(paper_dots(paper));
    for element in &printout.elements {
        match element {
            Element::Line(line) => draw_line(&mut page, line),
            Element::Feed(n) => page.y += LINE_PITCH * usize::from(*n),
            Element::Qr(qr) => draw_qr(&mut page, &qr.data, usize::from(qr.module_size), qr.ecc),
            Element::Barcode(b) => draw_barcode(&mut page, &b.data, b.text.as_deref()),
            Element::Image {
                bytes_per_row,
                rows,
            } => {
                let w = usize::from(*bytes_per_row) * 8;
                let x = page.left(Align::Center, w);
                page.fill(x, page.y, w, usize::from(*rows), 0xC0);
                page.y += usize::from(*rows);
            }
            Element::Cut { kind, .. } => {
                page.y += LINE_PITCH / 2;
                let dash = if *kind == CutKind::Full { 12 } else { 4 };
                let mut x = 0;
                while x < page.width {
                    page.fill(x, page.y, dash, 2, BLACK);
                    x += dash * 2;
                }
                page.y += LINE_PITCH / 2;
            }
            Element::DrawerPulse { .. } | Element::StatusRequest(_) => {}
        }
    }
    page.grow(page.y + MARGIN);
    let (width, height) = (page.width, page.height());
    let to_u32 = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    image::GrayImage::from_raw(to_u32(width), to_u32(height), page.pixels)
        .unwrap_or_else(|| image::GrayImage::new(to_u32(width), 1))
}

/// Draws a printout and encodes it as PNG.
pub fn render_png(printout: &Printout, paper: PaperWidth) -> Result<Vec<u8>, RenderError> {
    let img = render(printout, paper);
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::L8,
        )
        .map_err(RenderError::Png)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escpos::{PrinterProfile, Receipt};

    #[test]
    fn a_receipt_draws_to_a_page_of_the_paper_width() {
        let bytes = Receipt::new()
            .header("COMUNE")
            .text("caffè € 1,00")
            .qr("PAGOPA|002|301000000000012373|02438750586|1234")
            .cut(CutKind::Partial)
            .encode(&PrinterProfile::default())
            .expect("encodes");
        let printout = crate::escpos_view::render(&bytes).expect("decodes");
        let img = render(&printout, PaperWidth::Mm80);
        assert_eq!(img.width(), 576);
        // Header (double height), text, a version-4 QR at 6 dots with quiet zone: > 300 rows.
        assert!(img.height() > 300, "height {}", img.height());
        let dark = img.pixels().filter(|p| p.0[0] == BLACK).count();
        assert!(dark > 1000, "something was drawn");
        let png = render_png(&printout, PaperWidth::Mm58).expect("png");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn glyphs_exist_for_italian_letters_and_euro() {
        for c in ['à', 'è', 'é', 'ì', 'ò', 'ù', '€', 'A'] {
            assert!(glyph(c).iter().any(|row| *row != 0), "{c}");
        }
        assert_eq!(glyph('\u{2603}'), glyph('?'));
    }
}
