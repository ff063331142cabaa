//! A streaming PDF writer: each page's image, content and page object go to the output as soon as they
//! are produced; only object offsets (8 bytes each) and page ids stay in memory, so a 2,000-page file
//! costs what one page costs. lopdf serializes the objects; this file owns the layout (header, body,
//! classic xref table, trailer), which keeps the output deterministic and ready for incremental updates.

use std::io::{self, Write};

use lopdf::{Dictionary, Object, StringFormat, Writer};

use crate::encode::{ColourSpace, EncodedImage, Filter};
use crate::error::{Failure, Result};

/// Document information written into the Info dictionary.
#[derive(Debug, Clone, Default)]
pub struct DocInfo {
    /// Title, e.g. the case code and document type (Vietnamese as UTF-16BE).
    pub title: String,
    /// Subject.
    pub subject: String,
    /// Creator: the station or unit.
    pub creator: String,
    /// Keywords.
    pub keywords: String,
    /// PDF date (`D:…`), derived from the record, never from the clock.
    pub date: String,
    /// 16 bytes identifying the document, derived from its content in the record.
    pub id: [u8; 16],
}

struct Counting<W> {
    inner: W,
    pos: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

const CATALOG: u32 = 1;
const PAGES: u32 = 2;

/// Writes one PDF, page by page.
pub struct PdfWriter<W: Write> {
    out: Counting<W>,
    offsets: Vec<u64>,
    pages: Vec<u32>,
}

fn io_err(e: impl Into<anyhow::Error>) -> Failure {
    Failure::transient("writing a PDF", e)
}

impl<W: Write> PdfWriter<W> {
    /// Starts a PDF 1.7 file (the binary comment marks it as binary for transfer tools).
    pub fn new(out: W) -> Result<PdfWriter<W>> {
        let mut w = PdfWriter { out: Counting { inner: out, pos: 0 }, offsets: vec![0, 0], pages: Vec::new() };
        w.out.write_all(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n").map_err(io_err)?;
        Ok(w)
    }

    fn alloc(&mut self) -> u32 {
        self.offsets.push(0);
        self.offsets.len() as u32
    }

    fn begin(&mut self, id: u32) -> Result<()> {
        self.offsets[(id - 1) as usize] = self.out.pos;
        writeln!(self.out, "{id} 0 obj").map_err(io_err)
    }

    fn object(&mut self, id: u32, obj: Object) -> Result<()> {
        self.begin(id)?;
        Writer::write_object(&mut self.out, &obj).map_err(io_err)?;
        self.out.write_all(b"\nendobj\n").map_err(io_err)
    }

    fn stream(&mut self, id: u32, mut dict: Dictionary, data: &[u8]) -> Result<()> {
        dict.set("Length", data.len() as i64);
        self.begin(id)?;
        Writer::write_object(&mut self.out, &Object::Dictionary(dict)).map_err(io_err)?;
        self.out.write_all(b"\nstream\n").map_err(io_err)?;
        self.out.write_all(data).map_err(io_err)?;
        self.out.write_all(b"\nendstream\nendobj\n").map_err(io_err)
    }

    /// Adds a page showing `img` at its resolution: page size = pixels ÷ dpi.
    pub fn add_image_page(&mut self, img: &EncodedImage, dpi_x: f64, dpi_y: f64) -> Result<()> {
        let (wpt, hpt) = (round2(img.width as f64 * 72.0 / dpi_x), round2(img.height as f64 * 72.0 / dpi_y));
        let image_id = self.alloc();
        let content_id = self.alloc();
        let page_id = self.alloc();

        let mut d = Dictionary::new();
        d.set("Type", Object::Name(b"XObject".to_vec()));
        d.set("Subtype", Object::Name(b"Image".to_vec()));
        d.set("Width", img.width as i64);
        d.set("Height", img.height as i64);
        d.set("BitsPerComponent", img.bits as i64);
        let cs: &[u8] = match img.colour_space {
            ColourSpace::Gray => b"DeviceGray",
            ColourSpace::Rgb => b"DeviceRGB",
            ColourSpace::Cmyk => b"DeviceCMYK",
        };
        d.set("ColorSpace", Object::Name(cs.to_vec()));
        match img.filter {
            Filter::Dct => d.set("Filter", Object::Name(b"DCTDecode".to_vec())),
            Filter::Flate => d.set("Filter", Object::Name(b"FlateDecode".to_vec())),
            Filter::Ccitt { black_is_1 } => {
                d.set("Filter", Object::Name(b"CCITTFaxDecode".to_vec()));
                let mut p = Dictionary::new();
                p.set("K", -1);
                p.set("Columns", img.width as i64);
                p.set("Rows", img.height as i64);
                if black_is_1 {
                    p.set("BlackIs1", true);
                }
                d.set("DecodeParms", Object::Dictionary(p));
            }
        }
        if img.inverted {
            d.set("Decode", Object::Array([1, 0, 1, 0, 1, 0, 1, 0].map(Object::Integer).to_vec()));
        }
        self.stream(image_id, d, &img.data)?;

        let content = format!("q {wpt} 0 0 {hpt} 0 0 cm /Im0 Do Q");
        self.stream(content_id, Dictionary::new(), content.as_bytes())?;

        let mut xobjects = Dictionary::new();
        xobjects.set("Im0", Object::Reference((image_id, 0)));
        let mut resources = Dictionary::new();
        resources.set("XObject", Object::Dictionary(xobjects));
        let mut page = Dictionary::new();
        page.set("Type", Object::Name(b"Page".to_vec()));
        page.set("Parent", Object::Reference((PAGES, 0)));
        page.set(
            "MediaBox",
            Object::Array(vec![0.into(), 0.into(), Object::Real(wpt as f32), Object::Real(hpt as f32)]),
        );
        page.set("Resources", Object::Dictionary(resources));
        page.set("Contents", Object::Reference((content_id, 0)));
        self.object(page_id, Object::Dictionary(page))?;
        self.pages.push(page_id);
        Ok(())
    }

    /// Pages written so far.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Writes the page tree, catalog, Info, xref table and trailer, and returns the output.
    pub fn finish(mut self, info: &DocInfo) -> Result<W> {
        if self.pages.is_empty() {
            return Err(Failure::bad("no-pages", "a PDF needs at least one page"));
        }
        let kids = self.pages.iter().map(|id| Object::Reference((*id, 0))).collect();
        let mut pages = Dictionary::new();
        pages.set("Type", Object::Name(b"Pages".to_vec()));
        pages.set("Kids", Object::Array(kids));
        pages.set("Count", self.pages.len() as i64);
        self.object(PAGES, Object::Dictionary(pages))?;

        let mut catalog = Dictionary::new();
        catalog.set("Type", Object::Name(b"Catalog".to_vec()));
        catalog.set("Pages", Object::Reference((PAGES, 0)));
        self.object(CATALOG, Object::Dictionary(catalog))?;

        let info_id = self.alloc();
        let mut d = Dictionary::new();
        for (k, v) in [
            ("Title", &info.title),
            ("Subject", &info.subject),
            ("Creator", &info.creator),
            ("Keywords", &info.keywords),
        ] {
            if !v.is_empty() {
                d.set(k, lopdf::text_string(v));
            }
        }
        d.set("Producer", lopdf::text_string(concat!("sohoa ", env!("CARGO_PKG_VERSION"))));
        if !info.date.is_empty() {
            d.set("CreationDate", Object::String(info.date.as_bytes().to_vec(), StringFormat::Literal));
            d.set("ModDate", Object::String(info.date.as_bytes().to_vec(), StringFormat::Literal));
        }
        self.object(info_id, Object::Dictionary(d))?;

        let xref_at = self.out.pos;
        let mut table = String::with_capacity(20 * (self.offsets.len() + 1) + 32);
        table.push_str(&format!("xref\n0 {}\n0000000000 65535 f \n", self.offsets.len() + 1));
        for off in &self.offsets {
            table.push_str(&format!("{off:010} 00000 n \n"));
        }
        self.out.write_all(table.as_bytes()).map_err(io_err)?;
        let id = Object::String(info.id.to_vec(), StringFormat::Hexadecimal);
        let mut trailer = Dictionary::new();
        trailer.set("Size", self.offsets.len() as i64 + 1);
        trailer.set("Root", Object::Reference((CATALOG, 0)));
        trailer.set("Info", Object::Reference((info_id, 0)));
        trailer.set("ID", Object::Array(vec![id.clone(), id]));
        self.out.write_all(b"trailer\n").map_err(io_err)?;
        Writer::write_object(&mut self.out, &Object::Dictionary(trailer)).map_err(io_err)?;
        write!(self.out, "\nstartxref\n{xref_at}\n%%EOF\n").map_err(io_err)?;
        self.out.flush().map_err(io_err)?;
        Ok(self.out.inner)
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}
