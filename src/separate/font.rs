//! The font separator sheets are printed in: DejaVu Sans Bold (its licence beside it in `fonts/`),
//! which has every Vietnamese letter, embedded as a subset — only the glyphs a run of sheets uses —
//! so the printed line says exactly what the code says (`Tờ khai`, not `To khai`) and a PDF reader
//! can copy the text back out (a ToUnicode map).
//!
//! Written as PDF wants a subset TrueType font: a Type0 font over a CIDFontType2 with Identity-H
//! encoding, where each character in a content stream is the two-byte glyph id in the subset.

use std::collections::BTreeMap;

use lopdf::{Document, Object, ObjectId, Stream, dictionary};

use crate::error::{Code, Failure, Result};

/// The embedded font file.
const FONT: &[u8] = include_bytes!("fonts/DejaVuSans-Bold.ttf");
/// The name the PDF gives the subset (a six-letter tag, then the font's PostScript name).
const NAME: &str = "SOHOAA+DejaVuSans-Bold";

/// The glyphs a document uses, gathered while its pages are written, then embedded once.
pub struct SheetFont {
    face: ttf_parser::Face<'static>,
    remapper: subsetter::GlyphRemapper,
    /// New glyph id → (advance in 1000ths of an em, the text it shows).
    used: BTreeMap<u16, (i64, String)>,
}

impl SheetFont {
    /// The font, ready to lay out text.
    pub fn new() -> Result<SheetFont> {
        let face = ttf_parser::Face::parse(FONT, 0)
            .map_err(|e| Failure::bad(Code::Pdf, format!("the embedded sheet font cannot be read: {e}")))?;
        Ok(SheetFont { face, remapper: subsetter::GlyphRemapper::new(), used: BTreeMap::new() })
    }

    /// `s` as the bytes of a PDF string in this font (two bytes per glyph), noting the glyphs used.
    /// A character the font lacks shows as its missing-glyph box; the text is NFC first, so a
    /// decomposed tone mark finds its precomposed letter.
    pub fn encode(&mut self, s: &str) -> Vec<u8> {
        let s = crate::util::text::nfc(s);
        let per_em = self.face.units_per_em().max(1) as i64;
        let mut out = Vec::with_capacity(s.len() * 2);
        for c in s.chars() {
            let gid = self.face.glyph_index(c).unwrap_or(ttf_parser::GlyphId(0));
            let new = self.remapper.remap(gid.0);
            let advance = self.face.glyph_hor_advance(gid).unwrap_or(0) as i64 * 1000 / per_em;
            self.used.entry(new).or_insert_with(|| (advance, String::new())).1 = c.to_string();
            out.extend(new.to_be_bytes());
        }
        out
    }

    /// How wide `s` is at `size` points.
    pub fn width(&self, s: &str, size: f64) -> f64 {
        let per_em = self.face.units_per_em().max(1) as f64;
        let units: f64 = crate::util::text::nfc(s)
            .chars()
            .map(|c| {
                let gid = self.face.glyph_index(c).unwrap_or(ttf_parser::GlyphId(0));
                self.face.glyph_hor_advance(gid).unwrap_or(0) as f64
            })
            .sum();
        units / per_em * size
    }

    /// Writes the subset font and its dictionaries into `doc`, the Type0 font (what page resources
    /// name) as object `id`, reserved before the pages were written.
    pub fn embed(self, doc: &mut Document, id: ObjectId) -> Result<()> {
        let subset = subsetter::subset(FONT, 0, &self.remapper)
            .map_err(|e| Failure::bad(Code::Pdf, format!("the sheet font cannot be subset: {e:?}")))?;
        let mut file = Stream::new(dictionary! { "Length1" => subset.len() as i64 }, subset);
        file.compress().map_err(|e| Failure::bad(Code::Pdf, format!("cannot compress the sheet font: {e}")))?;
        let file_id = doc.add_object(file);
        let per_em = self.face.units_per_em().max(1) as i64;
        let scale = |v: i64| v * 1000 / per_em;
        let b = self.face.global_bounding_box();
        let descriptor = doc.add_object(dictionary! {
            "Type" => "FontDescriptor",
            "FontName" => NAME,
            "Flags" => 4,
            "FontBBox" => vec![
                scale(b.x_min as i64).into(), scale(b.y_min as i64).into(),
                scale(b.x_max as i64).into(), scale(b.y_max as i64).into(),
            ],
            "ItalicAngle" => 0,
            "Ascent" => scale(self.face.ascender() as i64),
            "Descent" => scale(self.face.descender() as i64),
            "CapHeight" => scale(self.face.capital_height().unwrap_or(self.face.ascender()) as i64),
            "StemV" => 120,
            "FontFile2" => file_id,
        });
        // Widths of the glyphs used, by new glyph id: `[gid [w] gid [w] …]`.
        let mut widths = Vec::with_capacity(self.used.len() * 2);
        for (gid, (w, _)) in &self.used {
            widths.push(Object::Integer(*gid as i64));
            widths.push(Object::Array(vec![Object::Integer(*w)]));
        }
        let cid = doc.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "CIDFontType2",
            "BaseFont" => NAME,
            "CIDSystemInfo" => dictionary! {
                "Registry" => Object::string_literal("Adobe"),
                "Ordering" => Object::string_literal("Identity"),
                "Supplement" => 0,
            },
            "FontDescriptor" => descriptor,
            "CIDToGIDMap" => "Identity",
            "DW" => 1000,
            "W" => widths,
        });
        let to_unicode = doc.add_object(Stream::new(dictionary! {}, self.to_unicode().into_bytes()));
        doc.objects.insert(
            id,
            Object::Dictionary(dictionary! {
                "Type" => "Font",
                "Subtype" => "Type0",
                "BaseFont" => NAME,
                "Encoding" => "Identity-H",
                "DescendantFonts" => vec![Object::Reference(cid)],
                "ToUnicode" => to_unicode,
            }),
        );
        Ok(())
    }

    /// The CMap that turns glyph ids back into text, for copying and searching.
    fn to_unicode(&self) -> String {
        use std::fmt::Write;
        let mut s = String::from(
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo << /Registry (Adobe) \
             /Ordering (UCS) /Supplement 0 >> def\n/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
             1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
        );
        let pairs: Vec<(&u16, &String)> =
            self.used.iter().map(|(g, (_, t))| (g, t)).filter(|(_, t)| !t.is_empty()).collect();
        for chunk in pairs.chunks(100) {
            let _ = writeln!(s, "{} beginbfchar", chunk.len());
            for (gid, text) in chunk {
                let utf16: String = text.encode_utf16().map(|u| format!("{u:04X}")).collect();
                let _ = writeln!(s, "<{gid:04X}> <{utf16}>");
            }
            s.push_str("endbfchar\n");
        }
        s.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
        s
    }
}
