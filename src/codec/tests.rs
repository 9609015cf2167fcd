use super::*;
use crate::domain::PixelFormat;

const ALL: Accepts = Accepts {
    rle: true,
    deflate: true,
    delta: true,
    bundle: false,
};

/// Each coding alone.
const ONE_EACH: [Accepts; 2] = [
    Accepts {
        rle: true,
        deflate: false,
        delta: false,
        bundle: false,
    },
    Accepts {
        rle: false,
        deflate: true,
        delta: false,
        bundle: false,
    },
];

fn header(format: PixelFormat, w: u16, h: u16, seq: u32) -> frame::Header {
    frame::Header {
        format,
        brightness: 200,
        width: w,
        height: h,
        flags: 0,
        seq,
        valid_until: 1_767_225_600,
    }
}

/// A mono "text" frame: a few glyph-like blocks on a dark field.
fn mono_text(w: u16, h: u16, shift: usize) -> Vec<u8> {
    let row = usize::from(w).div_ceil(8);
    let mut d = vec![0u8; row * usize::from(h)];
    for y in 4..12.min(usize::from(h)) {
        for x in (shift % 3..row).step_by(3) {
            d[y * row + x] = 0b0111_0110 ^ (y as u8);
        }
    }
    d
}

fn decode(bytes: &[u8], base: Option<(u32, &[u8])>) -> Result<Vec<u8>, CodecError> {
    let p = parse(bytes)?;
    let f = p.header.frame;
    let mut scratch = vec![0u8; raw_data_len(f.format, f.width, f.height).unwrap()];
    Decoder::default().decode(&p, base, &mut scratch)?;
    Ok(scratch)
}

#[test]
fn each_encoding_round_trips_and_keeps_the_raw_crc() {
    let h = header(PixelFormat::Mono1, 128, 32, 7);
    let data = mono_text(128, 32, 0);
    for accepts in ONE_EACH {
        let z = encode_best(&h, &data, accepts, &[]).expect("smaller than raw");
        let p = parse(&z).unwrap();
        assert_eq!(p.header.frame, h);
        assert_eq!(
            p.header.crc,
            frame::crc32(&data),
            "the CRC of the raw pixels"
        );
        assert_eq!(p.header.encoding & ENC_DELTA, 0);
        assert_eq!(decode(&z, None).unwrap(), data, "{accepts:?}");
    }
}

#[test]
fn a_delta_is_chosen_when_smaller_and_needs_its_base() {
    let h = header(PixelFormat::Rgb565, 64, 32, 9);
    let old: Vec<u8> = (0..64 * 32 * 2).map(|i| (i * 31 % 251) as u8).collect();
    let mut new = old.clone();
    new[100..140].fill(0xff);
    let other = vec![0u8; old.len()];
    let z = encode_best(&h, &new, ALL, &[(7, &other[..]), (8, &old[..])]).unwrap();
    let p = parse(&z).unwrap();
    assert_ne!(
        p.header.encoding & ENC_DELTA,
        0,
        "a small change goes as a delta"
    );
    assert_eq!(p.header.base_seq, 8);
    assert!(z.len() < HEADER_LEN + 100, "{} bytes", z.len());
    assert_eq!(decode(&z, Some((8, &old[..]))).unwrap(), new);
    assert_eq!(
        decode(&z, Some((7, &old[..]))),
        Err(CodecError::NoBase { base: 8 })
    );
    assert_eq!(decode(&z, None), Err(CodecError::NoBase { base: 8 }));
    // A rotation: a frame the controller holds already costs runs of zeros.
    let again = encode_best(&h, &new, ALL, &[(8, &old[..]), (5, &new[..])]).unwrap();
    let p = parse(&again).unwrap();
    assert_eq!(
        (p.header.encoding & ENC_DELTA, p.header.base_seq),
        (ENC_DELTA, 5)
    );
    assert!(again.len() < HEADER_LEN + 40, "{} bytes", again.len());
    // Without delta in the controller's list, a full coding.
    let no_delta = Accepts {
        delta: false,
        ..ALL
    };
    let full = encode_best(&h, &new, no_delta, &[(8, &old[..])]);
    if let Some(full) = full {
        assert_eq!(parse(&full).unwrap().header.encoding & ENC_DELTA, 0);
    }
}

#[test]
fn nothing_is_sent_compressed_that_is_not_smaller() {
    let h = header(PixelFormat::Rgb888, 16, 16, 1);
    let mut x: u32 = 12345;
    let noise: Vec<u8> = (0..16 * 16 * 3)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    assert_eq!(encode_best(&h, &noise, ALL, &[]), None);
    assert_eq!(encode_best(&h, &noise[1..], ALL, &[]), None, "wrong size");
    let png = header(PixelFormat::Png, 16, 16, 1);
    assert_eq!(
        encode_best(&png, &[0; 100], ALL, &[]),
        None,
        "PNG is coded already"
    );
    assert_eq!(encode_best(&h, &[0; 768], Accepts::default(), &[]), None);
}

/// The worked example in docs/protocol.md ("Compressed frames").
#[test]
fn protocol_doc_example_is_real() {
    let h = header(PixelFormat::Mono1, 16, 4, 42);
    let data = [0xff, 0xff, 0x80, 0x01, 0x80, 0x01, 0xff, 0xff];
    let coded = rle::encode(&data);
    let hd = Header {
        frame: h,
        crc: frame::crc32(&data),
        encoding: ENC_RLE,
        base_seq: 0,
    };
    let mut bytes = encode_header(&hd, coded.len()).to_vec();
    bytes.extend_from_slice(&coded);
    let dump = frame::hex_dump(&bytes);
    let doc = include_str!("../../docs/protocol.md");
    assert!(doc.contains(&dump), "docs/protocol.md should show:\n{dump}");
    assert_eq!(decode(&bytes, None).unwrap(), data);
    assert_eq!(
        encode_best(&h, &data, ALL, &[]),
        None,
        "BTF1 is smaller here"
    );
}

#[test]
fn the_header_is_byte_exact() {
    let h = header(PixelFormat::Mono1, 16, 4, 42);
    let data = [0xff, 0xff, 0x80, 0x01, 0x80, 0x01, 0xff, 0xff];
    let hd = Header {
        frame: h,
        crc: frame::crc32(&data),
        encoding: ENC_RLE | ENC_DELTA,
        base_seq: 41,
    };
    let b = encode_header(&hd, 5);
    assert_eq!(&b[0..4], b"BTZ1");
    assert_eq!(&b[4..32], &frame::encode_header(&h, 5, hd.crc)[4..32]);
    assert_eq!(b[32], 0x81);
    assert_eq!(&b[33..36], &[0, 0, 0]);
    assert_eq!(&b[36..40], &41u32.to_le_bytes());
}

#[test]
fn damaged_frames_are_refused_and_the_glass_is_untouched() {
    let h = header(PixelFormat::Mono1, 128, 32, 3);
    let data = mono_text(128, 32, 1);
    for accepts in ONE_EACH {
        let good = encode_best(&h, &data, accepts, &[]).unwrap();
        for n in 0..good.len() {
            assert!(decode(&good[..n], None).is_err(), "prefix {n}");
        }
        // The last byte may hold deflate's padding bits: not checked.
        for i in HEADER_LEN..good.len() - 1 {
            let mut bad = good.clone();
            bad[i] ^= 0x20;
            assert!(decode(&bad, None).is_err(), "byte {i} flipped, {accepts:?}");
        }
        let mut bad = good.clone();
        bad[32] = 3;
        assert_eq!(decode(&bad, None), Err(CodecError::Encoding(3)));
        let mut bad = good.clone();
        bad[34] = 1;
        assert!(matches!(decode(&bad, None), Err(CodecError::Layout(_))));
    }
    // A delta that fails its CRC leaves the glass as it was.
    let old = mono_text(128, 32, 0);
    let z = encode_best(&h, &data, ALL, &[(2, &old[..])]).unwrap();
    let mut bad = z.clone();
    bad[28] ^= 1;
    let p = parse(&bad).unwrap();
    let glass = old.clone();
    let mut scratch = vec![0u8; old.len()];
    assert!(Decoder::default()
        .decode(&p, Some((2, &glass[..])), &mut scratch)
        .is_err());
    assert_eq!(glass, old);
}

/// The decoder's memory is fixed: its own state, of a size known at
/// compile time, and the two buffers the caller gives it. A stream that
/// would decode to more than the frame (a deflate bomb, a run-length
/// overrun) is refused at the buffer's end; a buffer of the wrong size is
/// refused before any work. And its code holds nothing that allocates.
#[test]
fn the_decoder_is_bounded_and_never_allocates() {
    assert!(
        std::mem::size_of::<Decoder>() <= 12 * 1024,
        "the inflate state is {} bytes",
        std::mem::size_of::<Decoder>()
    );
    let h = header(PixelFormat::Mono1, 128, 32, 1);
    let bomb = miniz_oxide::deflate::compress_to_vec(&vec![0u8; 10 << 20], 9);
    let crc = frame::crc32(&[0u8; 512]);
    let hd = Header {
        frame: h,
        crc,
        encoding: ENC_DEFLATE,
        base_seq: 0,
    };
    let mut z = encode_header(&hd, bomb.len()).to_vec();
    z.extend_from_slice(&bomb);
    let p = parse(&z).unwrap();
    let mut scratch = [0u8; 512];
    let mut dec = Decoder::default();
    assert_eq!(dec.decode(&p, None, &mut scratch), Err(CodecError::Data));
    let mut wrong = [0u8; 511];
    assert_eq!(
        dec.decode(&p, None, &mut wrong),
        Err(CodecError::Buffer {
            need: 512,
            have: 511
        })
    );
    let mut rle_bomb = encode_header(
        &Header {
            encoding: ENC_RLE,
            ..hd
        },
        2 * 1000,
    )
    .to_vec();
    for _ in 0..1000 {
        rle_bomb.extend_from_slice(&[255, 0]);
    }
    let p = parse(&rle_bomb).unwrap();
    assert_eq!(dec.decode(&p, None, &mut scratch), Err(CodecError::Data));
    // The same decoder goes on decoding good frames.
    let good = encode_best(&h, &[0u8; 512], ALL, &[]).unwrap();
    dec.decode(&parse(&good).unwrap(), None, &mut scratch)
        .unwrap();

    // Nothing in the decoding path can allocate.
    let src = include_str!("mod.rs");
    let decoder = &src[src.find("pub struct Decoder").unwrap()..src.find("#[cfg(test)]").unwrap()];
    let rle_src = include_str!("rle.rs");
    let rle_decoder = &rle_src
        [rle_src.find("pub fn decode_into").unwrap()..rle_src.find("#[cfg(test)]").unwrap()];
    for code in [decoder, rle_decoder] {
        for word in [
            "Vec",
            "Box",
            "vec!",
            "String",
            "format!",
            "to_vec",
            "collect",
            "push",
            "with_capacity",
            "clone()",
        ] {
            assert!(!code.contains(word), "the decoder mentions {word}");
        }
    }
}
