// The clerks' page: a few views over the JSON API (/openapi.json). Plain DOM, no framework, no build
// step. Text from the records is always set as text, never as HTML.
"use strict";

const TEXT = {
  vi: {
    "doc.edit": "Sửa trang", "doc.title": "Sửa tài liệu", "doc.version": "phiên bản", "doc.versionCol": "Phiên bản", "doc.back": "Về hồ sơ",
    "doc.turn": "Xoay 90° phải", "doc.remove": "Bỏ trang", "doc.restore": "Khôi phục", "doc.earlier": "Lên trước", "doc.later": "Xuống sau",
    "doc.split": "Tách từ trang này", "doc.asScanned": "Bỏ nắn thẳng, cắt viền", "doc.straighten": "Nắn thẳng lại",
    "doc.merge": "Gộp tài liệu", "doc.mergeWith": "Gộp thêm tài liệu số", "doc.move": "Chuyển sang hồ sơ khác",
    "doc.movePages": "Các trang (để trống: cả tài liệu)", "doc.versions": "Lịch sử phiên bản", "doc.download": "Tải về",
    "doc.done": "Đã lưu phiên bản mới", "doc.drag": "Kéo thả trang để đổi thứ tự, hoặc dùng các nút Lên trước / Xuống sau.",
    "doc.page": "Trang", "doc.rescan": "Thay bằng bản quét mới", "doc.born": "PDF gốc điện tử: chỉ chuyển hoặc đổi loại được cả tài liệu.",
    "pstate.in": "trong PDF", "pstate.removed": "đã bỏ ra", "pstate.replaced": "đã thay", "pstate.blank-omitted": "trang trắng, để ra ngoài",
    "pstate.blank-kept": "trang trắng, giữ lại", "pstate.sheet": "tờ phân cách",
    "op.scan": "Quét", "op.turn": "Xoay trang", "op.as-scanned": "Bỏ/đặt lại nắn thẳng", "op.order": "Đổi thứ tự", "op.remove": "Bỏ trang",
    "op.restore": "Khôi phục trang", "op.split": "Tách", "op.merge": "Gộp", "op.move": "Chuyển", "op.retype": "Đổi loại giấy tờ",
    "event.turn": "Xoay trang", "event.as-scanned": "Bỏ/đặt lại nắn thẳng", "event.order": "Đổi thứ tự trang", "event.remove": "Bỏ trang",
    "event.restore": "Khôi phục trang", "event.split": "Tách tài liệu", "event.merge": "Gộp tài liệu", "event.move": "Chuyển trang", "event.replace-page": "Thay trang bằng bản quét mới", "op.replace-page": "Thay trang",
    "event.capture": "Tiếp nhận bản quét", "event.attach": "Gắn tài liệu", "event.file": "Phân loại vào hồ sơ",
    "event.detach": "Gỡ tài liệu", "event.quarantine": "Cách ly", "event.retry": "Xử lý lại", "event.discard": "Loại bỏ",
    "event.keep-page": "Giữ lại trang trắng", "event.bundle": "Ghép hồ sơ", "event.view": "Xem", "event.download": "Tải về",
    "event.sign-in": "Đăng nhập", "event.report": "Xem báo cáo", "event.edit": "Sửa thông tin", "event.delete": "Xóa",
    "event.export": "Xuất hồ sơ", "event.fixity": "Kiểm tra toàn vẹn", "event.fixity-problem": "Lỗi toàn vẹn",
    "event.token-create": "Cấp mã truy cập", "event.token-revoke": "Thu hồi mã truy cập", "event.retype": "Đổi loại giấy tờ", "event.reuse": "Đánh dấu tái sử dụng", "event.set-aside": "Tạm gác (xử lý làm dừng dịch vụ)", "event.render-again": "Tạo lại PDF",
    "nav.search": "Tra cứu nội dung", "search.title": "Tra cứu hồ sơ qua nội dung", "search.q": "Từ cần tìm (gõ có dấu hay không dấu đều được)",
    "search.go": "Tìm", "search.none": "Không trang nào có những từ này. Chỉ tìm được tài liệu đã nhận dạng chữ.", "search.page": "trang",
    "search.count": "{n} trang", "search.confidence": "độ tin cậy của chữ {c}",
    "text.unreliable": "Chữ nhận dạng có thể không chính xác (độ tin cậy dưới {m}) — nên quét lại", "text.noWords": "không đọc được chữ nào",
    "event.ocr": "Nhận dạng chữ (thêm lớp chữ vào PDF)", "op.ocr": "Nhận dạng chữ",
    "nav.stations": "Trạm quét", "nav.cases": "Hồ sơ", "nav.unfiled": "Chưa phân loại",
    "nav.quarantine": "Cách ly", "nav.report": "Báo cáo", "nav.outbox": "Gửi một cửa", signout: "Đăng xuất", lang: "English",
    "outbox.title": "Gửi sang hệ thống một cửa", "outbox.none": "Chưa có gì để gửi.", "outbox.all": "Tất cả",
    "outbox.failed": "Lỗi và bị từ chối", "outbox.counts": "chờ gửi {p} (lâu nhất {s} giây) · đã gửi {d} · bị từ chối {r}",
    "outbox.doc": "Tài liệu", "outbox.op": "Thay đổi", "outbox.state": "Trạng thái", "outbox.why": "Lý do / biên nhận",
    "outbox.retry": "Gửi lại", "outbox.retried": "Sẽ gửi lại", "outbox.attempts": "Lần thử",
    "op.attach": "gắn", "op.detach": "gỡ", "op.correct": "sửa",
    "ostate.pending": "chờ gửi", "ostate.retrying": "chờ gửi lại", "ostate.delivered": "đã gửi", "ostate.rejected": "bị từ chối",
    "event.deliver": "Đã gửi sang một cửa", "event.deliver-rejected": "Một cửa từ chối", "event.deliver-unsendable": "Chưa gửi được sang một cửa (thiếu thông tin)", "event.outbox-retry": "Gửi lại sang một cửa",
    "login.title": "Đăng nhập", "login.token": "Mã truy cập (token)", "login.go": "Đăng nhập",
    "login.help": "Quản trị viên cấp mã bằng lệnh: sohoa token create --role clerk",
    "stations.title": "Trạm quét — trực tiếp", "stations.none": "Chưa có trạm nào đang chạy.",
    "stations.recent": "Vừa quét", "station": "Trạm", "inbox": "Thư mục", "waiting": "Đang chờ",
    "jobs": "Việc chưa xong", "updated": "Cập nhật", "alarms": "Cảnh báo", "time": "Thời gian",
    "file": "Tệp", "case": "Hồ sơ", "pages": "Số trang", "state": "Trạng thái", "detail": "Chi tiết",
    "state.attached": "Đã gắn", "state.unfiled": "Chưa phân loại", "state.processing": "Đang xử lý",
    "state.quarantined": "Cách ly", "state.open": "Đang mở", "state.closed": "Đang tạo PDF",
    "state.detached": "Đã gỡ", "status.received": "Đã tiếp nhận", "status.processing": "Đang giải quyết",
    "status.resolved": "Đã giải quyết", "status.returned": "Trả lại", "status.supplement": "Yêu cầu bổ sung",
    "status.rejected": "Từ chối", "status.withdrawn": "Đã rút hồ sơ", "status.cancelled": "Đã hủy",
    "retype.choose": "— chọn loại giấy tờ —", "retype.save": "Lưu", "retype.done": "Đã đổi loại giấy tờ; đang tạo lại PDF",
    "retype.label": "Loại giấy tờ của",
    "cases.title": "Hồ sơ", "cases.code": "Mã hồ sơ", "cases.applicant": "Người nộp",
    "cases.search": "Tìm", "cases.none": "Không có hồ sơ nào.", "unit": "Đơn vị", "procedure": "Thủ tục",
    "status": "Tình trạng", "received": "Ngày tiếp nhận", "documents": "Tài liệu",
    "complete": "Đầy đủ", "incomplete": "Chưa đủ", "notJudged": "Chưa xác định được (hồ sơ chưa có thủ tục)", "completeness": "Độ đầy đủ",
    "case.fields": "Thông tin hồ sơ", "case.documents": "Tài liệu", "case.pages": "Các trang",
    "case.events": "Nhật ký", "case.open": "Xem", "case.viewer": "Xem PDF", "case.missing": "Còn thiếu",
    "norm.blank": "trang trắng", "norm.omitted": "không đưa vào PDF", "norm.turn": "xoay", "norm.deskew": "nắn thẳng",
    "norm.crop": "cắt viền tối", "norm.bitonal": "đen trắng", "norm.mixed": "đen trắng + vùng màu",
    "norm.gray": "thang xám", "norm.colour": "màu",
    "norm.unjudged": "chưa xác định được chiều trang: để nguyên như khi quét", "norm.tesseract": "theo Tesseract",
    "role": "Loại", "role.input": "Thành phần", "role.result": "Kết quả", "type": "Loại giấy tờ",
    "due": "Hạn giải quyết", "resolved": "Ngày giải quyết", "applicant": "Người nộp", "applicant_id": "Số giấy tờ",
    "contact": "Liên hệ", "channel": "Kênh nộp", "channel.online": "Trực tuyến", "channel.counter": "Trực tiếp",
    "channel.post": "Bưu chính", "result.needed": "Kết quả", "actor": "Người thực hiện", "what": "Việc",
    "unfiled.title": "Bản quét chưa phân loại", "unfiled.none": "Không có bản quét nào chờ phân loại.",
    "unfiled.attach": "Gắn vào hồ sơ", "unfiled.done": "Đã gắn vào hồ sơ",
    "quarantine.title": "Tệp bị cách ly", "quarantine.none": "Không có tệp nào bị cách ly.",
    "quarantine.reason": "Lý do", "quarantine.retry": "Xử lý lại", "quarantine.discard": "Loại bỏ",
    "quarantine.why": "Lý do loại bỏ (ghi vào nhật ký):", "quarantine.case": "Mã hồ sơ (không bắt buộc)",
    "quarantine.retried": "Đã đưa vào xử lý lại", "quarantine.discarded": "Đã loại bỏ", "quarantine.scanAgain": "Cần quét lại",
    "quarantine.detail": "Chi tiết kỹ thuật (tiếng Anh)", "actor.token": "mã truy cập",
    "report.title": "Báo cáo số hóa (Quyết định 766)", "report.from": "Từ ngày", "report.to": "Đến ngày",
    "report.show": "Xem báo cáo", "report.digitization": "Tỷ lệ số hóa", "report.electronic": "Trả kết quả điện tử",
    "report.reuse": "Tái sử dụng", "report.received": "Tiếp nhận", "report.resolved": "Đã giải quyết",
    "report.total": "Tổng cộng", "report.score": "điểm", "report.unknown": "chưa có trong danh mục",
    "report.leftOut": "Rút/hủy", "report.inputs": "Thành phần đã số hóa", "report.results": "Kết quả đã số hóa",
    "report.behind": "Hồ sơ chưa đạt và dữ liệu cần xem lại", "report.noInput": "chưa có thành phần",
    "report.noResult": "đã giải quyết, chưa có kết quả", "report.resolvedNoResult": "giải quyết trong kỳ, chưa có tệp kết quả",
    "report.qUnknown": "Thủ tục chưa có trong danh mục (không tính)", "report.qNoUnit": "Không có đơn vị",
    "report.qNotInExport": "Đã quét nhưng không có trong dữ liệu một cửa (không tính)",
    "report.qLeftOut": "Đã rút hoặc hủy (không tính)", "report.qNoDate": "Không có ngày tiếp nhận (không tính)",
    "page.enlarge": "Xem trang lớn", "page.zoomIn": "Phóng to", "page.zoomOut": "Thu nhỏ", "page.fit": "Vừa khung",
    "page.close": "Đóng", "never": "—", "secondsAgo": "{n} giây trước", "error": "Lỗi", "forbidden": "Mã truy cập này không được xem trang này.",
  },
  en: {
    "doc.edit": "Edit pages", "doc.title": "Edit document", "doc.version": "version", "doc.versionCol": "Version", "doc.back": "Back to the case",
    "doc.turn": "Turn 90° right", "doc.remove": "Remove page", "doc.restore": "Restore", "doc.earlier": "Earlier", "doc.later": "Later",
    "doc.split": "Split from this page", "doc.asScanned": "Undo straightening and crop", "doc.straighten": "Straighten again",
    "doc.merge": "Merge documents", "doc.mergeWith": "Append document number", "doc.move": "Move to another case",
    "doc.movePages": "Pages (empty: the whole document)", "doc.versions": "Version history", "doc.download": "Download",
    "doc.done": "New version saved", "doc.drag": "Drag pages to reorder them, or use the Earlier / Later buttons.",
    "doc.page": "Page", "doc.rescan": "Replace with a new scan", "doc.born": "Born-digital PDF: only the whole document can be moved or retyped.",
    "pstate.in": "in the PDF", "pstate.removed": "removed", "pstate.replaced": "replaced", "pstate.blank-omitted": "blank, left out",
    "pstate.blank-kept": "blank, kept", "pstate.sheet": "separator sheet",
    "op.scan": "Scanned", "op.turn": "Page turned", "op.as-scanned": "Straightening undone/redone", "op.order": "Reordered", "op.remove": "Page removed",
    "op.restore": "Page restored", "op.split": "Split", "op.merge": "Merged", "op.move": "Moved", "op.retype": "Type changed",
    "event.turn": "Page turned", "event.as-scanned": "Straightening undone/redone", "event.order": "Pages reordered", "event.remove": "Page removed",
    "event.restore": "Page restored", "event.split": "Document split", "event.merge": "Documents merged", "event.move": "Pages moved", "event.replace-page": "Page replaced by a new scan", "op.replace-page": "Page replaced",
    "event.capture": "Captured", "event.attach": "Attached", "event.file": "Filed", "event.detach": "Detached",
    "event.quarantine": "Quarantined", "event.set-aside": "Set aside (it stopped the service)", "event.render-again": "Rendered again", "event.retry": "Retried", "event.discard": "Discarded", "event.keep-page": "Blank page kept",
    "event.bundle": "Bundled", "event.view": "Viewed", "event.download": "Downloaded", "event.sign-in": "Signed in",
    "event.report": "Report read", "event.edit": "Edited", "event.delete": "Deleted", "event.export": "Exported",
    "event.fixity": "Fixity check", "event.fixity-problem": "Fixity problem", "event.token-create": "Token issued",
    "event.token-revoke": "Token revoked", "event.retype": "Type changed", "event.reuse": "Marked as reused",
    "nav.search": "Search text", "search.title": "Find dossiers by their text", "search.q": "Words to find (tone marks optional)",
    "search.go": "Search", "search.none": "No page holds these words. Only documents whose text was recognised can be found.", "search.page": "page",
    "search.count": "{n} page(s)", "search.confidence": "text confidence {c}",
    "text.unreliable": "Recognised text may be unreliable (confidence below {m}) — consider scanning again", "text.noWords": "no words read",
    "event.ocr": "Text recognised (text layer added)", "op.ocr": "Text recognition",
    "nav.stations": "Stations", "nav.cases": "Cases", "nav.unfiled": "Unfiled", "nav.quarantine": "Quarantine",
    "nav.report": "Report", "nav.outbox": "Delivery", signout: "Sign out", lang: "Tiếng Việt",
    "outbox.title": "Delivery to the one-stop system", "outbox.none": "Nothing to deliver yet.", "outbox.all": "All",
    "outbox.failed": "Failed and refused", "outbox.counts": "{p} pending (oldest {s} s) · {d} delivered · {r} refused",
    "outbox.doc": "Document", "outbox.op": "Change", "outbox.state": "State", "outbox.why": "Reason / receipt",
    "outbox.retry": "Send again", "outbox.retried": "Will be sent again", "outbox.attempts": "Attempts",
    "op.attach": "attach", "op.detach": "detach", "op.correct": "correction",
    "ostate.pending": "pending", "ostate.retrying": "retrying", "ostate.delivered": "delivered", "ostate.rejected": "refused",
    "event.deliver": "Delivered to the one-stop system", "event.deliver-rejected": "Refused by the one-stop system", "event.deliver-unsendable": "Could not be sent to the one-stop system (information missing)", "event.outbox-retry": "Sent again to the one-stop system",
    "login.title": "Sign in", "login.token": "Access token", "login.go": "Sign in",
    "login.help": "An administrator makes one with: sohoa token create --role clerk",
    "stations.title": "Stations — live", "stations.none": "No station is running.", "stations.recent": "Just scanned",
    "station": "Station", "inbox": "Inbox", "waiting": "Waiting", "jobs": "Jobs left", "updated": "Updated",
    "alarms": "Alarms", "time": "Time", "file": "File", "case": "Case", "pages": "Pages", "state": "State",
    "detail": "Detail", "state.attached": "Attached", "state.unfiled": "Unfiled", "state.processing": "Processing",
    "state.quarantined": "Quarantined", "state.open": "Open", "state.closed": "Rendering", "state.detached": "Detached",
    "status.received": "Received", "status.processing": "Processing", "status.resolved": "Resolved",
    "status.returned": "Returned", "status.supplement": "Documents requested", "status.rejected": "Rejected",
    "status.withdrawn": "Withdrawn", "status.cancelled": "Cancelled",
    "retype.choose": "— choose a document type —", "retype.save": "Save", "retype.done": "Type changed; the PDF is being made again",
    "retype.label": "Document type of",
    "cases.title": "Cases", "cases.code": "Case code", "cases.applicant": "Applicant", "cases.search": "Search",
    "cases.none": "No cases.", "unit": "Unit", "procedure": "Procedure", "status": "Status",
    "received": "Received", "documents": "Documents", "complete": "Complete", "incomplete": "Incomplete", "notJudged": "Not judged (no procedure)",
    "completeness": "Completeness", "case.fields": "Case record", "case.documents": "Documents",
    "case.pages": "Pages", "case.events": "Audit log", "case.open": "View", "case.viewer": "PDF viewer",
    "norm.blank": "blank", "norm.omitted": "left out of the PDF", "norm.turn": "turned", "norm.deskew": "straightened",
    "norm.crop": "dark border cut", "norm.bitonal": "black and white", "norm.mixed": "black and white + colour",
    "norm.gray": "gray", "norm.colour": "colour",
    "norm.unjudged": "orientation not judged: left as scanned", "norm.tesseract": "by Tesseract",
    "case.missing": "Missing", "role": "Role", "role.input": "Input", "role.result": "Result",
    "type": "Document type", "due": "Due", "resolved": "Resolved", "applicant": "Applicant",
    "applicant_id": "ID number", "contact": "Contact", "channel": "Submitted", "channel.online": "Online",
    "channel.counter": "At the counter", "channel.post": "By post", "result.needed": "Result", "actor": "Actor", "what": "Event",
    "unfiled.title": "Unfiled scans", "unfiled.none": "Nothing waits to be filed.", "unfiled.attach": "Attach to case",
    "unfiled.done": "Attached to case", "quarantine.title": "Quarantined inputs",
    "quarantine.none": "Nothing is in quarantine.", "quarantine.reason": "Reason", "quarantine.retry": "Retry",
    "quarantine.discard": "Discard", "quarantine.why": "Why discard it (kept on the audit log)?",
    "quarantine.case": "Case code (optional)", "quarantine.retried": "Sent back through the pipeline", "quarantine.scanAgain": "Scan it again",
    "quarantine.detail": "Technical detail", "actor.token": "token",
    "quarantine.discarded": "Discarded", "report.title": "Digitization report (Decision 766)",
    "report.from": "From", "report.to": "To", "report.show": "Show", "report.digitization": "Digitization",
    "report.electronic": "Electronic results", "report.reuse": "Reuse", "report.received": "Received",
    "report.resolved": "Resolved", "report.total": "Total", "report.score": "score", "report.unknown": "not in the catalogue",
    "report.leftOut": "Withdrawn/cancelled", "report.inputs": "Inputs digitized", "report.results": "Results digitized",
    "report.behind": "Cases short of the mark, and records to review", "report.noInput": "no input",
    "report.noResult": "resolved, no result", "report.resolvedNoResult": "resolved in the period, no result file",
    "report.qUnknown": "Procedure not in the catalogue (not counted)", "report.qNoUnit": "No unit",
    "report.qNotInExport": "Scanned but not in the one-stop data (not counted)",
    "report.qLeftOut": "Withdrawn or cancelled (not counted)", "report.qNoDate": "No received date (not counted)",
    "page.enlarge": "Open the page large", "page.zoomIn": "Zoom in", "page.zoomOut": "Zoom out", "page.fit": "Fit",
    "page.close": "Close", "never": "—", "secondsAgo": "{n} s ago", "error": "Error", "forbidden": "This token may not see this page.",
  },
};

let lang = localStorage.getItem("sohoa.lang") || "vi";
let me = null;
let timer = null;

function t(key, vars) {
  let s = (TEXT[lang] && TEXT[lang][key]) || TEXT.vi[key] || key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace("{" + k + "}", v);
  return s;
}

/** A date as its reader reads it: 08/10/2026 in Vietnamese, 2026-10-08 in English. */
function day(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(s || "");
  if (!m) return s || "";
  return lang === "vi" ? `${m[3]}/${m[2]}/${m[1]}` : `${m[1]}-${m[2]}-${m[3]}`;
}

/** A recorded time, in the offset it was recorded with, said: 08/10/2026 14:30:05 (+07:00). */
function when(s) {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(.*)$/.exec(s || "");
  if (!m) return s || "";
  const off = m[3] === "Z" ? "UTC" : m[3];
  return day(m[1]) + " " + m[2] + (off ? " (" + off + ")" : "");
}

/** Builds an element; strings become text nodes (never HTML). */
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}

async function api(method, path, body) {
  const opts = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  // The session's anti-forgery value, which no other site can read: every change carries it.
  if (method !== "GET" && me && me.csrf) opts.headers["X-CSRF-Token"] = me.csrf;
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  if (r.status === 401 && path !== "/api/v1/session") {
    me = null;
    go("#/login");
    throw new Error(t("login.title"));
  }
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  // Every refusal comes in both languages; the reader's is shown.
  if (!r.ok) throw new Error((data && (lang === "vi" ? data.error_vi || data.error : data.error)) || r.status + " " + r.statusText);
  return data;
}

function toast(message, bad) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.className = bad ? "error" : "";
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 5000);
}

function badge(kind, text, testid) {
  return el("span", { class: "badge " + kind, "data-testid": testid }, text);
}

function stateBadge(state) {
  const kind = { attached: "ok", unfiled: "warn", quarantined: "bad", processing: "muted" }[state] || "muted";
  return badge(kind, t("state." + state));
}

function completeBadge(complete, judged) {
  if (judged === false) return badge("muted", t("notJudged"), "completeness");
  return badge(complete ? "ok" : "warn", complete ? t("complete") : t("incomplete"), "completeness");
}

function table(headers, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, t(h))))), el("tbody", {}, rows));
}

function go(hash) {
  if (location.hash !== hash) location.hash = hash;
  else route();
}

function show(...nodes) {
  const main = document.getElementById("main");
  main.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined));
}

function caseLink(code) {
  return el("a", { href: "#/case/" + encodeURIComponent(code) }, code);
}

/** Who did it: a token's holder is recorded as `label (token:ID)`, said in the reader's language. */
function actorName(a) {
  return String(a || "").replace(/\(token:([^)]*)\)$/, (_, id) => "(" + t("actor.token") + " " + id + ")");
}

/** A file name or path that wraps at its separators (/ - _ .), never in the middle of a word. */
function fileName(s) {
  const parts = String(s || "").split(/(?<=[\/\-_.])/);
  return parts.flatMap((p, i) => (i ? [el("wbr"), p] : [p]));
}

/** A page's thumbnail; `degrees` turns it as the PDF shows it, `out` marks a page not in the PDF. */
function thumb(sha, page, caption, note, degrees, out) {
  const src = `/api/v1/files/${sha}/pages/${page}/thumbnail.jpg`;
  const img = el("img", { src, alt: caption, loading: "lazy" });
  if (degrees) img.style.transform = `rotate(${degrees}deg)`;
  return el("div", { class: "thumb" + (out ? " out" : "") },
    el("button", { type: "button", class: "enlarge", title: t("page.enlarge"), "aria-label": t("page.enlarge") + ": " + caption,
      onclick: () => enlarge(src + "?size=large", caption) }, degrees ? el("div", { class: "frame" }, img) : img), caption,
    note ? el("div", { class: "muted" }, note) : "");
}

/** A page opened large over the view, to read it: fitted to the window, then zoomed in and out
 *  (buttons, +/− keys, a click on the page); Escape or ✕ closes it. */
function enlarge(src, caption) {
  let zoom = 1;
  const img = el("img", { src, alt: caption, "data-testid": "page-large" });
  const fit = () => {
    img.style.width = zoom === 1 ? "" : Math.round(zoom * 100) + "%";
    img.style.maxWidth = zoom === 1 ? "100%" : "none";
    img.style.maxHeight = zoom === 1 ? "calc(100vh - 7rem)" : "none";
    level.textContent = Math.round(zoom * 100) + "%";
  };
  const by = (f) => { zoom = Math.min(6, Math.max(1, zoom * f)); fit(); };
  const level = el("span", { class: "muted" });
  const box = el("dialog", { class: "enlarged", "aria-label": caption },
    el("div", { class: "inline bar" }, el("strong", {}, caption), level,
      el("button", { type: "button", class: "secondary", title: t("page.zoomOut"), onclick: () => by(1 / 1.5) }, "−"),
      el("button", { type: "button", class: "secondary", title: t("page.zoomIn"), onclick: () => by(1.5) }, "+"),
      el("button", { type: "button", class: "secondary", onclick: () => { zoom = 1; fit(); } }, t("page.fit")),
      el("button", { type: "button", class: "secondary", "data-testid": "page-close", title: t("page.close"), onclick: () => box.close() }, "✕")),
    el("div", { class: "scroll" }, img));
  img.addEventListener("click", () => { zoom = zoom === 1 ? 2 : 1; fit(); });
  box.addEventListener("keydown", (e) => {
    if (e.key === "+" || e.key === "=") by(1.5);
    if (e.key === "-") by(1 / 1.5);
  });
  box.addEventListener("close", () => box.remove());
  document.body.append(box);
  fit();
  box.showModal();
}

// What normalization did to a page, in the clerk's language.
function normNote(p) {
  const n = p.normalization || {};
  const parts = [];
  if (n.blank) parts.push(t("norm.blank") + ((p.encoding || "") === "blank-omitted" ? " · " + t("norm.omitted") : ""));
  if (n.turns) parts.push(t("norm.turn") + " " + (90 * n.turns) + "°" + (n.tesseract_confidence ? " " + t("norm.tesseract") : ""));
  if (n.orientation_not_judged) parts.push(t("norm.unjudged"));
  if (n.deskew) parts.push(t("norm.deskew") + " " + n.deskew.toFixed(2) + "°");
  if (n.crop) parts.push(t("norm.crop"));
  if (n.mode) parts.push(t("norm." + n.mode));
  return parts.join(" · ");
}

// ---- views -----------------------------------------------------------------------------------------

function viewLogin() {
  // Nobody is signed in here: no navigation, no "sign out".
  document.getElementById("top").hidden = true;
  const input = el("input", { type: "password", id: "token", autocomplete: "off", required: true });
  const err = el("p", { class: "error", id: "login-error" });
  show(el("form", {
    class: "card login",
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        me = await api("POST", "/api/v1/session", { token: input.value });
        input.value = "";
        chrome();
        go(me.may.read ? "#/" : "#/cases");
      } catch (x) {
        err.textContent = x.message;
      }
    },
  }, el("h1", {}, t("login.title")), el("label", {}, t("login.token"), input), el("p", {}, el("button", { type: "submit", id: "login" }, t("login.go"))),
  err, el("p", { class: "muted" }, t("login.help"))));
  input.focus();
}

async function viewStations() {
  const refresh = async () => {
    const d = await api("GET", "/api/v1/stations");
    const now = Date.now() / 1000;
    const stations = d.stations.length
      ? table(["station", "inbox", "waiting", "jobs", "updated", "alarms"], d.stations.map((s) => el("tr", {},
          el("td", {}, s.station), el("td", { class: "mono" }, fileName(s.inbox)), el("td", {}, s.waiting),
          el("td", {}, s.jobs ?? ""), el("td", {}, t("secondsAgo", { n: Math.max(0, Math.round(now - s.updated)) })),
          el("td", {}, s.alarms.length ? (lang === "vi" && s.alarms_vi ? s.alarms_vi : s.alarms).map((a) => el("div", { class: "error" }, a[1])) : badge("ok", "OK")))))
      : el("p", { class: "muted" }, t("stations.none"));
    const recent = table(["time", "station", "file", "case", "pages", "state", "detail"], d.recent.map((r) => el("tr", {},
      el("td", {}, when(r.captured_at)), el("td", {}, r.station), el("td", { class: "mono" }, fileName(r.source)),
      el("td", {}, r.case_code ? caseLink(r.case_code) : ""), el("td", {}, r.pages ?? ""), el("td", {}, stateBadge(r.state)),
      el("td", {}, r.reason ? el("span", { class: "error" }, lang === "vi" ? (r.reason_vi || r.reason) : r.reason) : r.documents.join(", ")))));
    show(el("h1", {}, t("stations.title")), stations, el("h2", {}, t("stations.recent")), el("div", { id: "recent" }, recent));
  };
  await refresh();
  timer = setInterval(() => refresh().catch((e) => toast(e.message, true)), 2000);
}

async function viewCases() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const code = el("input", { name: "code", id: "search-code", value: params.get("code") || "", placeholder: "H15.50.05.13-…" });
  const who = el("input", { name: "applicant", id: "search-applicant", value: params.get("applicant") || "" });
  const form = el("form", { class: "inline", onsubmit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (code.value.trim()) q.set("code", code.value.trim());
    if (who.value.trim()) q.set("applicant", who.value.trim());
    go("#/cases?" + q.toString());
  } }, el("label", {}, t("cases.code"), code), me.may.personal ? el("label", {}, t("cases.applicant"), who) : null,
  el("button", { type: "submit" }, t("cases.search")));
  const q = new URLSearchParams();
  if (params.get("code")) q.set("code", params.get("code"));
  if (params.get("applicant")) q.set("applicant", params.get("applicant"));
  const d = await api("GET", "/api/v1/cases?" + q.toString());
  const rows = d.cases.map((c) => el("tr", { "data-case": c.code }, el("td", {}, caseLink(c.code)), el("td", {}, c.unit || ""),
    el("td", {}, c.procedure_code || ""), el("td", {}, t("status." + c.status)), el("td", {}, day(c.received_date)),
    el("td", {}, c.documents), el("td", {}, completeBadge(c.complete, c.judged))));
  show(el("h1", {}, t("cases.title")), form, rows.length ? table(["cases.code", "unit", "procedure", "status", "received", "documents", "completeness"], rows)
    : el("p", { class: "muted" }, t("cases.none")));
}

/** Search by content: the pages found, each drawn as the PDF shows it with the matching words marked,
 *  and the line of text they are on. */
async function viewSearch() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const asked = params.get("q") || "";
  const box = el("input", { name: "q", id: "search-text", value: asked, size: 40 });
  const form = el("form", { class: "inline", role: "search", onsubmit: (e) => {
    e.preventDefault();
    if (box.value.trim()) go("#/search?" + new URLSearchParams({ q: box.value.trim() }).toString());
  } }, el("label", {}, t("search.q"), box), el("button", { type: "submit" }, t("search.go")));
  if (!asked.trim()) return show(el("h1", {}, t("search.title")), form);
  const d = await api("GET", "/api/v1/search?" + new URLSearchParams({ q: asked }).toString());
  const fold = (w) => w.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d").toLowerCase();
  const wanted = fold(asked).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  const hits = d.hits.map((h) => {
    // Placed through the style object, not a style attribute: the page's Content-Security-Policy
    // refuses inline styles.
    const marks = h.marks.map(([, l, top, r, b]) => {
      const m = el("span", { class: "mark", "data-testid": "mark" });
      Object.assign(m.style, { left: `${l * 100}%`, top: `${top * 100}%`, width: `${(r - l) * 100}%`, height: `${(b - top) * 100}%` });
      return m;
    });
    const line = (h.text.split("\n").find((x) => fold(x).split(/[^\p{L}\p{N}]+/u).some((w) => wanted.includes(w))) || "").slice(0, 200);
    const said = line.split(/(\s+)/).map((w) => wanted.includes(fold(w).replace(/[^\p{L}\p{N}]/gu, "")) ? el("mark", {}, w) : w);
    const caption = `${h.case_code} · ${h.document} · ${t("search.page")} ${h.page}`;
    return el("div", { class: "thumb hit", "data-testid": "hit" },
      el("a", { href: "#/case/" + encodeURIComponent(h.case_code), class: "shown" },
        el("img", { src: h.picture, alt: caption, loading: "lazy" }), ...marks),
      el("div", {}, caseLink(h.case_code), " · ", h.document, " · ", t("search.page"), " ", h.page),
      el("div", { class: "snippet" }, said),
      h.confidence !== null && h.confidence !== undefined ? el("div", { class: "muted" }, t("search.confidence", { c: Math.round(h.confidence) })) : "");
  });
  show(el("h1", {}, t("search.title")), form, el("p", { class: "muted" }, t("search.count", { n: hits.length })),
    hits.length ? el("div", { class: "grid hits" }, hits) : el("p", { class: "muted" }, t("search.none")));
}

async function viewCase(code) {
  const d = await api("GET", "/api/v1/cases/" + encodeURIComponent(code));
  const r = d.record, c = d.completeness;
  const field = (k, v) => (v ? [el("dt", {}, t(k)), el("dd", {}, v)] : []);
  const fields = el("dl", { class: "fields" }, field("cases.code", r.code), field("unit", r.unit), field("procedure", r.procedure_code),
    field("status", t("status." + r.status)), field("received", day(r.received_date)), field("due", day(r.due_date)), field("resolved", day(r.resolved_date)),
    field("channel", r.channel && t("channel." + r.channel)), field("applicant", r.applicant_name), field("applicant_id", r.applicant_id), field("contact", r.applicant_contact));
  const missing = c.required.filter((x) => x.state !== "attached").map((x) => x.doc_type);
  if (c.result_required && c.results_attached === 0) missing.push(t("result.needed"));
  const viewer = el("iframe", { class: "viewer", title: t("case.viewer"), id: "viewer" });
  const open = (doc) => (viewer.src = `/api/v1/cases/${encodeURIComponent(code)}/documents/${String(doc.ordinal).padStart(3, "0")}.pdf`);
  // A document's type is picked from the procedure's required inputs (not typed): completeness counts
  // a required input only by its type.
  const types = c.required.map((x) => x.doc_type);
  const typeCell = (doc) => {
    if (doc.state !== "attached" || !types.length) return doc.doc_type || "";
    const label = t("retype.label") + " " + doc.name;
    const pick = el("select", { name: "type", "aria-label": label, "data-testid": "retype-" + doc.ordinal },
      el("option", { value: "" }, t("retype.choose")),
      ...[...new Set(doc.doc_type && !types.includes(doc.doc_type) ? [doc.doc_type, ...types] : types)].map((x) =>
        el("option", x === doc.doc_type ? { value: x, selected: true } : { value: x }, x)));
    const role = el("select", { name: "role", "aria-label": t("role") + " " + doc.name },
      ...["input", "result"].map((r) => el("option", r === doc.role ? { value: r, selected: true } : { value: r }, t("role." + r))));
    return el("form", { class: "inline", onsubmit: async (e) => {
      e.preventDefault();
      if (!pick.value && role.value === doc.role) return;
      try {
        await api("PUT", `/api/v1/cases/${encodeURIComponent(code)}/documents/${String(doc.ordinal).padStart(3, "0")}`,
          { type: pick.value || undefined, role: role.value });
        toast(t("retype.done"));
        route();
      } catch (x) {
        toast(x.message, true);
      }
    } }, pick, role, el("button", { type: "submit", class: "secondary" }, t("retype.save")));
  };
  const docs = d.documents.map((doc) => el("tr", {}, el("td", { class: "mono" }, fileName(doc.name)), el("td", {}, t("role." + doc.role)),
    el("td", {}, typeCell(doc)), el("td", {}, doc.pages), el("td", {}, stateBadge(doc.state)),
    el("td", {}, doc.state === "attached" ? el("span", { class: "inline" },
      el("button", { type: "button", class: "secondary", onclick: () => open(doc) }, t("case.open")),
      me.may.file ? el("a", { href: `#/doc/${encodeURIComponent(code)}/${doc.ordinal}`, "data-testid": "edit-" + doc.ordinal }, t("doc.edit")) : null) : "")));
  const first = d.documents.find((x) => x.state === "attached");
  if (first) open(first);
  const pages = d.pages.map((p) => {
    const n = p.normalization || {}, flags = p.flags || [];
    const gone = flags.includes("replaced") ? "pstate.replaced" : flags.includes("removed") ? "pstate.removed" : null;
    const turned = ((n.turns || 0) + (p.clerk_turn || 0)) % 4;
    const degrees = turned * 90 + (flags.includes("as-scanned") ? 0 : (n.deskew || 0));
    return thumb(p.source_sha256, p.page_index + 1,
      (p.ordinal ? String(p.ordinal).padStart(3, "0") + " · " : "") + (p.page_no ? "tr. " + p.page_no : p.source),
      gone ? t(gone) : normNote(p), degrees, !!gone || (p.encoding || "").endsWith("-omitted"));
  });
  const events = d.events.slice(-30).reverse().map((e) => el("tr", {}, el("td", {}, when(e.at)),
    el("td", {}, actorName(e.actor)), el("td", {}, t("event." + e.kind))));
  const unreliable = (d.unreliable_text || []).map((u) => String(u.ordinal).padStart(3, "0") + " " + t("search.page") + " " + u.page_no
    + " (" + (u.confidence === null ? t("text.noWords") : Math.round(u.confidence)) + ")");
  show(el("h1", {}, code, " ", completeBadge(c.complete, c.judged)),
    missing.length ? el("p", { class: "error" }, t("case.missing") + ": " + missing.join(", ")) : null,
    unreliable.length ? el("p", { class: "warn", "data-testid": "text-unreliable" },
      t("text.unreliable", { m: d.text_confidence_min }) + ": " + unreliable.join(", ")) : null,
    el("div", { class: "split" },
      el("div", {}, el("h2", {}, t("case.fields")), fields, el("h2", {}, t("case.documents")),
        table(["file", "role", "type", "pages", "state", ""], docs)),
      el("div", {}, el("h2", {}, t("case.viewer")), viewer)),
    el("h2", {}, t("case.pages")), el("div", { class: "grid" }, pages),
    el("h2", {}, t("case.events")), table(["time", "actor", "what"], events));
  timer = setInterval(async () => {
    try {
      const again = await api("GET", "/api/v1/cases/" + encodeURIComponent(code));
      if (again.completeness.complete !== c.complete || again.documents.length !== d.documents.length) route();
    } catch (e) { /* shown on the next navigation */ }
  }, 3000);
}

/** One document as a clerk corrects it: its pages as the PDF shows them (turned and straightened),
 *  each with turn / remove / restore / earlier / later / split buttons and dragged to reorder; merge,
 *  move and the version history. Every change names the version it was made on: a change someone else
 *  made first is refused and the view reloaded. */
async function viewDoc(code, ordinal) {
  const base = `/api/v1/cases/${encodeURIComponent(code)}/documents/${String(ordinal).padStart(3, "0")}`;
  const [d, h, c] = await Promise.all([api("GET", base + "/pages"), api("GET", base + "/versions"),
    api("GET", "/api/v1/cases/" + encodeURIComponent(code))]);
  const send = async (body) => {
    try {
      await api("POST", base + "/corrections", { version: d.version, ...body });
      toast(t("doc.done"));
    } catch (x) {
      toast(x.message, true);
    }
    route();
  };
  // A new scan of a page, chosen from the computer, takes its place (the old page stays in the record).
  const rescan = (p, label) => {
    const input = el("input", { type: "file", accept: "image/*,application/pdf", class: "visually-hidden",
      "data-testid": "rescan-" + p.page, "aria-label": t("doc.rescan") + " — " + label });
    input.addEventListener("change", async () => {
      const f = input.files[0];
      if (!f) return;
      try {
        const r = await fetch(`${base}/pages/${p.page}?version=${d.version}&name=${encodeURIComponent(f.name)}`, {
          method: "PUT", credentials: "same-origin", body: f,
          headers: { "X-CSRF-Token": me.csrf, "Content-Type": f.type || "application/octet-stream", Accept: "application/json" } });
        const data = await r.json().catch(() => null);
        if (!r.ok) throw new Error((data && (lang === "vi" ? data.error_vi || data.error : data.error)) || r.statusText);
        toast(t("doc.done"));
      } catch (x) {
        toast(x.message, true);
      }
      route();
    });
    return el("label", { class: "button secondary" }, t("doc.rescan"), input);
  };
  const order = d.pages.map((p) => p.page);
  // The next page shown in the PDF before (-1) or after (1) page i: moving past a page left out would
  // change nothing the clerk can see. -1 when there is none.
  const neighbour = (i, step) => {
    for (let j = i + step; j >= 0 && j < d.pages.length; j += step) if (d.pages[j].shown) return j;
    return -1;
  };
  const moveTo = (from, to) => {
    if (to < 0 || to >= order.length || from === to) return;
    const next = order.slice();
    const [x] = next.splice(from, 1);
    next.splice(to, 0, x);
    send({ operation: "order", order: next });
  };
  const editable = !d.born_digital && d.state === "attached";
  const cards = d.pages.map((p, i) => {
    const label = t("doc.page") + " " + p.page;
    const img = el("img", { src: `/api/v1/files/${p.sha256}/pages/${p.page_index + 1}/thumbnail.jpg`, alt: label, loading: "lazy" });
    // Turned and straightened as the PDF shows the page (set through the style object: the page's
    // content policy allows no style attributes).
    img.style.transform = `rotate(${p.turns * 90 + (p.deskew || 0)}deg)`;
    const btn = (key, body, testid) => el("button", { type: "button", class: "secondary", "data-testid": testid + "-" + p.page,
      "aria-label": t(key) + " — " + label, onclick: () => send(body) }, t(key));
    const card = el("div", { class: "thumb page" + (p.shown ? "" : " out"), draggable: editable ? "true" : "false",
        "data-page": p.page, "data-testid": "page-" + p.page },
      el("div", { class: "frame" }, img),
      el("div", {}, el("strong", {}, label), " · ", t("pstate." + p.state)),
      editable ? el("div", { class: "tools" },
        p.shown ? btn("doc.turn", { operation: "turn", page: p.page, degrees: 90 }, "turn") : null,
        p.shown ? btn("doc.remove", { operation: "remove", page: p.page }, "remove") : null,
        p.state === "removed" || p.state === "blank-omitted" ? btn("doc.restore", { operation: "restore", page: p.page }, "restore") : null,
        p.shown && neighbour(i, -1) >= 0 ? el("button", { type: "button", class: "secondary", "aria-label": t("doc.earlier") + " — " + label, onclick: () => moveTo(i, neighbour(i, -1)) }, "↑ " + t("doc.earlier")) : null,
        p.shown && neighbour(i, 1) >= 0 ? el("button", { type: "button", class: "secondary", "aria-label": t("doc.later") + " — " + label, onclick: () => moveTo(i, neighbour(i, 1)) }, "↓ " + t("doc.later")) : null,
        p.shown && (p.deskew || p.cropped || p.as_scanned) ? btn(p.as_scanned ? "doc.straighten" : "doc.asScanned", { operation: "as-scanned", page: p.page, on: !p.as_scanned }, "as-scanned") : null,
        i > 0 ? btn("doc.split", { operation: "split", at: p.page }, "split") : null,
        p.shown ? rescan(p, label) : null) : null);
    card.addEventListener("dragstart", (e) => { e.dataTransfer.setData("text/plain", String(i)); card.classList.add("dragging"); });
    card.addEventListener("dragend", () => card.classList.remove("dragging"));
    card.addEventListener("dragover", (e) => e.preventDefault());
    card.addEventListener("drop", (e) => { e.preventDefault(); moveTo(Number(e.dataTransfer.getData("text/plain")), i); });
    return card;
  });
  const others = c.documents.filter((x) => x.state === "attached" && x.ordinal !== d.ordinal);
  const mergeWith = el("select", { "aria-label": t("doc.mergeWith"), "data-testid": "merge-with" },
    ...others.map((x) => el("option", { value: x.ordinal }, x.name)));
  const merge = others.length && editable ? el("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); send({ operation: "merge", other: Number(mergeWith.value) }); } },
    el("label", {}, t("doc.mergeWith"), mergeWith), el("button", { type: "submit", class: "secondary" }, t("doc.merge"))) : null;
  const to = el("input", { required: true, placeholder: "H15.50.05.13-…", "data-testid": "move-case" });
  const which = el("input", { placeholder: "2,3", "data-testid": "move-pages" });
  const role = el("select", {}, ...["input", "result"].map((r) => el("option", r === d.role ? { value: r, selected: true } : { value: r }, t("role." + r))));
  const type = el("input", { value: d.doc_type || "" });
  const move = d.state === "attached" ? el("form", { class: "inline", onsubmit: (e) => {
    e.preventDefault();
    const pages = which.value.split(",").map((x) => Number(x.trim())).filter((x) => x > 0);
    send({ operation: "move", to: to.value.trim(), pages: pages.length ? pages : undefined, role: role.value, type: type.value.trim() || undefined });
  } }, el("label", {}, t("cases.code"), to), el("label", {}, t("doc.movePages"), which), el("label", {}, t("role"), role),
    el("label", {}, t("type"), type), el("button", { type: "submit", class: "secondary" }, t("doc.move"))) : null;
  const versions = h.versions.slice().reverse().map((v) => el("tr", { "data-version": v.version }, el("td", {}, v.version),
    el("td", {}, when(v.at)), el("td", {}, actorName(v.actor)), el("td", {}, t("op." + v.operation)),
    el("td", {}, v.pdf_sha256 ? el("a", { href: `${base}/versions/${v.version}.pdf`, "data-testid": "version-" + v.version }, t("doc.download")) : "")));
  show(el("h1", {}, t("doc.title"), " ", el("span", { class: "mono" }, d.name), " ", badge("muted", t("doc.version") + " " + d.version, "doc-version")),
    el("p", {}, el("a", { href: "#/case/" + encodeURIComponent(code) }, "← " + t("doc.back"))),
    d.born_digital ? el("p", { class: "muted" }, t("doc.born")) : el("p", { class: "muted" }, t("doc.drag")),
    el("div", { class: "grid pages", id: "doc-pages" }, cards), merge, move,
    el("h2", {}, t("doc.versions")), table(["doc.versionCol", "time", "actor", "what", ""], versions));
}

async function viewUnfiled() {
  const d = await api("GET", "/api/v1/unfiled");
  const byIntake = new Map();
  for (const p of d.pages) {
    if (!byIntake.has(p.intake)) byIntake.set(p.intake, []);
    byIntake.get(p.intake).push(p);
  }
  const cards = [...byIntake.entries()].map(([intake, pages]) => {
    const code = el("input", { name: "case", required: true, placeholder: "H15.50.05.13-…", "data-testid": "attach-case" });
    const role = el("select", { name: "role" }, el("option", { value: "input" }, t("role.input")), el("option", { value: "result" }, t("role.result")));
    const type = el("input", { name: "type", "data-testid": "attach-type" });
    const form = el("form", { class: "inline", "data-intake": intake, onsubmit: async (e) => {
      e.preventDefault();
      try {
        const r = await api("POST", `/api/v1/unfiled/${intake}/file`, { case: code.value.trim(), role: role.value, type: type.value.trim() || undefined });
        toast(t("unfiled.done") + " " + r.document);
        go("#/case/" + encodeURIComponent(r.case));
      } catch (x) {
        toast(x.message, true);
      }
    } }, el("label", {}, t("cases.code"), code), el("label", {}, t("role"), role), el("label", {}, t("type"), type),
    el("button", { type: "submit" }, t("unfiled.attach")));
    return el("div", { class: "card" }, el("p", {}, el("strong", { class: "mono" }, fileName(pages[0].source)), " ",
      el("span", { class: "muted" }, pages[0].station + " · " + when(pages[0].captured_at))),
    pages[0].why ? el("p", { class: "muted", "data-testid": "unfiled-why" }, lang === "vi" ? (pages[0].why_vi || pages[0].why) : pages[0].why) : null,
    el("div", { class: "grid" }, pages.map((p) => thumb(p.sha256, p.page_index + 1, "tr. " + (p.page_index + 1)))), form);
  });
  show(el("h1", {}, t("unfiled.title")), cards.length ? cards : el("p", { class: "muted" }, t("unfiled.none")));
}

async function viewQuarantine() {
  const d = await api("GET", "/api/v1/quarantine");
  const rows = d.inputs.map((q) => {
    const code = el("input", { placeholder: t("quarantine.case"), size: 26 });
    const retry = el("button", { type: "button", class: "secondary", onclick: async () => {
      try {
        const r = await api("POST", `/api/v1/quarantine/${q.intake}/retry`, code.value.trim() ? { case: code.value.trim() } : {});
        toast(t("quarantine.retried") + ": " + q.source + " — " + (lang === "vi" ? r.said_vi : r.said));
        route();
      } catch (x) { toast(x.message, true); }
    } }, t("quarantine.retry"));
    const discard = el("button", { type: "button", class: "danger", onclick: async () => {
      const why = prompt(t("quarantine.why"));
      if (!why) return;
      try {
        await api("POST", `/api/v1/quarantine/${q.intake}/discard`, { reason: why });
        toast(t("quarantine.discarded") + ": " + q.source);
        route();
      } catch (x) { toast(x.message, true); }
    } }, t("quarantine.discard"));
    // Said in the reader's language, with the input's own detail under it; an input only a new scan
    // can fix is not offered a retry.
    const why = el("td", {}, el("div", { class: "error", "data-testid": "quarantine-why" }, lang === "vi" ? q.reason_vi : q.summary),
      el("details", { class: "muted" }, el("summary", {}, t("quarantine.detail")), q.reason));
    const actions = q.scan_again ? [el("strong", {}, t("quarantine.scanAgain")), discard] : [code, retry, discard];
    return el("tr", {}, el("td", {}, when(q.captured_at)), el("td", {}, q.station),
      el("td", { class: "mono" }, fileName(q.source)), el("td", {}, q.case_code ? caseLink(q.case_code) : ""),
      why, el("td", {}, el("div", { class: "inline" }, ...actions)));
  });
  show(el("h1", {}, t("quarantine.title")), rows.length
    ? table(["time", "station", "file", "case", "quarantine.reason", ""], rows) : el("p", { class: "muted" }, t("quarantine.none")));
}

async function viewOutbox() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const failed = params.get("state") === "failed";
  const d = await api("GET", "/api/v1/outbox" + (failed ? "?state=failed" : ""));
  const said = (m) => (m ? (lang === "vi" ? m.vi : m.en) : "");
  const c = d.counts;
  const counts = el("p", { "data-testid": "outbox-counts" }, t("outbox.counts").replace("{p}", c.pending)
    .replace("{s}", Math.round(c.oldest_pending_ms / 1000)).replace("{d}", c.delivered).replace("{r}", c.rejected));
  const tabs = el("p", { class: "inline" }, el("a", { href: "#/outbox", class: failed ? "" : "on" }, t("outbox.all")),
    el("a", { href: "#/outbox?state=failed", class: failed ? "on" : "" }, t("outbox.failed")));
  const rows = d.entries.map((e) => {
    const state = e.state === "pending" && e.error ? "retrying" : e.state;
    const why = e.state === "rejected" ? (e.remote_status > 1 ? "HTTP " + e.remote_status + ": " : "") + said(e.remote_message)
      : e.state === "pending" ? said(e.error) : (e.remote_id || said(e.remote_message));
    const retry = e.state === "rejected" && me.may.file ? el("button", { type: "button", class: "secondary", onclick: async () => {
      try {
        await api("POST", `/api/v1/outbox/${e.id}/retry`);
        toast(t("outbox.retried") + ": " + e.case_code);
        route();
      } catch (x) { toast(x.message, true); }
    } }, t("outbox.retry")) : null;
    return el("tr", {}, el("td", {}, String(e.id)), el("td", {}, when(e.at)), el("td", {}, caseLink(e.case_code)),
      el("td", { class: "mono" }, String(e.ordinal).padStart(3, "0") + " v" + e.version), el("td", {}, t("op." + e.operation)),
      el("td", { class: state === "rejected" ? "error" : "" }, t("ostate." + state)), el("td", {}, String(e.attempts)),
      el("td", { "data-testid": "outbox-why" }, why), el("td", {}, retry));
  });
  show(el("h1", {}, t("outbox.title")), counts, tabs, rows.length
    ? table(["#", "time", "case", "outbox.doc", "outbox.op", "outbox.state", "outbox.attempts", "outbox.why", ""], rows)
    : el("p", { class: "muted" }, t("outbox.none")));
}

async function viewReport() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const today = new Date().toISOString().slice(0, 10);
  const from = el("input", { type: "date", value: params.get("from") || today.slice(0, 8) + "01" });
  const to = el("input", { type: "date", value: params.get("to") || today });
  const form = el("form", { class: "inline", onsubmit: (e) => {
    e.preventDefault();
    go(`#/report?from=${from.value}&to=${to.value}`);
  } }, el("label", {}, t("report.from"), from), el("label", {}, t("report.to"), to), el("button", { type: "submit" }, t("report.show")));
  const pct = (r) => (r.rate === null ? t("never")
    : (100 * r.rate).toFixed(1) + "% (" + r.numerator + "/" + r.denominator + ") · " + t("report.score") + " " + (100 * r.score).toFixed(0) + "%");
  const frac = (r) => r.numerator + "/" + r.denominator;
  let body = null;
  if (params.get("from")) {
    const r = await api("GET", `/api/v1/report?from=${params.get("from")}&to=${params.get("to")}`);
    const row = (g, total) => el("tr", total ? { class: "total" } : {}, el("td", {}, total ? t("report.total") : g.unit),
      el("td", {}, total ? "" : (g.procedure_name || g.procedure) + (g.procedure_known ? "" : " (" + t("report.unknown") + ")")),
      el("td", {}, g.received), el("td", {}, g.resolved), el("td", {}, g.left_out),
      el("td", {}, pct(g.digitization)), el("td", {}, frac(g.inputs_digitized)), el("td", {}, frac(g.results_digitized)),
      el("td", {}, pct(g.electronic_result)), el("td", {}, pct(g.reuse)));
    // The cases behind each shortfall, and what the figures could not count.
    const lists = [];
    for (const g of r.groups) {
      for (const [k, list] of [["report.noInput", g.shortfalls.missing_inputs], ["report.noResult", g.shortfalls.missing_result],
        ["report.resolvedNoResult", g.shortfalls.resolved_without_result]]) {
        if (list.length) lists.push(el("li", {}, g.unit + " / " + (g.procedure_name || g.procedure) + " — " + t(k) + " (" + list.length + "): ",
          ...list.flatMap((code, i) => [i ? ", " : "", el("a", { href: "#/case/" + encodeURIComponent(code), class: "mono" }, code)])));
      }
    }
    const q = r.data_quality;
    for (const [k, list] of [["report.qUnknown", q.unknown_procedure], ["report.qNoUnit", q.no_unit], ["report.qNotInExport", q.not_in_export],
      ["report.qLeftOut", q.withdrawn_or_cancelled], ["report.qNoDate", q.no_received_date]]) {
      if (list.length) lists.push(el("li", {}, t(k) + " (" + list.length + "): " + list.join(", ")));
    }
    body = el("div", {}, table(["unit", "procedure", "report.received", "report.resolved", "report.leftOut", "report.digitization",
      "report.inputs", "report.results", "report.electronic", "report.reuse"],
    [...r.groups.map((g) => row(g, false)), row(r.total, true)]),
    lists.length ? el("h2", {}, t("report.behind")) : null, lists.length ? el("ul", {}, lists) : null);
  }
  show(el("h1", {}, t("report.title")), form, body);
}

// ---- frame -----------------------------------------------------------------------------------------

function chrome() {
  document.documentElement.lang = lang;
  document.title = "sohoa — " + (lang === "vi" ? "Số hóa hồ sơ" : "Case digitization");
  document.getElementById("top").hidden = !me;
  for (const n of document.querySelectorAll("[data-t]")) n.textContent = t(n.dataset.t);
  for (const n of document.querySelectorAll("[data-need]")) n.hidden = !(me && me.may[n.dataset.need]);
  document.getElementById("lang").textContent = t("lang");
  document.getElementById("who").textContent = me ? me.label || me.role + (me.unit ? " · " + me.unit : "") : "";
  const here = location.hash.split("?")[0] || "#/";
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("on", a.getAttribute("href") === here);
}

async function route() {
  clearInterval(timer);
  timer = null;
  if (!me) {
    try { me = await api("GET", "/api/v1/session"); } catch (e) { me = null; }
  }
  chrome();
  const hash = location.hash.split("?")[0] || "#/";
  if (!me) return viewLogin();
  try {
    if (hash === "#/login") return viewLogin();
    if (hash === "#/" || hash === "") return await (me.may.read ? viewStations() : viewLogin());
    if (hash === "#/cases") return await viewCases();
    if (hash === "#/search") return await viewSearch();
    if (hash.startsWith("#/case/")) return await viewCase(decodeURIComponent(hash.slice(7)));
    if (hash.startsWith("#/doc/")) {
      const [code, ordinal] = hash.slice(6).split("/");
      return await viewDoc(decodeURIComponent(code), Number(ordinal));
    }
    if (hash === "#/unfiled") return await viewUnfiled();
    if (hash === "#/quarantine") return await viewQuarantine();
    if (hash === "#/report") return await viewReport();
    if (hash === "#/outbox") return await viewOutbox();
    go("#/");
  } catch (e) {
    show(el("h1", {}, t("error")), el("p", { class: "error", id: "page-error" }, e.message));
  }
}

document.getElementById("lang").addEventListener("click", () => {
  lang = lang === "vi" ? "en" : "vi";
  localStorage.setItem("sohoa.lang", lang);
  route();
});
document.getElementById("signout").addEventListener("click", async () => {
  await api("DELETE", "/api/v1/session").catch(() => {});
  me = null;
  go("#/login");
});
window.addEventListener("hashchange", route);
route();
