//! The two kinds of failure, kept apart because they are handled in opposite ways.
//!
//! A [`Failure::BadInput`] is the file's fault: retrying can never help, so the input is quarantined
//! with a reason a clerk can act on. A [`Failure::Transient`] is the weather's fault (disk full, database
//! locked, share gone): quarantining would misfile a good scan, so the work is retried with back-off and
//! an alarm is raised instead.

use std::fmt;

stored_words! {
    /// The stable code of a bad input: what machines read (tests, the API, `.error.json`), what each
    /// quarantined input is stored with, and the key of the catalogue of explanations below. A new
    /// reason is a new variant, so that no code is ever spelled two ways.
    pub enum Code {
        /// The file is empty: the scanner did not finish writing it or the copy failed.
        EmptyFile = "empty-file",
        /// The JPEG is cut short (a copy or a scan that stopped half-way).
        TruncatedJpeg = "truncated-jpeg",
        /// The PNG is cut short.
        TruncatedPng = "truncated-png",
        /// The TIFF is cut short.
        TruncatedTiff = "truncated-tiff",
        /// The JPEG is damaged and cannot be read.
        BrokenJpeg = "broken-jpeg",
        /// The PNG is damaged and cannot be read.
        BrokenPng = "broken-png",
        /// The TIFF is damaged and cannot be read.
        BrokenTiff = "broken-tiff",
        /// The PDF is damaged and cannot be read.
        BrokenPdf = "broken-pdf",
        /// The PDF is cut short or damaged: not every page opens.
        DamagedPdf = "damaged-pdf",
        /// The file has no pages.
        NoPages = "no-pages",
        /// The image cannot be decoded.
        Undecodable = "undecodable",
        /// The image cannot be decoded.
        DecoderFailure = "decoder-failure",
        /// The image has no pixels (zero size).
        EmptyImage = "empty-image",
        /// The file is named .jpg but is not a JPEG.
        NotAJpeg = "not-a-jpeg",
        /// The file is not a scan or a PDF.
        NotAScan = "not-a-scan",
        /// The image is too large to process safely.
        TooLarge = "too-large",
        /// The file has too many pages.
        TooManyPages = "too-many-pages",
        /// The PDF expands to far more than it holds (possibly hostile).
        PdfBomb = "pdf-bomb",
        /// The PDF holds scripts, launch actions or embedded files.
        ActivePdf = "active-pdf",
        /// The PDF is password-protected.
        EncryptedPdf = "encrypted-pdf",
        /// The PDF mixes scanned pages and text pages.
        MixedPdf = "mixed-pdf",
        /// A PDF page's layout is not supported.
        PdfLayout = "pdf-layout",
        /// Fax-style (CCITT G3) TIFF is not supported.
        TiffGroup3 = "tiff-group3",
        /// The PDF holds fax-style (CCITT G3) images, which are not supported.
        PdfGroup3 = "pdf-group3",
        /// This TIFF compression is not supported.
        TiffUnsupported = "tiff-unsupported",
        /// The JPEG uses arithmetic coding, which is not supported.
        ArithmeticJpeg = "arithmetic-jpeg",
        /// Lossless JPEG is not supported.
        LosslessJpeg = "lossless-jpeg",
        /// The JPEG has an unsupported number of colour channels.
        JpegComponents = "jpeg-components",
        /// A CMYK image cannot go into PDF/A.
        CmykInPdfa = "cmyk-in-pdfa",
        /// A PDF could not be made from this image.
        EncodeFailed = "encode-failed",
        /// The manifest beside the scan is broken.
        BadManifest = "bad-manifest",
        /// The case code (in the manifest or folder name) is not valid.
        BadCaseCode = "bad-case-code",
        /// The station's profile is invalid.
        BadProfile = "bad-profile",
        /// A separator sheet's code cannot be encoded.
        BadCode = "bad-code",
        /// A name that is not a SHA-256 was asked of the blob store.
        BadHash = "bad-hash",
        /// A temporary blob name that is not one this store handed out.
        BadToken = "bad-token",
        /// The export's destination exists already.
        Exists = "exists",
        /// A stored file's bytes do not match their recorded hash.
        Fixity = "fixity",
        /// A page scanned under the profile's minimum resolution.
        LowDpi = "low-dpi",
        /// No case with that code.
        NoCase = "no-case",
        /// A PDF this program writes (a separator sheet) could not be built.
        Pdf = "pdf",
        /// A page thumbnail could not be encoded.
        Thumbnail = "thumbnail",
        /// A TIFF whose pages are old-style JPEG.
        TiffJpeg = "tiff-jpeg",
        /// Processing the file stopped the service more than once: it is set aside.
        Crashed = "crashed",
    }
}

/// Why a piece of work did not complete.
#[derive(Debug)]
pub enum Failure {
    /// The input itself is unusable. `code` is a stable key for machines (tests, the API); `reason` is
    /// written for the clerk at the counter and says what to do.
    BadInput { code: Code, reason: String },
    /// Something outside the input failed; the same work may succeed later.
    Transient { context: String, source: anyhow::Error },
}

impl Failure {
    /// Rejects an input with a stable code and a clerk-readable reason.
    pub fn bad(code: Code, reason: impl Into<String>) -> Self {
        Failure::BadInput { code, reason: reason.into() }
    }

    /// Wraps an environmental error with what was being attempted, so the alarm names the step.
    pub fn transient(context: impl Into<String>, source: impl Into<anyhow::Error>) -> Self {
        Failure::Transient { context: context.into(), source: source.into() }
    }

    /// True when retrying may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, Failure::Transient { .. })
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::BadInput { code, reason } => write!(f, "{reason} [{code}]"),
            Failure::Transient { context, source } => write!(f, "{context}: {source:#}"),
        }
    }
}

impl std::error::Error for Failure {}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::transient("file system", e)
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::transient("database", e)
    }
}

/// Shorthand for results whose error is a [`Failure`].
pub type Result<T, E = Failure> = std::result::Result<T, E>;

/// What a quarantine reason code means to the clerk at the counter, in Vietnamese and in English, and
/// whether sending the same bytes through again can ever help (a file cut short or empty must be
/// scanned again; a bad manifest or a wrong case code can be fixed and retried). The detailed reason
/// of each input, in English, goes beside it. Translations are data here, keyed by the stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Explained {
    /// The stable code.
    pub code: &'static str,
    /// What happened and what to do, in Vietnamese.
    pub vi: &'static str,
    /// The same in English.
    pub en: &'static str,
    /// True when only a new scan helps: retrying the same bytes cannot succeed.
    pub scan_again: bool,
}

/// The catalogue of quarantine reasons: code, Vietnamese, English, scan again.
const EXPLAINED: &[(Code, &str, &str, bool)] = &[
    (
        Code::EmptyFile,
        "Tệp rỗng (0 byte): máy quét chưa ghi xong hoặc tệp bị chép lỗi. Hãy quét lại.",
        "The file is empty: the scanner did not finish writing it or the copy failed. Scan it again.",
        true,
    ),
    (
        Code::TruncatedJpeg,
        "Ảnh JPEG bị cắt cụt (chép dở hoặc máy quét dừng giữa chừng). Hãy quét lại.",
        "The JPEG is cut short (a copy or a scan that stopped half-way). Scan it again.",
        true,
    ),
    (Code::TruncatedPng, "Ảnh PNG bị cắt cụt. Hãy quét lại.", "The PNG is cut short. Scan it again.", true),
    (Code::TruncatedTiff, "Ảnh TIFF bị cắt cụt. Hãy quét lại.", "The TIFF is cut short. Scan it again.", true),
    (
        Code::BrokenJpeg,
        "Ảnh JPEG bị hỏng, không đọc được. Hãy quét lại.",
        "The JPEG is damaged and cannot be read. Scan it again.",
        true,
    ),
    (
        Code::BrokenPng,
        "Ảnh PNG bị hỏng, không đọc được. Hãy quét lại.",
        "The PNG is damaged and cannot be read. Scan it again.",
        true,
    ),
    (
        Code::BrokenTiff,
        "Ảnh TIFF bị hỏng, không đọc được. Hãy quét lại.",
        "The TIFF is damaged and cannot be read. Scan it again.",
        true,
    ),
    (
        Code::BrokenPdf,
        "Tệp PDF bị hỏng, không đọc được. Hãy quét hoặc xuất lại.",
        "The PDF is damaged and cannot be read. Scan or export it again.",
        true,
    ),
    (
        Code::DamagedPdf,
        "Tệp PDF bị cắt cụt hoặc hỏng: không mở được hết các trang. Hãy xuất hoặc quét lại.",
        "The PDF is cut short or damaged: not every page opens. Export or scan it again.",
        true,
    ),
    (
        Code::NoPages,
        "Tệp không có trang nào. Hãy kiểm tra tệp gốc và quét lại.",
        "The file has no pages. Check the original and scan it again.",
        true,
    ),
    (Code::Undecodable, "Không giải mã được ảnh. Hãy quét lại.", "The image cannot be decoded. Scan it again.", true),
    (
        Code::DecoderFailure,
        "Không giải mã được ảnh. Hãy quét lại.",
        "The image cannot be decoded. Scan it again.",
        true,
    ),
    (
        Code::EmptyImage,
        "Ảnh không có điểm ảnh nào (kích thước 0). Hãy quét lại.",
        "The image has no pixels (zero size). Scan it again.",
        true,
    ),
    (
        Code::NotAJpeg,
        "Tệp mang đuôi .jpg nhưng không phải ảnh JPEG. Hãy quét lại hoặc lưu đúng định dạng.",
        "The file is named .jpg but is not a JPEG. Scan again or save it in the right format.",
        true,
    ),
    (
        Code::NotAScan,
        "Tệp không phải ảnh quét hay PDF. Hãy bỏ tệp này ra khỏi thư mục quét.",
        "The file is not a scan or a PDF. Take it out of the scan folder.",
        true,
    ),
    (
        Code::TooLarge,
        "Ảnh quá lớn để xử lý an toàn. Hãy quét với độ phân giải thấp hơn (300 dpi là đủ).",
        "The image is too large to process safely. Scan at a lower resolution (300 dpi is enough).",
        true,
    ),
    (
        Code::TooManyPages,
        "Tệp có quá nhiều trang. Hãy chia thành các tệp nhỏ hơn rồi quét lại.",
        "The file has too many pages. Split it into smaller files and scan again.",
        true,
    ),
    (
        Code::PdfBomb,
        "Tệp PDF giải nén ra quá lớn (có thể là tệp độc hại). Không xử lý.",
        "The PDF expands to far more than it holds (possibly hostile). Not processed.",
        true,
    ),
    (
        Code::ActivePdf,
        "Tệp PDF chứa mã chạy tự động hoặc tệp đính kèm. Không gắn vào hồ sơ; hãy xuất lại dạng PDF thường.",
        "The PDF holds scripts, launch actions or embedded files. Not attached; export it again as a plain PDF.",
        true,
    ),
    (
        Code::EncryptedPdf,
        "Tệp PDF có mật khẩu. Hãy xuất lại không đặt mật khẩu.",
        "The PDF is password-protected. Export it again without a password.",
        true,
    ),
    (
        Code::MixedPdf,
        "Tệp PDF vừa có trang quét vừa có trang văn bản. Hãy tách thành hai tệp.",
        "The PDF mixes scanned pages and text pages. Split it into two files.",
        true,
    ),
    (
        Code::PdfLayout,
        "Trang PDF có bố cục không hỗ trợ. Hãy quét lại thành ảnh.",
        "A PDF page's layout is not supported. Scan it again as images.",
        true,
    ),
    (
        Code::TiffGroup3,
        "Ảnh TIFF nén kiểu fax (CCITT G3) chưa được hỗ trợ. Hãy cài máy quét lưu TIFF G4, PNG hoặc JPEG rồi quét lại.",
        "Fax-style (CCITT G3) TIFF is not supported. Set the scanner to TIFF G4, PNG or JPEG and scan again.",
        true,
    ),
    (
        Code::PdfGroup3,
        "Tệp PDF chứa ảnh nén kiểu fax (CCITT G3) chưa được hỗ trợ. Hãy quét lại dạng TIFF G4, PNG hoặc JPEG.",
        "The PDF holds fax-style (CCITT G3) images, which are not supported. Scan again as TIFF G4, PNG or JPEG.",
        true,
    ),
    (
        Code::TiffUnsupported,
        "Kiểu nén TIFF này chưa được hỗ trợ. Hãy cài máy quét lưu JPEG, PNG hoặc TIFF G4.",
        "This TIFF compression is not supported. Set the scanner to save JPEG, PNG or TIFF G4.",
        true,
    ),
    (
        Code::ArithmeticJpeg,
        "Ảnh JPEG dùng mã hóa số học (ít gặp), chưa hỗ trợ. Hãy cài máy quét lưu JPEG thường.",
        "The JPEG uses arithmetic coding, which is not supported. Set the scanner to save plain JPEG.",
        true,
    ),
    (
        Code::LosslessJpeg,
        "Ảnh JPEG không mất dữ liệu chưa được hỗ trợ. Hãy lưu PNG hoặc JPEG thường.",
        "Lossless JPEG is not supported. Save PNG or plain JPEG.",
        true,
    ),
    (
        Code::JpegComponents,
        "Ảnh JPEG có số kênh màu không hỗ trợ. Hãy quét màu hoặc xám.",
        "The JPEG has an unsupported number of colour channels. Scan in colour or gray.",
        true,
    ),
    (
        Code::CmykInPdfa,
        "Ảnh CMYK không đưa vào PDF/A được. Hãy quét ở chế độ màu RGB.",
        "A CMYK image cannot go into PDF/A. Scan in RGB colour.",
        true,
    ),
    (
        Code::EncodeFailed,
        "Không tạo được PDF từ ảnh này. Hãy báo quản trị viên.",
        "A PDF could not be made from this image. Tell the administrator.",
        false,
    ),
    (
        Code::BadManifest,
        "Tệp manifest bên cạnh bản quét bị lỗi. Đặt manifest đã sửa cạnh tệp trong thư mục cách ly rồi xử lý lại, \
         hoặc ghi mã hồ sơ khi xử lý lại.",
        "The manifest beside the scan is broken. Put a corrected one beside the file in the quarantine folder and \
         retry, or give the case code when retrying.",
        false,
    ),
    (
        Code::BadCaseCode,
        "Mã hồ sơ (trong manifest hoặc tên thư mục) không đúng dạng. Xử lý lại và ghi đúng mã hồ sơ.",
        "The case code (in the manifest or folder name) is not valid. Retry with the right case code.",
        false,
    ),
    (
        Code::BadProfile,
        "Cấu hình trạm quét bị lỗi. Hãy báo quản trị viên.",
        "The station's profile is invalid. Tell the administrator.",
        false,
    ),
    (
        Code::LowDpi,
        "Trang được quét với độ phân giải thấp hơn mức tối thiểu của quầy. Hãy quét lại ở độ phân giải cao hơn.",
        "A page was scanned under this station's minimum resolution. Scan it again at a higher resolution.",
        true,
    ),
    (
        Code::Crashed,
        "Xử lý tệp này đã nhiều lần làm dịch vụ dừng, nên tệp được để riêng để dịch vụ tiếp tục chạy. Hãy báo \
         cho bộ phận kỹ thuật kèm tệp này; sau khi được khắc phục, có thể xử lý lại.",
        "Processing this file stopped the service more than once, so it is set aside and the service goes on. \
         Report it to the technical staff with the file; once fixed, it can be retried.",
        false,
    ),
    (
        Code::TiffJpeg,
        "Ảnh TIFF dùng kiểu nén JPEG cũ, không đọc được. Hãy quét lại hoặc lưu ở định dạng khác.",
        "The TIFF uses the old JPEG compression, which cannot be read. Scan again or save in another format.",
        true,
    ),
];

/// The catalogue entry for a quarantine code.
pub fn explained(code: Code) -> Explained {
    EXPLAINED.iter().find(|e| e.0 == code).map_or(
        Explained {
            code: code.as_str(),
            vi: "Tệp không dùng được. Xem chi tiết (tiếng Anh) bên dưới; nếu không rõ, hãy quét lại.",
            en: "The file cannot be used. See the detail below; if unsure, scan it again.",
            scan_again: false,
        },
        |&(code, vi, en, scan_again)| Explained { code: code.as_str(), vi, en, scan_again },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_quarantine_code_is_explained_in_both_languages_once() {
        let mut seen = std::collections::HashSet::new();
        for (code, vi, en, _) in EXPLAINED {
            assert!(seen.insert(*code), "{code} twice");
            assert!(!vi.is_empty() && !en.is_empty(), "{code}");
            assert_eq!(crate::util::text::nfc(vi), *vi, "{code}: Vietnamese in NFC");
        }
        assert!(explained(Code::TruncatedJpeg).scan_again);
        assert!(!explained(Code::BadManifest).scan_again);
        // Codes that never reach a clerk (a sheet that cannot be printed) get a general sentence.
        assert_eq!(explained(Code::Thumbnail).code, "thumbnail");
    }
}
