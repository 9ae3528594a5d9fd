//! The torrent info dictionary (BEP-3 v1, BEP-52 v2, and hybrids of both), parsed into what
//! an indexer shows: a name, files with paths and sizes, and a few flags.
//!
//! * Name: `name.utf-8` when present, else `name`; both decoded as lossy UTF-8.
//! * v1: a single file (`length`) or a `files` list of `{length, path[, path.utf-8, attr]}`;
//!   BEP-47 pad files (`attr` containing `p`) are left out of [`InfoDict::files`] and counted
//!   in [`InfoDict::padding`] (hybrid torrents made by libtorrent have one after every file
//!   but the last).
//! * v2 (`meta version` 2): a `file tree` of nested dictionaries whose leaves are
//!   `{"": {length[, pieces root]}}`.
//! * Hybrid (both): the v1 list is used; [`InfoDict::version`] records that it is hybrid.
//!
//! Everything is bounded: the decoder bounds nesting, [`MAX_FILES`] bounds the file count and
//! [`MAX_PATH_COMPONENTS`] the path depth.

use bencode::{Dict, Value};

/// Most files parsed from one info dictionary.
pub const MAX_FILES: usize = 1_000_000;

/// Most components in one file path.
pub const MAX_PATH_COMPONENTS: usize = 256;

/// Which metadata format(s) an info dictionary carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaVersion {
    /// BEP-3 only.
    V1,
    /// BEP-52 only (`meta version` 2, `file tree`, no v1 file list).
    V2,
    /// Both a v1 file list (or `length`) and a v2 `file tree`.
    Hybrid,
}

/// One file of a torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Path components below the torrent's directory; for a single-file torrent, the name.
    pub path: Vec<String>,
    /// Size in bytes.
    pub length: u64,
}

/// A parsed info dictionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoDict {
    /// The suggested name (file name, or directory name of a multi-file torrent).
    pub name: String,
    /// `piece length`, if present and positive.
    pub piece_length: Option<u64>,
    /// BEP-27 `private` flag.
    pub private: bool,
    /// v1, v2 or hybrid.
    pub version: MetaVersion,
    /// `meta version` as given (2 for v2 and hybrid torrents), if present.
    pub meta_version: Option<i64>,
    /// Whether the torrent is a single file rather than a directory.
    pub single_file: bool,
    /// The files, without BEP-47 pad files.
    pub files: Vec<File>,
    /// Sum of [`InfoDict::files`] lengths.
    pub total_size: u64,
    /// Bytes in pad files left out of [`InfoDict::files`].
    pub padding: u64,
}

impl InfoDict {
    /// Number of (non-pad) files.
    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// Parses bencoded info-dictionary bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, InfoDictError> {
        let v = bencode::decode(bytes).map_err(|_| InfoDictError::NotBencode)?;
        let d = v.as_dict().ok_or(InfoDictError::NotADict)?;
        let name = d
            .get(b"name.utf-8")
            .and_then(|v| v.as_bytes())
            .or_else(|| d.get(b"name").and_then(|v| v.as_bytes()))
            .map(lossy)
            .ok_or(InfoDictError::MissingName)?;
        let piece_length = d
            .get(b"piece length")
            .and_then(|v| v.as_int())
            .and_then(|n| u64::try_from(n).ok())
            .filter(|&n| n > 0);
        let private = d.get(b"private").and_then(|v| v.as_int()) == Some(1);
        let meta_version = d.get(b"meta version").and_then(|v| v.as_int());
        let file_tree = match meta_version {
            Some(2) => d.get(b"file tree").and_then(|v| v.as_dict()),
            _ => None,
        };
        let v1_length = d.get(b"length");
        let v1_files = d.get(b"files");
        let has_v1 = v1_length.is_some() || v1_files.is_some();

        let mut out = Self {
            name,
            piece_length,
            private,
            version: match (has_v1, file_tree.is_some()) {
                (true, true) => MetaVersion::Hybrid,
                (false, true) => MetaVersion::V2,
                _ => MetaVersion::V1,
            },
            meta_version,
            single_file: false,
            files: Vec::new(),
            total_size: 0,
            padding: 0,
        };

        if let Some(len) = v1_length {
            out.single_file = true;
            let length = size(len)?;
            out.push(File {
                path: vec![out.name.clone()],
                length,
            })?;
        } else if let Some(files) = v1_files {
            let files = files.as_list().ok_or(InfoDictError::BadFileList)?;
            for f in files.iter() {
                let f = f.as_dict().ok_or(InfoDictError::BadFileList)?;
                let length = size(f.get(b"length").ok_or(InfoDictError::MissingLength)?)?;
                let is_pad = f
                    .get(b"attr")
                    .and_then(|v| v.as_bytes())
                    .is_some_and(|a| a.contains(&b'p'));
                if is_pad {
                    out.padding = out.padding.saturating_add(length);
                    continue;
                }
                let path = f
                    .get(b"path.utf-8")
                    .or_else(|| f.get(b"path"))
                    .ok_or(InfoDictError::BadPath)?;
                out.push(File {
                    path: v1_path(path)?,
                    length,
                })?;
            }
        } else if let Some(tree) = file_tree {
            let mut path = Vec::new();
            walk_tree(tree, &mut path, &mut out, 0)?;
            // BEP-52: a single-file torrent's tree holds one file named like the torrent.
            out.single_file = out.files.len() == 1 && out.files[0].path == [out.name.as_str()];
        } else {
            return Err(InfoDictError::MissingLength);
        }
        Ok(out)
    }

    fn push(&mut self, f: File) -> Result<(), InfoDictError> {
        if self.files.len() >= MAX_FILES {
            return Err(InfoDictError::TooManyFiles);
        }
        self.total_size = self
            .total_size
            .checked_add(f.length)
            .ok_or(InfoDictError::SizeOverflow)?;
        self.files.push(f);
        Ok(())
    }
}

/// Why bytes are not a usable info dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InfoDictError {
    /// Not valid bencode.
    #[error("not bencode")]
    NotBencode,
    /// Valid bencode but not a dictionary.
    #[error("not a dictionary")]
    NotADict,
    /// No `name` (nor `name.utf-8`) string.
    #[error("missing name")]
    MissingName,
    /// No `length`, no `files` and no v2 `file tree`, or a file without `length`.
    #[error("missing length")]
    MissingLength,
    /// A `length` that is negative or not an integer.
    #[error("negative or malformed size")]
    BadSize,
    /// `files` is not a list of dictionaries.
    #[error("malformed file list")]
    BadFileList,
    /// A path that is missing, empty, not a list of strings, or deeper than
    /// [`MAX_PATH_COMPONENTS`].
    #[error("malformed path")]
    BadPath,
    /// A v2 `file tree` node that is not a dictionary, or a leaf without a valid `length`.
    #[error("malformed file tree")]
    BadFileTree,
    /// More than [`MAX_FILES`] files.
    #[error("too many files")]
    TooManyFiles,
    /// The total size overflows 64 bits.
    #[error("total size overflows")]
    SizeOverflow,
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn size(v: Value<'_>) -> Result<u64, InfoDictError> {
    v.as_int()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or(InfoDictError::BadSize)
}

fn v1_path(v: Value<'_>) -> Result<Vec<String>, InfoDictError> {
    let list = v.as_list().ok_or(InfoDictError::BadPath)?;
    let mut path = Vec::new();
    for c in list.iter() {
        if path.len() >= MAX_PATH_COMPONENTS {
            return Err(InfoDictError::BadPath);
        }
        path.push(lossy(c.as_bytes().ok_or(InfoDictError::BadPath)?));
    }
    if path.is_empty() {
        return Err(InfoDictError::BadPath);
    }
    Ok(path)
}

/// Depth-first walk of a v2 file tree. Recursion is bounded by the decoder's nesting limit
/// (each level is a dictionary); `depth` is checked anyway.
fn walk_tree(
    node: Dict<'_>,
    path: &mut Vec<String>,
    out: &mut InfoDict,
    depth: usize,
) -> Result<(), InfoDictError> {
    if depth > MAX_PATH_COMPONENTS {
        return Err(InfoDictError::BadPath);
    }
    for (key, child) in node.iter() {
        let child = child.as_dict().ok_or(InfoDictError::BadFileTree)?;
        if key.is_empty() {
            // A leaf: `path` names the file.
            if path.is_empty() {
                return Err(InfoDictError::BadFileTree);
            }
            let length = child
                .get(b"length")
                .ok_or(InfoDictError::BadFileTree)
                .and_then(size)?;
            out.push(File {
                path: path.clone(),
                length,
            })?;
            continue;
        }
        path.push(lossy(key));
        let r = walk_tree(child, path, out, depth + 1);
        path.pop();
        r?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bep3_single_file() {
        let d = InfoDict::parse(
            b"d6:lengthi12345e4:name8:file.iso12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae",
        )
        .unwrap();
        assert_eq!(d.name, "file.iso");
        assert!(d.single_file);
        assert_eq!(d.version, MetaVersion::V1);
        assert_eq!(d.total_size, 12345);
        assert_eq!(
            d.files,
            vec![File {
                path: vec!["file.iso".into()],
                length: 12345
            }]
        );
        assert_eq!(d.piece_length, Some(16384));
        assert!(!d.private);
    }

    #[test]
    fn bep3_multi_file_prefers_utf8_and_skips_pads() {
        let d = InfoDict::parse(
            b"d5:filesld6:lengthi1e4:pathl1:a1:bee\
              d4:attr1:p6:lengthi7e4:pathl4:.pad1:7ee\
              d6:lengthi2e4:pathl3:bade10:path.utf-8l4:goodeee\
              4:name3:dir10:name.utf-85:dir\xc3\xa97:privatei1ee",
        )
        .unwrap();
        assert_eq!(d.name, "diré");
        assert!(d.private && !d.single_file);
        assert_eq!(d.file_count(), 2);
        assert_eq!(d.files[0].path, ["a", "b"]);
        assert_eq!(d.files[1].path, ["good"]);
        assert_eq!((d.total_size, d.padding), (3, 7));
    }

    #[test]
    fn bep52_file_tree() {
        let d = InfoDict::parse(
            b"d9:file treed4:dir1d5:a.txtd0:d6:lengthi5e11:pieces root32:\
              aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaeee5:emptyd0:d6:lengthi0eeee\
              12:meta versioni2e4:name4:root12:piece lengthi16384ee",
        )
        .unwrap();
        assert_eq!(d.version, MetaVersion::V2);
        assert_eq!(d.meta_version, Some(2));
        assert_eq!(d.files[0].path, ["dir1", "a.txt"]);
        assert_eq!(d.files[1].path, ["empty"]);
        assert_eq!(d.total_size, 5);
        assert!(!d.single_file);
    }

    #[test]
    fn bad_dicts() {
        use InfoDictError::*;
        let cases: [(&[u8], InfoDictError); 12] = [
            (b"d4:name1:xe", MissingLength),
            (b"d6:lengthi1ee", MissingName),
            (b"d6:lengthi-1e4:name1:xe", BadSize),
            (b"d6:length1:x4:name1:xe", BadSize),
            (b"d5:filesld4:pathl1:aeee4:name1:xe", MissingLength),
            (b"d5:filesld6:lengthi1e4:pathleee4:name1:xe", BadPath),
            (b"d5:filesld6:lengthi1eee4:name1:xe", BadPath),
            (b"d5:filesi1e4:name1:xe", BadFileList),
            (
                b"d9:file treed1:ai1ee12:meta versioni2e4:name1:xe",
                BadFileTree,
            ),
            (
                b"d9:file treed0:d6:lengthi1eee12:meta versioni2e4:name1:xe",
                BadFileTree,
            ),
            (b"le", NotADict),
            (b"d4:name", NotBencode),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                InfoDict::parse(bytes),
                Err(want),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        let huge = b"d5:filesld6:lengthi9223372036854775807e4:pathl1:aeed6:lengthi9223372036854775807e4:pathl1:beed6:lengthi9223372036854775807e4:pathl1:ceee4:name1:xe";
        assert_eq!(InfoDict::parse(huge), Err(SizeOverflow));
    }

    #[test]
    fn v2_tree_without_meta_version_is_not_v2() {
        assert_eq!(
            InfoDict::parse(b"d9:file treed1:ad0:d6:lengthi1eeee4:name1:xe"),
            Err(InfoDictError::MissingLength)
        );
    }
}
