//! The extractor's tests: the real fixtures, hand-built documents and hostile input.

use std::rc::Rc;

use super::*;
use crate::filters::{
    ascii85_decode, ascii_hex_decode, inflate, lzw_decode, run_length_decode, unpredict, Decoded,
};
use crate::font::{glyph_to_unicode, CMap};
use crate::lexer::find;
use crate::object::{Dict, Fail, Obj, Parser};

/// A PDF whose object i+1 has body `objects[i]`, with a correct cross-reference table and
/// `/Root 1 0 R`.
fn build(objects: &[Vec<u8>], trailer_extra: &str) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n", i + 1).bytes());
        out.extend(body);
        out.extend(b"\nendobj\n");
    }
    let start = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).bytes());
    for offset in offsets {
        out.extend(format!("{offset:010} 00000 n \n").bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R {trailer_extra}>>\nstartxref\n{start}\n%%EOF\n",
            objects.len() + 1
        )
        .bytes(),
    );
    out
}

fn stream(data: &[u8], extra: &str) -> Vec<u8> {
    let mut out = format!("<< /Length {} {extra}>>\nstream\n", data.len()).into_bytes();
    out.extend(data);
    out.extend(b"\nendstream");
    out
}

const HELVETICA: &str = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";

/// Catalog 1, Pages 2, one Page 3 with content 4 and font /F1 5, then `extra` objects from 6.
fn one_page(content: &[u8], font: &str, extra: Vec<Vec<u8>>) -> Vec<u8> {
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >> \
          /Contents 4 0 R >>"
            .to_vec(),
        stream(content, ""),
        font.as_bytes().to_vec(),
    ];
    objects.extend(extra);
    build(&objects, "")
}

fn text_of(pdf: &[u8]) -> Extraction {
    extract_text(pdf, &Limits::default()).unwrap()
}

fn page_text(content: &str) -> String {
    text_of(&one_page(content.as_bytes(), HELVETICA, vec![])).text
}

fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

fn fixture_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pdf")
}

// --- the real fixtures -------------------------------------------------------------------

#[test]
fn three_page_fixture_gives_latin_and_cyrillic_text_in_page_order() {
    let e = text_of(include_bytes!(
        "../../../tests/fixtures/pdf/multipage-latin-cyrillic.pdf"
    ));
    assert_eq!(e.pages, 3);
    assert_eq!(e.warning, None);
    let pages: Vec<&str> = e.text.split(PAGE_BREAK).collect();
    assert_eq!(pages.len(), 3, "{:?}", e.text);
    assert_eq!(pages[0], "Page one: Hello, world.\nПривет, мир");
    assert!(pages[1].starts_with("Page two: The quick brown fox jumps over the lazy dog.\n"));
    assert!(pages[1].contains("Съешь же ещё этих мягких французских булок"));
    assert_eq!(pages[2], "Page three: Goodbye.\nДо свидания, Ёжик");
}

#[test]
fn compressed_fixture_with_object_and_xref_streams_is_read() {
    let pdf = include_bytes!("../../../tests/fixtures/pdf/compressed.pdf");
    assert!(find(pdf, b"/ObjStm", 0).is_some() && find(pdf, b"/XRef", 0).is_some());
    let e = text_of(pdf);
    assert_eq!(e.pages, 2);
    assert_eq!(e.warning, None);
    assert_eq!(
        e.text,
        "Compressed page one.\nSecond line, same page.\n\u{c}\nCompressed page two."
    );
}

#[test]
fn scanned_fixture_has_one_page_and_no_text() {
    let e = text_of(include_bytes!("../../../tests/fixtures/pdf/scanned.pdf"));
    assert_eq!(
        (e.text.as_str(), e.pages, e.warning),
        ("", 1, Some(Warning::NoText))
    );
}

#[test]
fn encrypted_fixture_gives_no_text_and_the_encrypted_warning() {
    let e = text_of(include_bytes!("../../../tests/fixtures/pdf/encrypted.pdf"));
    assert_eq!((e.text.as_str(), e.warning), ("", Some(Warning::Encrypted)));
    assert_eq!(e.pages, 2);
}

#[test]
fn every_malformed_file_returns_within_the_limits() {
    let dir = fixture_dir().join("malformed");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    assert!(entries.len() >= 30, "the corpus has {} files", entries.len());
    let tight = Limits {
        max_objects: 1000,
        max_stream_bytes: 1 << 20,
        max_output_chars: 100,
        max_depth: 16,
        max_operations: 10_000,
    };
    for path in entries {
        let bytes = std::fs::read(&path).unwrap();
        for limits in [Limits::default(), tight.clone()] {
            let started = std::time::Instant::now();
            let result = extract_with_stats(&bytes, &limits);
            let elapsed = started.elapsed();
            let name = path.display();
            assert!(elapsed.as_secs() < 20, "{name} took {elapsed:?}");
            let Ok((e, stats)) = result else { continue };
            assert!(e.text.chars().count() <= limits.max_output_chars, "{name}");
            assert!(e.pages <= limits.max_objects, "{name}");
            assert!(stats.largest_stream <= limits.max_stream_bytes, "{name}");
            assert!(
                stats.decoded_bytes <= limits.max_stream_bytes * WORK_FACTOR,
                "{name}"
            );
        }
    }
}

#[test]
fn flate_bombs_stop_at_the_stream_limit_and_report_truncation() {
    let dir = fixture_dir().join("malformed");
    for name in [
        "zip-bomb.pdf",
        "zip-bomb-double.pdf",
        "zip-bomb-shared.pdf",
        "zip-bomb-every-page.pdf",
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let limits = Limits {
            max_stream_bytes: 4 << 20,
            ..Limits::default()
        };
        let (e, stats) = extract_with_stats(&bytes, &limits).unwrap();
        assert_eq!(e.warning, Some(Warning::Truncated), "{name}");
        assert_eq!(stats.largest_stream, 4 << 20, "{name}");
        assert!(
            stats.decoded_bytes <= 4 * (4 << 20),
            "{name}: {}",
            stats.decoded_bytes
        );
        if name.contains("shared") || name.contains("every-page") {
            // One bomb drawn on every page is decoded once, not once a page.
            assert!(
                stats.decoded_bytes <= 2 * (4 << 20),
                "{name}: {}",
                stats.decoded_bytes
            );
        }
    }
}

// --- the header --------------------------------------------------------------------------

#[test]
fn bytes_without_a_pdf_header_are_not_a_pdf() {
    assert_eq!(extract_text(b"", &Limits::default()), Err(NotPdf));
    assert_eq!(extract_text(b"GIF89a", &Limits::default()), Err(NotPdf));
    let late = [vec![b' '; 1024], b"%PDF-1.4".to_vec()].concat();
    assert_eq!(extract_text(&late, &Limits::default()), Err(NotPdf));
}

#[test]
fn junk_before_the_header_is_tolerated() {
    let pdf = [
        b"junk from a mail gateway\n".to_vec(),
        one_page(b"BT /F1 12 Tf (Hi) Tj ET", HELVETICA, vec![]),
    ]
    .concat();
    assert_eq!(text_of(&pdf).text, "Hi");
}

#[test]
fn a_header_alone_is_a_damaged_pdf_with_no_pages() {
    let e = text_of(b"%PDF-1.4");
    assert_eq!(e.pages, 0);
    assert!(matches!(e.warning, Some(Warning::Damaged(_))));
}

// --- text operators ----------------------------------------------------------------------

#[test]
fn tj_shows_a_string() {
    assert_eq!(
        page_text("BT /F1 12 Tf 72 720 Td (Hello, world) Tj ET"),
        "Hello, world"
    );
}

#[test]
fn literal_string_escapes_are_decoded() {
    assert_eq!(
        page_text(r"BT /F1 12 Tf (a\(b\)c \101\102 d\\e) Tj ET"),
        r"a(b)c AB d\e"
    );
}

#[test]
fn tj_arrays_turn_large_negative_kerning_into_a_space_and_ignore_small_kerning() {
    assert_eq!(
        page_text("BT /F1 12 Tf [(Hel) -20 (lo) -300 (world) 15 (!)] TJ ET"),
        "Hello world!"
    );
}

#[test]
fn moving_down_a_line_starts_a_new_line() {
    let text = page_text("BT /F1 12 Tf 14 TL 72 720 Td (one) Tj 0 -14 Td (two) Tj T* (three) Tj ET");
    assert_eq!(text, "one\ntwo\nthree");
}

#[test]
fn quote_operators_move_to_the_next_line_before_showing() {
    let text = page_text("BT /F1 12 Tf 72 720 Td 14 TL (one) Tj (two) ' 1 0 (three) \" ET");
    assert_eq!(text, "one\ntwo\nthree");
}

#[test]
fn td_with_leading_and_tm_positions_are_followed() {
    let text = page_text("BT /F1 10 Tf 0 -12 TD (a) Tj T* (b) Tj 1 0 0 1 300 500 Tm (c) Tj ET");
    assert_eq!(text, "a\nb\nc");
}

#[test]
fn words_placed_apart_on_one_line_get_a_space_and_adjacent_runs_do_not() {
    // Helvetica "Hello" at 10 pt is 22.78 pt wide.
    let text = page_text("BT /F1 10 Tf 72 700 Td (Hello) Tj 22.78 0 Td (World) Tj 40 0 Td (Next) Tj ET");
    assert_eq!(text, "HelloWorld Next");
}

#[test]
fn a_scaled_ctm_is_taken_into_account_for_line_breaks() {
    let text = page_text(
        "q 1 0 0 1 72 700 cm BT /F1 9 Tf (first) Tj ET Q \
         q 1 0 0 1 72 688 cm BT /F1 9 Tf (second) Tj ET Q",
    );
    assert_eq!(text, "first\nsecond");
}

#[test]
fn inline_images_are_skipped() {
    let content =
        b"BT /F1 12 Tf (before) Tj ET BI /W 2 /H 2 /BPC 8 /CS /G ID \x01(x) Tj\xff EI BT (after) Tj ET";
    assert_eq!(
        text_of(&one_page(content, HELVETICA, vec![])).text,
        "before after"
    );
}

#[test]
fn text_in_form_xobjects_is_extracted_and_a_form_drawing_itself_stops() {
    let form = stream(
        b"BT /F1 12 Tf (in the form) Tj ET /X1 Do",
        "/Type /XObject /Subtype /Form /Matrix [1 0 0 1 0 -20] ",
    );
    let pdf = one_page(b"BT /F1 12 Tf (page) Tj ET /X1 Do", HELVETICA, vec![form]);
    let e = text_of(&pdf);
    assert_eq!(e.text, "page\nin the form");
    assert!(matches!(e.warning, Some(Warning::Damaged(_))));
}

// --- page tree ---------------------------------------------------------------------------

#[test]
fn pages_follow_the_page_tree_not_the_file_and_inherit_resources() {
    let content = |s: &str| stream(format!("BT /F1 12 Tf ({s}) Tj ET").as_bytes(), "");
    let objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [6 0 R 3 0 R] /Count 3 /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>".to_vec(),
        content("third"),
        HELVETICA.as_bytes().to_vec(),
        b"<< /Type /Pages /Parent 2 0 R /Kids [8 0 R 7 0 R] /Count 2 >>".to_vec(),
        b"<< /Type /Page /Parent 6 0 R /Contents [9 0 R 10 0 R] >>".to_vec(),
        b"<< /Type /Page /Parent 6 0 R /Contents 11 0 R >>".to_vec(),
        stream(b"BT /F1 12 Tf (sec", ""),
        stream(b"ond) Tj ET", ""),
        content("first"),
    ];
    let e = text_of(&build(&objects, ""));
    assert_eq!(e.pages, 3);
    assert_eq!(e.text, "first\n\u{c}\nsecond\n\u{c}\nthird");
}

#[test]
fn an_empty_page_keeps_its_place_between_page_breaks() {
    let objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R >>".to_vec(),
        stream(b"BT /F1 12 Tf (second) Tj ET", ""),
        HELVETICA.as_bytes().to_vec(),
        b"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>".to_vec(),
    ];
    assert_eq!(text_of(&build(&objects, "")).text, "\n\u{c}\nsecond");
}

#[test]
fn a_cyclic_page_tree_ends_and_is_reported_damaged() {
    let objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>".to_vec(),
        stream(b"BT /F1 12 Tf (once) Tj ET", ""),
        HELVETICA.as_bytes().to_vec(),
    ];
    let e = text_of(&build(&objects, ""));
    assert_eq!((e.text.as_str(), e.pages), ("once", 1));
    assert!(matches!(e.warning, Some(Warning::Damaged(_))));
}

// --- cross-reference ---------------------------------------------------------------------

#[test]
fn a_broken_xref_table_is_rebuilt_by_scanning_for_objects() {
    let mut pdf = one_page(b"BT /F1 12 Tf (found anyway) Tj ET", HELVETICA, vec![]);
    let at = find(&pdf, b"xref\n", 0).unwrap();
    pdf.truncate(at);
    pdf.extend(b"xref\ngarbage\nstartxref\n12345678\n%%EOF");
    let e = text_of(&pdf);
    assert_eq!(e.text, "found anyway");
    assert!(matches!(e.warning, Some(Warning::Damaged(_))));
}

#[test]
fn wrong_xref_offsets_are_corrected_from_the_scan() {
    let pdf = one_page(b"BT /F1 12 Tf (shifted) Tj ET", HELVETICA, vec![]);
    // Every object moves 3 bytes on; the table still has the old offsets.
    let pdf = [b"%PDF-1.7\n   ".to_vec(), pdf[9..].to_vec()].concat();
    assert_eq!(text_of(&pdf).text, "shifted");
}

#[test]
fn a_wrong_stream_length_is_corrected_from_endstream() {
    let objects = one_page(b"BT /F1 12 Tf (length) Tj ET", HELVETICA, vec![]);
    let pdf = String::from_utf8_lossy(&objects)
        .replace("/Length 27", "/Length 5")
        .into_bytes();
    assert_eq!(text_of(&pdf).text, "length");
}

#[test]
fn xref_streams_with_png_predictors_and_object_streams_are_read() {
    // Objects 2–5 in object stream 6; 1 and 4 (the content stream) directly in the file.
    let content = stream(b"BT /F1 12 Tf (from an object stream) Tj ET", "");
    let inner = [
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        HELVETICA,
    ];
    let mut header = String::new();
    let mut body = String::new();
    for (num, obj) in [2, 3, 5].iter().zip(inner) {
        header.push_str(&format!("{num} {} ", body.len()));
        body.push_str(obj);
        body.push(' ');
    }
    let objstm_data = deflate(format!("{header}{body}").as_bytes());
    let mut pdf = b"%PDF-1.5\n".to_vec();
    let mut offsets = [0usize; 8];
    offsets[1] = pdf.len();
    pdf.extend(b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
    offsets[4] = pdf.len();
    pdf.extend(b"4 0 obj\n");
    pdf.extend(&content);
    pdf.extend(b"\nendobj\n");
    offsets[6] = pdf.len();
    pdf.extend(b"6 0 obj\n");
    pdf.extend(stream(
        &objstm_data,
        &format!("/Type /ObjStm /N 3 /First {} /Filter /FlateDecode ", header.len()),
    ));
    pdf.extend(b"\nendobj\n");
    offsets[7] = pdf.len();
    // Rows of (type, offset or stream number (2 bytes), index), PNG "Up" predicted.
    let rows: Vec<[u8; 4]> = vec![
        [0, 0, 0, 0],
        [1, (offsets[1] >> 8) as u8, offsets[1] as u8, 0],
        [2, 0, 6, 0],
        [2, 0, 6, 1],
        [1, (offsets[4] >> 8) as u8, offsets[4] as u8, 0],
        [2, 0, 6, 2],
        [1, (offsets[6] >> 8) as u8, offsets[6] as u8, 0],
        [1, (offsets[7] >> 8) as u8, offsets[7] as u8, 0],
    ];
    let mut predicted = Vec::new();
    let mut prev = [0u8; 4];
    for row in &rows {
        predicted.push(2);
        predicted.extend(row.iter().zip(prev).map(|(b, p)| b.wrapping_sub(p)));
        prev = *row;
    }
    let xref = deflate(&predicted);
    pdf.extend(b"7 0 obj\n");
    pdf.extend(stream(
        &xref,
        "/Type /XRef /Size 8 /W [1 2 1] /Root 1 0 R /Filter /FlateDecode \
         /DecodeParms << /Predictor 12 /Columns 4 >> ",
    ));
    pdf.extend(format!("\nendobj\nstartxref\n{}\n%%EOF\n", offsets[7]).bytes());
    let e = text_of(&pdf);
    assert_eq!(
        (e.text.as_str(), e.pages, e.warning),
        ("from an object stream", 1, None)
    );
}

#[test]
fn an_encrypt_entry_in_the_trailer_gives_the_encrypted_warning() {
    let objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R >>".to_vec(),
        b"<< /Filter /Standard /V 2 /R 3 >>".to_vec(),
    ];
    let e = text_of(&build(&objects, "/Encrypt 4 0 R "));
    assert_eq!(
        (e.text.as_str(), e.pages, e.warning),
        ("", 1, Some(Warning::Encrypted))
    );
}

// --- fonts -------------------------------------------------------------------------------

fn type0(to_unicode: u32) -> String {
    format!(
        "<< /Type /Font /Subtype /Type0 /BaseFont /ABC+DejaVu /Encoding /Identity-H \
         /DescendantFonts [<< /Type /Font /Subtype /CIDFontType2 /DW 600 >>] \
         /ToUnicode {to_unicode} 0 R >>"
    )
}

const CMAP_HEAD: &str = "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
    1 begincodespacerange <0000> <FFFF> endcodespacerange\n";

#[test]
fn tounicode_bfchar_and_bfrange_turn_two_byte_codes_into_cyrillic() {
    let cmap = format!(
        "{CMAP_HEAD}2 beginbfchar <0003> <0020> <0010> <002C> endbfchar\n\
         1 beginbfrange <0020> <003F> <0410> endbfrange\nendcmap end end"
    );
    // П р и в е т = 041F 0440 0438 0432 0435 0442 → codes 0x2F, 0x40.. are not in the range,
    // so use upper case: ПРИВЕТ = 041F 0420 0418 0412 0415 0422.
    let content = "BT /F1 12 Tf <002F00300028002200250032001000030020> Tj ET";
    let pdf = one_page(content.as_bytes(), &type0(6), vec![stream(cmap.as_bytes(), "")]);
    assert_eq!(text_of(&pdf).text, "ПРИВЕТ, А");
}

#[test]
fn tounicode_bfrange_arrays_and_surrogate_pairs_are_decoded_and_private_use_dropped() {
    let cmap = format!(
        "{CMAP_HEAD}1 beginbfrange <0001> <0003> [<0416> <D83DDE00> <00660069>] endbfrange\n\
         2 beginbfchar <0004> <D835DC00> <0005> <F0B7> endbfchar\nendcmap"
    );
    // 0005 maps to a private-use bullet, which is dropped.
    let content = "BT /F1 12 Tf <00010002000300050004> Tj ET";
    let pdf = one_page(content.as_bytes(), &type0(6), vec![stream(cmap.as_bytes(), "")]);
    assert_eq!(text_of(&pdf).text, "Ж😀fi𝐀");
}

#[test]
fn codespace_ranges_split_mixed_one_and_two_byte_codes() {
    let cmap = "2 begincodespacerange <00> <7F> <8000> <FFFF> endcodespacerange\n\
                2 beginbfchar <41> <0041> <8141> <042F> endbfchar\n\
                1 beginbfrange <42> <43> <0062> endbfrange";
    let font =
        "<< /Type /Font /Subtype /Type0 /Encoding /Custom /DescendantFonts [<< >>] /ToUnicode 6 0 R >>";
    let pdf = one_page(
        b"BT /F1 12 Tf <41814142438141> Tj ET",
        font,
        vec![stream(cmap.as_bytes(), "")],
    );
    assert_eq!(text_of(&pdf).text, "AЯbcЯ");
}

#[test]
fn identity_h_without_tounicode_is_skipped_and_reported_as_no_text() {
    let font = "<< /Type /Font /Subtype /Type0 /Encoding /Identity-H /DescendantFonts [<< /DW 1000 >>] >>";
    let e = text_of(&one_page(b"BT /F1 12 Tf <00410042> Tj ET", font, vec![]));
    assert_eq!((e.text.as_str(), e.warning), ("", Some(Warning::NoText)));
}

#[test]
fn ucs2_cmaps_read_codes_as_unicode() {
    let font = "<< /Type /Font /Subtype /Type0 /Encoding /UniGB-UCS2-H /DescendantFonts [<< >>] >>";
    assert_eq!(
        text_of(&one_page(b"BT /F1 12 Tf <4E2D6587> Tj ET", font, vec![])).text,
        "中文"
    );
}

#[test]
fn win_ansi_encoding_maps_the_high_bytes() {
    let font = "<< /Type /Font /Subtype /TrueType /BaseFont /Arial /Encoding /WinAnsiEncoding >>";
    let pdf = one_page(b"BT /F1 12 Tf (\x93caf\xe9\x94 \x80 \x96) Tj ET", font, vec![]);
    assert_eq!(text_of(&pdf).text, "\u{201c}café\u{201d} € –");
}

#[test]
fn standard_and_mac_roman_encodings_differ_from_ascii_where_they_should() {
    let standard = "<< /Type /Font /Subtype /Type1 /BaseFont /Foo /Encoding /StandardEncoding >>";
    assert_eq!(
        text_of(&one_page(b"BT /F1 12 Tf (it's \xae) Tj ET", standard, vec![])).text,
        "it\u{2019}s ﬁ"
    );
    let mac = "<< /Type /Font /Subtype /Type1 /BaseFont /Foo /Encoding /MacRomanEncoding >>";
    assert_eq!(
        text_of(&one_page(b"BT /F1 12 Tf (\x8e\x9a) Tj ET", mac, vec![])).text,
        "éö"
    );
}

#[test]
fn differences_glyph_names_map_to_unicode() {
    let font = "<< /Type /Font /Subtype /Type1 /BaseFont /Foo \
                /Encoding << /BaseEncoding /WinAnsiEncoding /Differences \
                [1 /afii10017 /afii10071 /uni0416 /u1F600 /eacute /f_f_i /a.sc /g123 /.notdef] >> >>";
    let pdf = one_page(
        b"BT /F1 12 Tf (\x01\x02\x03\x04\x05\x06\x07\x08\x09ok) Tj ET",
        font,
        vec![],
    );
    assert_eq!(text_of(&pdf).text, "АёЖ😀éffiaok");
}

#[test]
fn an_embedded_type1_font_program_supplies_its_own_encoding() {
    let program =
        b"%!PS-AdobeFont-1.0: CMMI10\n/Encoding 256 array\n0 1 255 {1 index exch /.notdef put} for\n\
                    dup 58 /period put\ndup 66 /afii10017 put\nreadonly def\ncurrentfile eexec \x8f\x01";
    let font = "<< /Type /Font /Subtype /Type1 /BaseFont /CMMI10 /FontDescriptor 6 0 R >>";
    let extra = vec![
        b"<< /Type /FontDescriptor /FontFile 7 0 R >>".to_vec(),
        stream(program, ""),
    ];
    assert_eq!(
        text_of(&one_page(b"BT /F1 12 Tf (:B) Tj ET", font, extra)).text,
        ".А"
    );
}

#[test]
fn glyph_names_cover_the_russian_alphabet() {
    let upper: String = (10017..=10049)
        .filter_map(|n| glyph_to_unicode(format!("afii{n}").as_bytes()))
        .collect();
    let lower: String = (10065..=10097)
        .filter_map(|n| glyph_to_unicode(format!("afii{n}").as_bytes()))
        .collect();
    assert_eq!(upper, "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ");
    assert_eq!(lower, "абвгдеёжзийклмнопрстуфхцчшщъыьэюя");
}

// --- filters -----------------------------------------------------------------------------

fn decoded(d: Decoded) -> Vec<u8> {
    match d {
        Decoded::Ok(v) => v,
        Decoded::Capped(_) => panic!("capped"),
        Decoded::Corrupt(_) => panic!("corrupt"),
    }
}

#[test]
fn flate_content_streams_are_decoded() {
    let data = deflate(b"BT /F1 12 Tf (deflated) Tj ET");
    let mut objects = one_page(b"", HELVETICA, vec![]);
    let content = stream(&data, "/Filter /FlateDecode ");
    let at = find(&objects, b"<< /Length 0 >>\nstream\n\nendstream", 0).unwrap();
    objects.splice(at..at + 32, content);
    // The offsets after object 4 moved: the reader corrects them from the scan.
    assert_eq!(text_of(&objects).text, "deflated");
}

#[test]
fn inflate_stops_at_the_cap_and_accepts_raw_deflate() {
    let bomb = deflate(&vec![0u8; 10 << 20]);
    match inflate(&bomb, 1 << 20) {
        Decoded::Capped(out) => assert_eq!(out.len(), 1 << 20),
        _ => panic!("not capped"),
    }
    let raw = miniz_oxide::deflate::compress_to_vec(b"raw deflate", 6);
    assert_eq!(decoded(inflate(&raw, 1000)), b"raw deflate");
    assert!(matches!(
        inflate(b"not deflate at all", 1000),
        Decoded::Corrupt(_)
    ));
}

#[test]
fn ascii_hex_ascii85_run_length_and_lzw_decode() {
    assert_eq!(decoded(ascii_hex_decode(b"48 65 6c6C 6>", 100)), b"Hell`");
    assert_eq!(
        decoded(ascii85_decode(b"<~87cURD]i,\"Ebo80~>", 100)),
        b"Hello World!"
    );
    assert_eq!(decoded(ascii85_decode(b"z!!~>", 100)), b"\0\0\0\0\0");
    assert_eq!(
        decoded(run_length_decode(&[2, b'a', b'b', b'c', 254, b'x', 128, 9], 100)),
        b"abcxxx"
    );
    // The example from the PDF spec (7.4.4.2): 45 45 45 45 45 65 45 45 45 66.
    let lzw = [0x80, 0x0B, 0x60, 0x50, 0x22, 0x0C, 0x0C, 0x85, 0x01];
    assert_eq!(
        decoded(lzw_decode(&lzw, 100, true)),
        [45, 45, 45, 45, 45, 65, 45, 45, 45, 66]
    );
}

#[test]
fn png_and_tiff_predictors_are_undone() {
    let params = Dict::new(vec![(Rc::from(&b"Columns"[..]), Obj::Int(3))]);
    // Sub, Up, Average, Paeth rows.
    let data = vec![1, 1, 1, 1, 2, 1, 1, 1, 3, 0, 0, 0, 4, 1, 0, 0];
    assert_eq!(
        unpredict(data, 12, &params),
        vec![1, 2, 3, 2, 3, 4, 1, 2, 3, 2, 2, 3]
    );
    assert_eq!(
        unpredict(vec![1, 1, 1, 5, 0, 0], 2, &params),
        vec![1, 2, 3, 5, 5, 5]
    );
}

// --- limits ------------------------------------------------------------------------------

#[test]
fn output_stops_at_max_output_chars_and_says_truncated() {
    let pdf = one_page(b"BT /F1 12 Tf (0123456789) Tj ET", HELVETICA, vec![]);
    let e = extract_text(
        &pdf,
        &Limits {
            max_output_chars: 4,
            ..Limits::default()
        },
    )
    .unwrap();
    assert_eq!((e.text.as_str(), e.warning), ("0123", Some(Warning::Truncated)));
}

#[test]
fn operators_stop_at_max_operations_and_say_truncated() {
    let pdf = one_page(b"BT /F1 12 Tf (a) Tj (b) Tj (c) Tj ET", HELVETICA, vec![]);
    let e = extract_text(
        &pdf,
        &Limits {
            max_operations: 4,
            ..Limits::default()
        },
    )
    .unwrap();
    assert_eq!((e.text.as_str(), e.warning), ("ab", Some(Warning::Truncated)));
}

#[test]
fn deep_nesting_stops_at_max_depth_without_recursing_further() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let content = format!("BT /F1 12 Tf {deep} TJ (after) Tj ET");
    assert_eq!(page_text(&content), "after");
    let mut parser = Parser::new(deep.as_bytes(), 0, usize::MAX, 64);
    assert_eq!(parser.object(0).unwrap_err(), Fail::Limit);
}

#[test]
fn objects_stop_at_max_objects() {
    let pdf = one_page(b"BT /F1 12 Tf (x) Tj ET", HELVETICA, vec![]);
    let e = extract_text(
        &pdf,
        &Limits {
            max_objects: 2,
            ..Limits::default()
        },
    )
    .unwrap();
    assert_eq!(e.warning, Some(Warning::Truncated));
}

#[test]
fn a_cmap_range_over_all_codes_is_not_expanded() {
    let cmap = "1 begincodespacerange <00000000> <FFFFFFFF> endcodespacerange\n\
                1 beginbfrange <00000000> <FFFFFFFF> <0041> endbfrange";
    let mut budget = 100;
    let cmap = CMap::parse(cmap.as_bytes(), &mut budget);
    assert_eq!(cmap.ranges.len(), 1);
    assert_eq!(cmap.lookup(1).as_deref(), Some("B"));
    assert_eq!(cmap.lookup(0xFFFF_FFFF), None);
}

#[test]
fn every_warning_describes_itself_in_a_sentence() {
    for w in [
        Warning::Encrypted,
        Warning::NoText,
        Warning::Truncated,
        Warning::Damaged("a reason".into()),
    ] {
        let s = w.describe();
        assert!(s.starts_with("This PDF") && s.ends_with('.'), "{s}");
    }
    assert!(Warning::Damaged("a reason".into())
        .describe()
        .contains("a reason"));
}
