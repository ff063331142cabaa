#!/usr/bin/env python3
"""Writes the fuzz targets' starting corpora into fuzz/corpus/<target>/: small inputs of every kind each
parser takes (a few hundred bytes to a few kB, so the fuzzer mutates structure, not pixels).
Deterministic; run from anywhere: python3 fuzz/seed.py"""
import io, os, sys, zlib, shutil, random, subprocess
from pathlib import Path

from PIL import Image, ImageDraw

here = Path(__file__).resolve().parent
root = here.parent
sys.path.insert(0, str(root / "fixtures"))
import generate  # noqa: E402  (born_digital_pdf)

corpus = here / "corpus"


def put(target, name, data):
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def small(mode, size=(24, 16), seed=1):
    rnd = random.Random(seed)
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    for _ in range(6):
        x, y = rnd.randrange(size[0]), rnd.randrange(size[1])
        d.rectangle([x, y, x + 4, y + 3], fill=(rnd.randrange(256), 0, rnd.randrange(256)))
    return img.convert(mode)


def encoded(img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def images():
    for mode in ["RGB", "L", "1", "P", "LA", "RGBA", "CMYK", "I;16"]:
        img = small(mode)
        if mode not in ("1", "P", "LA", "RGBA", "I;16"):
            put("image_pages", f"{mode}.jpg", encoded(img, "JPEG", quality=50, dpi=(300, 300)))
        if mode != "CMYK":
            put("image_pages", f"{mode}.png", encoded(img, "PNG", dpi=(200, 200)))
        for comp in ["raw", "tiff_lzw", "tiff_adobe_deflate", "packbits"] + (["group4"] if mode == "1" else []):
            put("image_pages", f"{mode}-{comp}.tif", encoded(img, "TIFF", compression=comp, dpi=(300, 300)))
    # Two pages in one TIFF, and a JPEG with an EXIF orientation.
    b = io.BytesIO()
    small("L").save(b, "TIFF", save_all=True, append_images=[small("1", seed=2)], compression="tiff_lzw")
    put("image_pages", "two-pages.tif", b.getvalue())
    exif = Image.Exif()
    exif[0x0112] = 6
    put("image_pages", "exif6.jpg", encoded(small("RGB"), "JPEG", exif=exif.tobytes()))
    put("image_pages", "progressive.jpg", encoded(small("RGB"), "JPEG", progressive=True))


def pdfs(tmp):
    p = tmp / "born.pdf"
    generate.born_digital_pdf(p, "seed")
    put("pdf_pages", "born-digital.pdf", p.read_bytes())
    content = b"BT /F1 12 Tf 72 720 Td (Don de nghi) Tj ET"
    for name, filt, data in [
        ("flate", b"/FlateDecode", zlib.compress(content)),
        ("hex-flate", b"[/ASCIIHexDecode /FlateDecode]", zlib.compress(content).hex().encode() + b">"),
    ]:
        body = p.read_bytes()
        old = b"<< /Length %d >>\nstream\n" % len(b"BT /F1 24 Tf 72 720 Td (Don de nghi - born digital) Tj ET")
        start = body.index(old)
        end = body.index(b"\nendstream", start)
        new = b"<< /Length %d /Filter %s >>\nstream\n" % (len(data), filt) + data
        put("pdf_pages", f"born-{name}.pdf", body[:start] + new + body[end:])  # xref offsets now off: a repair path
    if shutil.which("img2pdf"):
        for mode, ext in [("RGB", "jpg"), ("L", "png"), ("1", "tif"), ("P", "png")]:
            src = tmp / f"page-{mode}.{ext}"
            img = small(mode, (40, 30))
            if ext == "tif":
                img.save(src, "TIFF", compression="group4", dpi=(300, 300))
            else:
                img.save(src, dpi=(300, 300))
            out = subprocess.run(["img2pdf", str(src)], capture_output=True, check=True).stdout
            put("pdf_pages", f"scanner-{mode}.pdf", out)


def manifests():
    put("manifest", "sidecar", b"\x00" + '{"case": "H15.50.05.13-261008-0975", "role": "input", "document_type": "Đơn"}'.encode())
    put("manifest", "folder", b"\x01" + (root / "fixtures/sample/H15.50.05.13-261008-0975/manifest.json").read_bytes())
    put("manifest", "folder-files", b"\x01" + '{"role": "result", "files": {"scan.jpg": {"case": "H15.50.05.13-261008-0975", "reused_from": "H15.50.05.13-261001-0001"}}}'.encode())


def profiles():
    for p in sorted((root / "pipelines").glob("*.toml")):
        put("profile", p.name, p.read_bytes())


def imports():
    export = (root / "fixtures/report766/export.csv").read_bytes()
    put("case_import", "export.csv", b"\x00" + export[:3000])
    put("case_import", "cases.json", b"\x01" + '[{"Mã hồ sơ": "H15.50.05.13-261008-0975", "Ngày tiếp nhận": "08/10/2026 09:30", "Trạng thái": "Đã trả kết quả", "Hình thức nộp": "Trực tuyến"}]'.encode())
    put("case_import", "cases.jsonl", b"\x02" + '{"code": "H15.50.05.13-261008-0975", "received": "2026-10-08T09:30:00+07:00", "status": "withdrawn"}\n{"code": "H15.50.05.13-261009-0001"}\n'.encode())
    put("case_import", "catalogue.toml", b"\x00" + (root / "fixtures/report766/catalogue.toml").read_bytes()[:2000])
    put("case_import", "units.csv", b"\x00" + "Mã đơn vị;Tên đơn vị\nH15.50.05;UBND huyện\n".encode())


def separators():
    put("separator", "qr-text", "SOHOA-SEP\nH15.50.05.13-261008-0975\nresult\nQuyết định\n".encode())
    put("separator", "bare-code", b"H15.50.05.13-261008-0975")
    img = Image.new("L", (64, 48), 255)
    ImageDraw.Draw(img).rectangle([8, 8, 40, 40], fill=0)
    put("separator", "raster", bytes([64, 48]) + img.tobytes())


def uploads():
    # The boundary is fixed by the target (sohoa::fuzzed::UPLOAD_BOUNDARY); the body is the input.
    def form(*parts):
        body = b""
        for headers, data in parts:
            body += b"--sohoa-fuzz\r\n" + headers + b"\r\n\r\n" + data + b"\r\n"
        return body + b"--sohoa-fuzz--\r\n"
    scan = encoded(small("L"), "JPEG")
    put("upload_form", "one-file", form((b'Content-Disposition: form-data; name="file"; filename="trang-1.jpg"', scan)))
    put("upload_form", "vietnamese-name", form(
        (b'Content-Disposition: form-data; name="note"', "ghi chú".encode()),
        ("Content-Disposition: form-data; name=\"file\"; filename=\"Quyết định.jpg\"\r\nContent-Type: image/jpeg".encode(), scan)))
    put("upload_form", "traversal", form((b'Content-Disposition: form-data; name="file"; filename="../../x.jpg"', scan)))
    put("upload_form", "no-file-part", form((b'Content-Disposition: form-data; name="other"', b"x")))
    put("upload_form", "cut-short", form((b'Content-Disposition: form-data; name="file"; filename="a.jpg"', scan))[:60])


if __name__ == "__main__":
    import tempfile
    with tempfile.TemporaryDirectory() as t:
        images(); pdfs(Path(t)); manifests(); profiles(); imports(); separators(); uploads()
    for d in sorted(corpus.iterdir()):
        print(d.name, len(list(d.iterdir())))
