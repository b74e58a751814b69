//! A reader for the zip archives `torch.save` writes (torch ≥ 1.6): entries *stored*
//! uncompressed, found through the central directory (zip64 included), checked by CRC-32.
//! Compressed entries are reported, not inflated — torch never writes them.

use crate::error::{Error, Result};

const EOCD: u32 = 0x0605_4b50;
const EOCD64: u32 = 0x0606_4b50;
const EOCD64_LOCATOR: u32 = 0x0706_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const LOCAL: u32 = 0x0403_4b50;

/// One member of the archive, as the central directory describes it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path inside the archive.
    pub name: String,
    method: u16,
    crc: u32,
    compressed: u64,
    size: u64,
    local_offset: u64,
}

/// A zip archive held in memory.
#[derive(Debug)]
pub struct ZipArchive<'a> {
    what: String,
    bytes: &'a [u8],
    entries: Vec<Entry>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Whether `bytes` begin like a zip archive.
pub fn is_zip(bytes: &[u8]) -> bool {
    u32_at(bytes, 0) == Some(LOCAL)
}

impl<'a> ZipArchive<'a> {
    /// Index the archive; `what` names it in errors.
    pub fn open(what: &str, bytes: &'a [u8]) -> Result<Self> {
        let bad = |m: &str| Error::Weights(format!("{what}: not a readable zip archive ({m})"));
        let eocd = find_eocd(bytes).ok_or_else(|| bad("no end-of-central-directory record; truncated?"))?;
        let (mut count, mut cd_offset) =
            (u16_at(bytes, eocd + 10).unwrap_or(0) as u64, u32_at(bytes, eocd + 16).unwrap_or(0) as u64);
        if count == 0xffff || cd_offset == 0xffff_ffff {
            let z = zip64_eocd(bytes, eocd).ok_or_else(|| bad("zip64 end record missing"))?;
            count = u64_at(bytes, z + 32).ok_or_else(|| bad("zip64 end record truncated"))?;
            cd_offset = u64_at(bytes, z + 48).ok_or_else(|| bad("zip64 end record truncated"))?;
        }
        let mut entries = Vec::new();
        let mut at = usize::try_from(cd_offset).map_err(|_| bad("central directory offset"))?;
        for i in 0..count {
            let (entry, next) =
                central_entry(bytes, at).ok_or_else(|| bad(&format!("central directory entry {i} at byte {at}")))?;
            entries.push(entry);
            at = next;
        }
        Ok(Self { what: what.to_string(), bytes, entries })
    }

    /// The entries, in central-directory order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The bytes of the entry named `name` (must be stored, CRC-checked).
    pub fn read(&self, name: &str) -> Result<&'a [u8]> {
        let e = self.entries.iter().find(|e| e.name == name).ok_or_else(|| {
            Error::Weights(format!("{}: the archive has no entry '{name}'", self.what))
        })?;
        if e.method != 0 {
            return Err(Error::Weights(format!(
                "{}: entry '{name}' is compressed (method {}); only stored entries (what torch.save \
                 writes) are supported",
                self.what, e.method
            )));
        }
        let bad = || Error::Weights(format!("{}: entry '{name}' is truncated or its header is corrupt", self.what));
        let lo = usize::try_from(e.local_offset).map_err(|_| bad())?;
        if u32_at(self.bytes, lo) != Some(LOCAL) {
            return Err(bad());
        }
        let name_len = u16_at(self.bytes, lo + 26).ok_or_else(bad)? as usize;
        let extra_len = u16_at(self.bytes, lo + 28).ok_or_else(bad)? as usize;
        let start = lo + 30 + name_len + extra_len;
        let end = start.checked_add(usize::try_from(e.compressed).map_err(|_| bad())?).ok_or_else(bad)?;
        let data = self.bytes.get(start..end).ok_or_else(bad)?;
        if e.compressed != e.size {
            return Err(bad());
        }
        let got = crc32(data);
        if got != e.crc {
            return Err(Error::Weights(format!(
                "{}: entry '{name}' fails its CRC-32 check (0x{got:08x}, expected 0x{:08x}): corrupt file",
                self.what, e.crc
            )));
        }
        Ok(data)
    }
}

fn find_eocd(b: &[u8]) -> Option<usize> {
    let lowest = b.len().saturating_sub(22 + 0xffff);
    (lowest..=b.len().checked_sub(22)?).rev().find(|&i| u32_at(b, i) == Some(EOCD))
}

fn zip64_eocd(b: &[u8], eocd: usize) -> Option<usize> {
    let loc = eocd.checked_sub(20)?;
    if u32_at(b, loc)? != EOCD64_LOCATOR {
        return None;
    }
    let z = usize::try_from(u64_at(b, loc + 8)?).ok()?;
    (u32_at(b, z)? == EOCD64).then_some(z)
}

/// Parse the central-directory header at `at`; returns it and the offset of the next one.
fn central_entry(b: &[u8], at: usize) -> Option<(Entry, usize)> {
    if u32_at(b, at)? != CENTRAL {
        return None;
    }
    let name_len = u16_at(b, at + 28)? as usize;
    let extra_len = u16_at(b, at + 30)? as usize;
    let comment_len = u16_at(b, at + 32)? as usize;
    let name = String::from_utf8_lossy(b.get(at + 46..at + 46 + name_len)?).into_owned();
    let mut e = Entry {
        name,
        method: u16_at(b, at + 10)?,
        crc: u32_at(b, at + 16)?,
        compressed: u32_at(b, at + 20)? as u64,
        size: u32_at(b, at + 24)? as u64,
        local_offset: u32_at(b, at + 42)? as u64,
    };
    let extra = b.get(at + 46 + name_len..at + 46 + name_len + extra_len)?;
    apply_zip64_extra(&mut e, extra);
    Some((e, at + 46 + name_len + extra_len + comment_len))
}

/// The zip64 extra field (id 1) holds, in this order, whichever of size, compressed size and
/// local offset are 0xffffffff in the fixed header.
fn apply_zip64_extra(e: &mut Entry, mut extra: &[u8]) {
    while extra.len() >= 4 {
        let id = u16_at(extra, 0).unwrap_or(0);
        let len = (u16_at(extra, 2).unwrap_or(0) as usize).min(extra.len() - 4);
        if id == 1 {
            let mut vals = extra[4..4 + len].chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap()));
            for field in [&mut e.size, &mut e.compressed, &mut e.local_offset] {
                if *field == 0xffff_ffff {
                    if let Some(v) = vals.next() {
                        *field = v;
                    }
                }
            }
        }
        extra = &extra[4 + len..];
    }
}

/// CRC-32 (IEEE 802.3, reflected, as zip uses).
pub fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, t) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
        }
        *t = c;
    }
    !data.iter().fold(!0u32, |c, &b| table[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8))
}

/// Build a zip archive of stored entries (tests; also how a torch-style checkpoint is made by
/// hand). Each entry's data is aligned to 64 bytes with an extra field, as torch does.
#[cfg(test)]
pub(crate) fn write_stored(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = out.len() as u32;
        let pad = (64 - (out.len() + 30 + name.len() + 4) % 64) % 64;
        let mut extra = vec![0xfe, 0xca];
        extra.extend((pad as u16).to_le_bytes());
        extra.extend(vec![b'Z'; pad]);
        let fixed = |sig: u32| {
            let mut h = sig.to_le_bytes().to_vec();
            if sig == CENTRAL {
                h.extend([20, 0]);
            }
            h.extend([20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            h.extend(crc32(data).to_le_bytes());
            h.extend((data.len() as u32).to_le_bytes());
            h.extend((data.len() as u32).to_le_bytes());
            h.extend((name.len() as u16).to_le_bytes());
            h.extend((extra.len() as u16).to_le_bytes());
            h
        };
        out.extend(fixed(LOCAL));
        out.extend(name.as_bytes());
        out.extend(&extra);
        out.extend(*data);
        central.extend(fixed(CENTRAL));
        central.extend([0; 6]); // comment length, disk, internal attributes
        central.extend([0; 4]); // external attributes
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
        central.extend(&extra);
    }
    let cd_offset = out.len() as u32;
    out.extend(&central);
    out.extend(EOCD.to_le_bytes());
    out.extend([0; 4]);
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend([0; 2]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn stored_entries_round_trip_with_alignment() {
        let zip = write_stored(&[("archive/data.pkl", b"pickle"), ("archive/data/0", &[1, 2, 3, 4])]);
        assert!(is_zip(&zip));
        let z = ZipArchive::open("t.pt", &zip).unwrap();
        let names: Vec<&str> = z.entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["archive/data.pkl", "archive/data/0"]);
        assert_eq!(z.read("archive/data.pkl").unwrap(), b"pickle");
        let d = z.read("archive/data/0").unwrap();
        assert_eq!(d, [1, 2, 3, 4]);
        assert_eq!((d.as_ptr() as usize - zip.as_ptr() as usize) % 64, 0);
        assert!(z.read("nope").unwrap_err().to_string().contains("'nope'"));
    }

    #[test]
    fn corruption_and_truncation_are_reported() {
        let zip = write_stored(&[("a/data.pkl", b"pickle data")]);
        let e = ZipArchive::open("t.pt", &zip[..zip.len() - 30]).unwrap_err().to_string();
        assert!(e.contains("t.pt") && e.contains("truncated"), "{e}");
        let mut bad = zip.clone();
        let at = bad.windows(11).position(|w| w == b"pickle data").unwrap();
        bad[at] ^= 0x20;
        let e = ZipArchive::open("t.pt", &bad).unwrap().read("a/data.pkl").unwrap_err().to_string();
        assert!(e.contains("CRC-32"), "{e}");
        let mut deflated = zip.clone();
        deflated[8] = 8; // local header method
        let cd = deflated.windows(4).position(|w| w == CENTRAL.to_le_bytes()).unwrap();
        deflated[cd + 10] = 8;
        let e = ZipArchive::open("t.pt", &deflated).unwrap().read("a/data.pkl").unwrap_err().to_string();
        assert!(e.contains("compressed"), "{e}");
    }
}
