//! XMP metadata for PDF/A: Dublin Core and PDF properties agreeing with the Info dictionary, the PDF/A
//! identification, and the archival fields of Nghị định 30/2020 / Thông tư 02/2019 in sohoa's own
//! namespace — declared with a PDF/A extension schema, as PDF/A requires of any custom property.

use super::pdf::DocInfo;
use crate::profile::PdfKind;

/// The Producer written into Info and XMP.
pub const PRODUCER: &str = concat!("sohoa ", env!("CARGO_PKG_VERSION"));

/// sohoa's XMP namespace.
pub const NAMESPACE: &str = "http://ns.sohoa.vn/archive/1.0/";

/// The archival properties: name, XMP value type, description.
pub const PROPERTIES: &[(&str, &str, &str)] = &[
    ("FileCode", "Text", "Case code (mã hồ sơ) of the dossier"),
    ("DocOrdinal", "Integer", "Ordinal of the document within the dossier"),
    ("TypeName", "Text", "Document type (tên loại văn bản / thành phần hồ sơ)"),
    ("Role", "Text", "input (thành phần hồ sơ) or result (kết quả)"),
    ("PageAmount", "Integer", "Number of pages"),
    ("Station", "Text", "Capturing station"),
    ("ProfileSha256", "Text", "SHA-256 of the pipeline profile used"),
    ("SourceSha256", "Seq Text", "File name and SHA-256 of each source file"),
];

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => {}
            c => o.push(c),
        }
    }
    o
}

/// The XMP packet (UTF-8) for a document.
pub fn packet(info: &DocInfo) -> String {
    let (part, conformance) = match info.kind {
        PdfKind::PdfA1b => ("1", "B"),
        _ => ("2", "B"),
    };
    let mut x = String::with_capacity(4096);
    x.push_str("<?xpacket begin=\"\u{FEFF}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n");
    x.push_str(
        "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n",
    );
    x.push_str("<rdf:Description rdf:about=\"\"\n  xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n");
    x.push_str("  xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\"\n  xmlns:pdf=\"http://ns.adobe.com/pdf/1.3/\"\n");
    x.push_str("  xmlns:pdfaid=\"http://www.aiim.org/pdfa/ns/id/\"\n");
    x.push_str("  xmlns:pdfaExtension=\"http://www.aiim.org/pdfa/ns/extension/\"\n");
    x.push_str("  xmlns:pdfaSchema=\"http://www.aiim.org/pdfa/ns/schema#\"\n");
    x.push_str("  xmlns:pdfaProperty=\"http://www.aiim.org/pdfa/ns/property#\"\n");
    x.push_str(&format!("  xmlns:sohoa=\"{NAMESPACE}\">\n"));
    x.push_str(&format!("<pdfaid:part>{part}</pdfaid:part>\n<pdfaid:conformance>{conformance}</pdfaid:conformance>\n"));
    x.push_str("<dc:format>application/pdf</dc:format>\n");
    if !info.title.is_empty() {
        x.push_str(&format!(
            "<dc:title><rdf:Alt><rdf:li xml:lang=\"x-default\">{}</rdf:li></rdf:Alt></dc:title>\n",
            esc(&info.title)
        ));
    }
    if !info.subject.is_empty() {
        x.push_str(&format!(
            "<dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">{}</rdf:li></rdf:Alt></dc:description>\n",
            esc(&info.subject)
        ));
    }
    if !info.keywords.is_empty() {
        x.push_str(&format!("<pdf:Keywords>{}</pdf:Keywords>\n", esc(&info.keywords)));
    }
    x.push_str(&format!("<pdf:Producer>{}</pdf:Producer>\n", esc(PRODUCER)));
    if !info.creator.is_empty() {
        x.push_str(&format!("<xmp:CreatorTool>{}</xmp:CreatorTool>\n", esc(&info.creator)));
    }
    if let Some(t) = info.date {
        let iso = crate::util::time::iso(t, t.offset());
        x.push_str(&format!("<xmp:CreateDate>{iso}</xmp:CreateDate>\n<xmp:ModifyDate>{iso}</xmp:ModifyDate>\n"));
    }
    for (k, v) in &info.archival {
        x.push_str(&format!("<sohoa:{k}>{}</sohoa:{k}>\n", esc(v)));
    }
    if !info.sources.is_empty() {
        x.push_str("<sohoa:SourceSha256><rdf:Seq>");
        for s in &info.sources {
            x.push_str(&format!("<rdf:li>{}</rdf:li>", esc(s)));
        }
        x.push_str("</rdf:Seq></sohoa:SourceSha256>\n");
    }
    x.push_str("<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType=\"Resource\">\n");
    x.push_str("<pdfaSchema:schema>sohoa archival metadata (Nghị định 30/2020/NĐ-CP, Thông tư 02/2019/TT-BNV)</pdfaSchema:schema>\n");
    x.push_str(&format!("<pdfaSchema:namespaceURI>{NAMESPACE}</pdfaSchema:namespaceURI>\n"));
    x.push_str("<pdfaSchema:prefix>sohoa</pdfaSchema:prefix>\n<pdfaSchema:property><rdf:Seq>\n");
    for (n, t, d) in PROPERTIES {
        x.push_str(&format!(
            "<rdf:li rdf:parseType=\"Resource\"><pdfaProperty:name>{n}</pdfaProperty:name>\
             <pdfaProperty:valueType>{t}</pdfaProperty:valueType><pdfaProperty:category>external</pdfaProperty:category>\
             <pdfaProperty:description>{}</pdfaProperty:description></rdf:li>\n",
            esc(d)
        ));
    }
    x.push_str("</rdf:Seq></pdfaSchema:property>\n</rdf:li></rdf:Bag></pdfaExtension:schemas>\n");
    x.push_str("</rdf:Description>\n</rdf:RDF>\n</x:xmpmeta>\n");
    // No padding: a PDF's metadata changes by an incremental update (a new stream), never in place.
    x.push_str("<?xpacket end=\"w\"?>");
    x
}
