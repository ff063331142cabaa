//! The smaller commands: `profile check`, `verify`, `unfiled`, and what every command does outside a
//! data folder.

mod common;

use std::fs;
use std::process::Command;

use common::*;

#[test]
fn shipped_profiles_are_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let o = sohoa(tmp.path(), &["profile", "check", "pipelines/counter.toml", "pipelines/archive.toml"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("pipelines/archive.toml: ok"));
}

#[test]
fn profile_check_prints_every_error_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("bad.toml");
    fs::write(
        &p,
        "name = \"bad\"\n[station]\nid = \"q\"\nutc_offset = \"7\"\n[output]\nmin_dpi = \"high\"\n[routing]\nfilename_pattern = \"no-group\"\n",
    )
    .unwrap();
    let o = sohoa(tmp.path(), &["profile", "check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    let shown = p.display().to_string();
    for (line, needle) in [(4, "utc_offset"), (6, "min_dpi"), (8, "filename_pattern")] {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("{shown}:{line}:")) && l.contains(needle)),
            "line {line}:\n{out}"
        );
    }
}

#[test]
fn verify_reports_changed_missing_and_unexpected_files() {
    let tmp = tempfile::tempdir().unwrap();
    let src = case_folder(
        tmp.path(),
        &[("a4_300.jpg", "a4_300.jpg"), ("bitonal.png", "bitonal.png"), ("cmyk.jpg", "cmyk.jpg")],
    );
    let data = tmp.path().join("data");
    assert!(sohoa(&data, &["ingest", src.to_str().unwrap()]).status.success());
    let ok = sohoa(&data, &["verify"]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("verified 6 files"), "{}", text(&ok));

    let sha = |name: &str| sha256_file(&tmp.path().join("g").join(name));
    // Flip one byte, delete one, add a stray.
    let mut bytes = common::s3::stored_blob(&data, &sha("a4_300.jpg")).unwrap();
    bytes[1000] ^= 0x01;
    common::s3::tamper_blob(&data, &sha("a4_300.jpg"), &bytes);
    common::s3::delete_blob(&data, &sha("bitonal.png"));
    let stray = "0".repeat(64);
    common::s3::tamper_blob(&data, &stray, b"stray");

    let bad = sohoa(&data, &["verify"]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    let out = String::from_utf8_lossy(&bad.stdout);
    assert!(out.contains(&format!("CHANGED     {}", sha256_file(&tmp.path().join("g/a4_300.jpg")))), "{out}");
    assert!(out.contains(&format!("MISSING     {}", sha256_file(&tmp.path().join("g/bitonal.png")))), "{out}");
    assert!(out.contains(&format!("UNEXPECTED  {stray}")), "{out}");
    // In a folder store the PDF of the JPEG refers to the stored original's bytes (it is not a second
    // copy), so damage to the original shows in both: four problems, each named. A bucket holds every
    // PDF as a plain object: three.
    let (problems, changed) = if common::s3::on_s3(&data) { (3, 1) } else { (4, 2) };
    assert!(out.contains(&format!("{problems} problem(s)")), "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("CHANGED")).count(), changed, "{out}");
    // The run itself is on the audit log, and the log cannot be rewritten.
    assert!(count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'fixity'") >= 2);
    for sql in ["DELETE FROM events", "UPDATE events SET actor = 'someone else'"] {
        let e = execute(&data, sql).expect_err("the audit log refuses it");
        assert!(e.contains("append-only"), "{e}");
    }
}

#[test]
fn help_teaches_the_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let o = sohoa(tmp.path(), &["--help"]);
    let out = String::from_utf8_lossy(&o.stdout);
    for word in ["ingest", "case", "verify", "profile", "Quick start"] {
        assert!(out.contains(word), "{out}");
    }
}

#[test]
fn an_exported_case_is_a_package_that_verifies_against_its_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let src = case_folder(
        tmp.path(),
        &[("a4_300.jpg", "a4_300.jpg"), ("bitonal.png", "bitonal.png"), ("multi.tif", "multi.tif")],
    );
    let manifest = r#"{"files": {"a4_300.jpg": {"document_type": "Đơn đề nghị"}}}"#;
    fs::write(src.join(CODE).join("manifest.json"), manifest).unwrap();
    let data = tmp.path().join("data");
    assert!(sohoa(&data, &["ingest", src.to_str().unwrap()]).status.success());
    for args in [
        &["unit", "set", "H15.50.05.13", "--name", "UBND xã Tân Phú"][..],
        &["procedure", "set", "1.001193", "--name", "Đăng ký khai sinh"],
        &[
            "case",
            "set",
            CODE,
            "--procedure",
            "1.001193",
            "--received",
            "08/10/2026",
            "--status",
            "resolved",
            "--resolved",
            "2026-10-20",
            "--due",
            "2026-10-22",
            "--channel",
            "Trực tuyến",
        ],
    ] {
        let o = sohoa(&data, args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
    }
    let out = tmp.path().join("out");
    let o = sohoa(
        &data,
        &["export", CODE, "--out", out.to_str().unwrap(), "--maintenance", "10 năm", "--rights", "Hạn chế"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let pkg = out.join(CODE);
    for f in [format!("{CODE}.001.pdf"), format!("{CODE}.003.pdf"), "originals/multi.tif".into(), "metadata.xml".into()]
    {
        assert!(pkg.join(&f).is_file(), "{f} missing");
    }
    // The manifest lists every file with its hash, checked independently here.
    let manifest = fs::read_to_string(pkg.join("manifest-sha256.txt")).unwrap();
    assert_eq!(manifest.lines().count(), 3 + 3 + 2);
    for line in manifest.lines() {
        let (sha, path) = line.split_once("  ").unwrap();
        assert_eq!(sha256_file(&pkg.join(path)), sha, "{path}");
    }
    let meta: serde_json::Value = serde_json::from_slice(&fs::read(pkg.join("metadata.json")).unwrap()).unwrap();
    assert_eq!(meta["FileCode"], CODE);
    assert_eq!(meta["DocTotal"], 3);
    assert_eq!(meta["PageTotal"], 5);
    assert_eq!(meta["Documents"][0]["TypeName"], "Đơn đề nghị");
    assert!(fs::read_to_string(pkg.join("metadata.xml")).unwrap().contains("<TypeName>Đơn đề nghị</TypeName>"));
    // The dossier fields of Nghị định 30 and the case's one-stop data.
    for (k, v) in [
        ("Maintenance", "10 năm"),
        ("Rights", "Hạn chế"),
        ("Creator", "UBND xã Tân Phú"),
        ("StartDate", "2026-10-08"),
        ("EndDate", "2026-10-20"),
        ("Procedure", "1.001193"),
        ("ProcedureName", "Đăng ký khai sinh"),
        ("Unit", "H15.50.05.13"),
        ("Status", "resolved"),
        ("DueDate", "2026-10-22"),
        ("Channel", "online"),
    ] {
        assert_eq!(meta[k], v, "{k}: {meta}");
        assert!(fs::read_to_string(pkg.join("metadata.xml")).unwrap().contains(&format!("<{k}>{v}</{k}>")), "{k}");
    }
    assert_eq!(meta["Title"], format!("Hồ sơ {CODE}: Đăng ký khai sinh"));
    let ok = sohoa(&data, &["verify", "--package", pkg.to_str().unwrap()]);
    assert!(ok.status.success() && text(&ok).contains("held against the records"), "{}", text(&ok));
    assert!(count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'export'") == 1);
    assert_eq!(count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'fixity'"), 1);
    // A PDF changed together with its manifest line passes the manifest, never the records.
    let forged = tmp.path().join("forged").join(CODE);
    fs::create_dir_all(forged.join("originals")).unwrap();
    for line in manifest.lines() {
        let path = line.split_once("  ").unwrap().1;
        fs::copy(pkg.join(path), forged.join(path)).unwrap();
    }
    let pdf = forged.join(format!("{CODE}.001.pdf"));
    let mut b = fs::read(&pdf).unwrap();
    b[300] ^= 1;
    fs::write(&pdf, &b).unwrap();
    let new_sha = sha256_file(&pdf);
    let forged_manifest: String = manifest
        .lines()
        .map(|l| if l.ends_with(".001.pdf") { format!("{new_sha}  {CODE}.001.pdf\n") } else { format!("{l}\n") })
        .collect();
    fs::write(forged.join("manifest-sha256.txt"), forged_manifest).unwrap();
    let alone = command(&tmp.path().join("no-data-here"))
        .env_remove("SOHOA_DATABASE")
        .args(["verify", "--package", forged.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(alone.status.success(), "without the records the manifest is all there is: {}", text(&alone));
    let caught = sohoa(&data, &["verify", "--package", forged.to_str().unwrap()]);
    assert_eq!(caught.status.code(), Some(1), "{}", text(&caught));
    assert!(
        text(&caught).contains(&format!("NOT AS RECORDED  {CODE}.001.pdf (package {new_sha}")),
        "{}",
        text(&caught)
    );
    assert_eq!(count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'fixity'"), 2);
    assert!(text(&alone).contains("checked against manifest-sha256.txt only"), "{}", text(&alone));
    // A document taken out with its manifest line, and metadata edited with its line, show too.
    fs::write(&pdf, fs::read(pkg.join(format!("{CODE}.001.pdf"))).unwrap()).unwrap();
    fs::remove_file(forged.join(format!("{CODE}.003.pdf"))).unwrap();
    let mut meta: serde_json::Value = serde_json::from_slice(&fs::read(forged.join("metadata.json")).unwrap()).unwrap();
    meta["Maintenance"] = "5 năm".into();
    fs::write(forged.join("metadata.json"), serde_json::to_vec_pretty(&meta).unwrap()).unwrap();
    let meta_sha = sha256_file(&forged.join("metadata.json"));
    let edited: String = manifest
        .lines()
        .filter(|l| !l.ends_with(".003.pdf"))
        .map(|l| if l.ends_with("metadata.json") { format!("{meta_sha}  metadata.json\n") } else { format!("{l}\n") })
        .collect();
    fs::write(forged.join("manifest-sha256.txt"), edited).unwrap();
    let caught = sohoa(&data, &["verify", "--package", forged.to_str().unwrap()]);
    assert_eq!(caught.status.code(), Some(1), "{}", text(&caught));
    let said = text(&caught);
    assert!(said.contains(&format!("NOT IN PACKAGE  {CODE}.003.pdf")), "{said}");
    assert!(said.contains("NOT AS RECORDED  metadata.json"), "{said}");
    assert!(!said.contains(".001.pdf"), "the document put back is as recorded: {said}");
    // The folder export was asked to write into is named for what it is.
    let o = sohoa(&data, &["verify", "--package", tmp.path().join("forged").to_str().unwrap()]);
    assert!(!o.status.success() && text(&o).contains("the package is perhaps"), "{}", text(&o));
    // Tamper with the package: one byte, one file gone, one stray.
    let pdf = pkg.join(format!("{CODE}.002.pdf"));
    let mut b = fs::read(&pdf).unwrap();
    b[200] ^= 1;
    fs::write(&pdf, b).unwrap();
    fs::remove_file(pkg.join("originals/multi.tif")).unwrap();
    fs::write(pkg.join("stray.txt"), b"x").unwrap();
    let bad = sohoa(&data, &["verify", "--package", pkg.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(1));
    let out = String::from_utf8_lossy(&bad.stdout);
    assert!(out.contains("CHANGED") && out.contains("MISSING") && out.contains("UNEXPECTED  stray.txt"), "{out}");
    // Exporting again into the same place is refused, nothing overwritten.
    let again = sohoa(&data, &["export", CODE, "--out", tmp.path().join("out").to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn commands_run_outside_a_data_folder_say_where_they_looked() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("sohoa-data");
    for args in [
        &["report", "--from", "2026-10-01", "--to", "2026-10-31"][..],
        &["case", "list"],
        &["verify"],
        &["status"],
        &["quarantine", "list"],
    ] {
        // The embedded database: no server named.
        let o = Command::new(env!("CARGO_BIN_EXE_sohoa"))
            .arg("--data")
            .arg(&data)
            .args(args)
            .env("SOHOA_LANG", "en")
            .env_remove("SOHOA_DATABASE")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("there are no records here") && err.contains("sohoa.db"), "{args:?}: {err}");
        assert!(!data.exists(), "{args:?} created an empty data folder");
    }
}

#[test]
fn unfiled_scans_are_listed_and_filed_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = tmp.path().join("inbox");
    fs::create_dir_all(&inbox).unwrap();
    // A scan at the top of the inbox, in a folder whose name is no case code: unfiled.
    let page = image::GrayImage::from_fn(600, 800, |x, y| {
        image::Luma([if (x / 40 + y / 40).is_multiple_of(7) { 0 } else { 255 }])
    });
    page.save(inbox.join("scan 0001.png")).unwrap();
    // One whose manifest says its type but names no case.
    fs::create_dir_all(inbox.join("mf")).unwrap();
    let form = image::GrayImage::from_fn(600, 800, |x, y| {
        image::Luma([if (x / 20 + y / 70).is_multiple_of(4) { 0 } else { 255 }])
    });
    form.save(inbox.join("mf").join("to khai.png")).unwrap();
    fs::write(inbox.join("mf").join("manifest.json"), r#"{"document_type": "Tờ khai", "role": "input"}"#).unwrap();
    // And one in a folder whose name is almost a case code.
    fs::create_dir_all(inbox.join("h15.50.05.13-261201-0007")).unwrap();
    let other = image::GrayImage::from_fn(600, 800, |x, y| {
        image::Luma([if (x / 30 + y / 60).is_multiple_of(5) { 0 } else { 255 }])
    });
    other.save(inbox.join("h15.50.05.13-261201-0007").join("p1.png")).unwrap();
    let data = tmp.path().join("data");
    let o = sohoa(&data, &["ingest", inbox.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));

    let o = sohoa(&data, &["unfiled", "list", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let pages: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(pages.as_array().unwrap().len(), 3, "{pages}");
    // Each says why no case was found.
    let loose = pages.as_array().unwrap().iter().find(|p| p["source"] == "scan 0001.png").unwrap();
    assert!(loose["why"].as_str().unwrap().contains("top of the inbox"), "{loose}");
    let almost = pages.as_array().unwrap().iter().find(|p| p["source"].as_str().unwrap().starts_with("h15")).unwrap();
    let why = almost["why"].as_str().unwrap();
    assert!(why.contains("lower-case letters") && why.contains("H15.50.05.13-261201-0007"), "{why}");
    let id = loose["intake"].as_str().unwrap().to_string();
    let o = sohoa(&data, &["unfiled", "list"]);
    assert!(text(&o).contains(&id) && text(&o).contains("3 unfiled scan(s)"), "{}", text(&o));
    assert!(text(&o).contains("why: no manifest; the folder name is not a case code"), "{}", text(&o));
    // The clerk reads it in Vietnamese (the default), naming the code and what is off.
    let o = command(&data).env("SOHOA_LANG", "vi").args(["unfiled", "list"]).output().unwrap();
    assert!(text(&o).contains("3 bản quét chưa phân loại"), "{}", text(&o));
    assert!(
        text(&o).contains(
            "lý do: Không có manifest; tên thư mục không phải mã hồ sơ: «h15.50.05.13-261201-0007» có chữ thường"
        ),
        "{}",
        text(&o)
    );
    assert!(almost["why_vi"].as_str().unwrap().contains("chữ in hoa (H15.50.05.13-261201-0007)"), "{almost}");
    // A code that is not one is said so, not looked for in vain.
    let o = sohoa(&data, &["case", "show", "h15.50.05.13-261341-0975"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("lower-case") && text(&o).contains("261341 is not a date"), "{}", text(&o));

    let code = "H15.50.05.13-261008-0975";
    let o = sohoa(&data, &["unfiled", "file", &id, "--case", "h15.50.05.13-261008-0975"]);
    assert_eq!(o.status.code(), Some(2), "a code that is not one is refused: {}", text(&o));
    let o = sohoa(&data, &["unfiled", "file", &id, "--case", code, "--type", "Đơn đề nghị"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(&format!("{code}.001.pdf")), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("no one-stop export names case {code} yet; it was created now")),
        "{}",
        text(&o)
    );
    let o = sohoa(&data, &["case", "show", code, "--json"]);
    let case: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let doc = &case["documents"][0];
    assert_eq!((doc["state"].as_str(), doc["doc_type"].as_str()), (Some("attached"), Some("Đơn đề nghị")), "{case}");
    // A case that names no procedure cannot be called complete: what it needs is not known.
    assert_eq!(
        (case["completeness"]["judged"].as_bool(), case["completeness"]["complete"].as_bool()),
        (Some(false), Some(false))
    );
    let o = sohoa(&data, &["case", "show", code]);
    assert!(text(&o).contains("NOT JUDGED"), "{}", text(&o));
    let o = sohoa(&data, &["unfiled", "list", "--json"]);
    let left: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(left.as_array().unwrap().len(), 2, "only the other scans are left: {left}");
    // Filed with no --type, the scan's own manifest gives its type.
    let typed = left.as_array().unwrap().iter().find(|p| p["source"] == "mf/to khai.png").unwrap();
    let o = sohoa(&data, &["unfiled", "file", typed["intake"].as_str().unwrap(), "--case", code]);
    assert!(o.status.success(), "{}", text(&o));
    let o = sohoa(&data, &["case", "show", code, "--json"]);
    let case: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(case["documents"][1]["doc_type"], "Tờ khai", "{case}");
    let o = sohoa(&data, &["unfiled", "file", &id, "--case", code]);
    assert_eq!(o.status.code(), Some(2), "nothing left to file: {}", text(&o));
    assert!(text(&o).contains("no unfiled page"), "{}", text(&o));

    // The filing is on the audit log under the login name, never a placeholder, even where the
    // environment names no user (a service, a container).
    let o = command(&data)
        .args(["case", "set", code, "--status", "processing"])
        .env_remove("USER")
        .env_remove("LOGNAME")
        .env_remove("SOHOA_ACTOR")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let me = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap().trim().to_string();
    let actors: Vec<(String,)> = query(&data, "SELECT actor FROM events WHERE kind = 'edit' ORDER BY id");
    assert_eq!(actors.last().map(|a| a.0.as_str()), Some(me.as_str()), "{actors:?}");
}

#[test]
fn a_clerk_sets_document_types_and_the_case_becomes_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let code = "H15.50.05.13-261008-0975";
    let folder = tmp.path().join("inbox").join(code);
    fs::create_dir_all(&folder).unwrap();
    for (i, name) in ["1 to khai.png", "2 giay chung sinh.png", "3 ket qua.png"].iter().enumerate() {
        let page = image::GrayImage::from_fn(500, 700, |x, y| {
            image::Luma([if (x / 30 + y / 50 + i as u32).is_multiple_of(5) { 0 } else { 255 }])
        });
        page.save(folder.join(name)).unwrap();
    }
    let data = tmp.path().join("data");
    let catalogue = repo().join("fixtures/procedures.toml");
    assert!(sohoa(&data, &["procedure", "import", catalogue.to_str().unwrap()]).status.success());
    // Birth registration: requires "Tờ khai" and "Giấy chứng sinh", issues a result.
    assert!(sohoa(&data, &["case", "set", code, "--procedure", "1.001193"]).status.success());
    let o = sohoa(&data, &["ingest", tmp.path().join("inbox").to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let show = || -> serde_json::Value {
        let o = sohoa(&data, &["case", "show", code, "--json"]);
        serde_json::from_slice(&o.stdout).unwrap()
    };
    assert_eq!(show()["completeness"]["complete"], false);

    // Types as a clerk types them: case and spacing do not matter, tone marks do.
    let o = sohoa(&data, &["case", "retype", code, "1", "--type", "tờ  KHAI"]);
    assert!(o.status.success(), "{}", text(&o));
    // Stored in the catalogue's spelling, as the PDF names it.
    assert_eq!(show()["documents"][0]["doc_type"], "Tờ khai");
    let o = sohoa(&data, &["case", "retype", code, "2", "--type", "Giay chung sinh"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("is not a type the case's procedure requires"), "{}", text(&o));
    let o = sohoa(&data, &["case", "retype", code, "2", "--type", "Giấy chứng sinh"]);
    assert!(o.status.success(), "{}", text(&o));
    let c = show();
    assert_eq!(c["completeness"]["complete"], false, "the result is still missing: {c}");
    let o = sohoa(&data, &["case", "retype", code, "3", "--role", "result", "--type", "Giấy khai sinh"]);
    assert!(o.status.success(), "{}", text(&o));
    let c = show();
    assert_eq!(c["completeness"]["complete"], true, "{c}");
    let o = sohoa(&data, &["case", "retype", code, "3", "--role", "result"]);
    assert!(text(&o).contains("nothing changed"), "{}", text(&o));
    let o = sohoa(&data, &["case", "retype", code, "9", "--type", "Tờ khai"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = sohoa(&data, &["case", "retype", "H15.50.05.13-261008-0999", "1", "--type", "Tờ khai"]);
    assert!(text(&o).contains("there is no case"), "{}", text(&o));

    // The PDF was made again and names what the clerk chose; every change is on the audit log.
    let pdf = data.join("cases").join(code).join(format!("{code}.003.pdf"));
    let info = pdfinfo(&pdf);
    assert!(info.contains("Giấy khai sinh"), "{info}");
    assert_eq!(count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'retype'"), 4);
    assert!(sohoa(&data, &["verify"]).status.success());
}
