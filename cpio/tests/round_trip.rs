//! Property tests: what the writer packs, the reader lists back unchanged,
//! and the reader survives truncated and garbage archives (it is the
//! kernel's only view of the initrd, which it must not panic on).

use std::collections::BTreeSet;

use cpio::{archive_bytes, read, Entry, HEADER_LEN, S_IFDIR, S_IFREG};
use proptest::prelude::*;

/// One member to pack: path components, directory or not, permission bits,
/// contents (ignored for directories).
type Member = (Vec<String>, bool, u32, Vec<u8>);

/// What the reader lists for one entry: name, mode, data.
type Listed = (String, u32, Vec<u8>);

fn member() -> impl Strategy<Value = Member> {
    // Any characters but `/` and NUL, never a `.` or `..` component.
    let component = "[^/\0]{1,8}".prop_filter("not . or ..", |c| c != "." && c != "..");
    (
        prop::collection::vec(component, 1..4),
        any::<bool>(),
        0..=0o7777u32,
        prop::collection::vec(any::<u8>(), 0..600),
    )
}

/// Writer entries for `members` (paths spelled in the ways the writer
/// accepts: leading `/`, `./` or nothing), and for each the name, mode and
/// data the reader must give back. Members whose stored name repeats an
/// earlier one are dropped (the writer rejects duplicates).
fn entries(members: &[Member]) -> (Vec<Entry>, Vec<Listed>) {
    let mut seen = BTreeSet::new();
    let (mut input, mut expected) = (Vec::new(), Vec::new());
    for (i, (parts, is_dir, perm, data)) in members.iter().enumerate() {
        let name = parts.join("/");
        if name == cpio::TRAILER || !seen.insert(name.clone()) {
            continue;
        }
        let path = match i % 3 {
            0 => format!("/{name}"),
            1 => format!("./{name}"),
            _ => name.clone(),
        };
        let entry = if *is_dir { Entry::dir(path, *perm) } else { Entry::file(path, *perm, data.clone()) };
        let mode = if *is_dir { S_IFDIR | perm } else { S_IFREG | perm };
        expected.push((name, mode, entry.data.clone()));
        input.push(entry);
    }
    (input, expected)
}

fn listed(archive: &[u8]) -> Vec<Listed> {
    read::entries(archive).map(|e| (e.name.to_string(), e.mode, e.data.to_vec())).collect()
}

/// Every listed entry takes at least a header, a one-byte name and padding
/// to 4, so a listing can never be longer than this (it always ends).
fn max_entries(len: usize) -> usize {
    len / (HEADER_LEN + 2)
}

proptest! {
    #[test]
    fn written_entries_read_back_identical(members in prop::collection::vec(member(), 0..12)) {
        let (input, expected) = entries(&members);
        let bytes = archive_bytes(&input).unwrap();
        prop_assert_eq!(bytes.len() % 4, 0);
        prop_assert_eq!(listed(&bytes), expected);
    }

    #[test]
    fn truncated_archive_lists_a_prefix(members in prop::collection::vec(member(), 1..8), cut in any::<prop::sample::Index>()) {
        let (input, _) = entries(&members);
        let bytes = archive_bytes(&input).unwrap();
        let full = listed(&bytes);
        let cut = cut.index(bytes.len());
        let part = listed(&bytes[..cut]);
        prop_assert!(part.len() <= full.len());
        prop_assert_eq!(&part[..], &full[..part.len()]);
        // An entry whose data is cut off is not listed.
        for e in read::entries(&bytes[..cut]) {
            prop_assert!(e.data.as_ptr_range().end as usize <= bytes[..cut].as_ptr_range().end as usize);
        }
    }

    #[test]
    fn garbage_is_not_fatal(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        prop_assert!(read::entries(&bytes).count() <= max_entries(bytes.len()));
    }

    /// Headers with the right magic and random hex fields: sizes that run
    /// past the end, zero name sizes, huge values.
    #[test]
    fn random_headers_are_not_fatal(
        records in prop::collection::vec((prop::collection::vec("[0-9a-fA-F]{8}", 13), prop::collection::vec(any::<u8>(), 0..64)), 1..6),
    ) {
        let mut bytes = Vec::new();
        for (fields, tail) in &records {
            bytes.extend_from_slice(cpio::NEWC_MAGIC);
            for f in fields {
                bytes.extend_from_slice(f.as_bytes());
            }
            bytes.extend_from_slice(tail);
        }
        prop_assert!(read::entries(&bytes).count() <= max_entries(bytes.len()));
    }

    #[test]
    fn corrupted_archive_is_not_fatal(members in prop::collection::vec(member(), 1..6), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let (input, _) = entries(&members);
        let mut bytes = archive_bytes(&input).unwrap();
        let at = at.index(bytes.len());
        bytes[at] = byte;
        prop_assert!(read::entries(&bytes).count() <= max_entries(bytes.len()));
    }
}

/// An archive as GNU cpio writes it (`./` names, a header padded after the
/// name): what the kernel's own initrd test reads.
#[test]
fn reads_dot_slash_names_and_stops_at_the_trailer() {
    const SAMPLE: &[u8] = b"07070100000001000081800000000000000000000000010000000000000005000000000000000000000000000000000000000a00000000./a/hello\0hello\0\0\x0007070100000001000000000000000000000000000000010000000000000000000000000000000000000000000000000000000b00000000TRAILER!!!\0\0\0\0";
    let all: Vec<_> = read::entries(SAMPLE).collect();
    assert_eq!(all, [read::Entry { name: "./a/hello", mode: 0o100600, data: b"hello" }]);
    // Anything after the trailer is not listed.
    let mut more = SAMPLE.to_vec();
    more.extend_from_slice(&SAMPLE[..SAMPLE.len() - 124]);
    assert_eq!(read::entries(&more).count(), 1);
}
