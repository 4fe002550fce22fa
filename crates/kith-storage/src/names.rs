//! Bucket ids and object names, checked before anything touches the database or the disk. The same rules are
//! CHECK constraints in Postgres (migration 0090); these only word the refusal. Object names never become file
//! paths (files are named by version), so a name cannot reach outside the storage directory anyway.

use crate::error::{StorageError, StorageResult};

/// Longest object name, in bytes (Supabase's limit).
pub const MAX_NAME_BYTES: usize = 1024;

/// A bucket id: 1–100 of Supabase's characters, not `.` or `..`.
pub fn bucket_id(id: &str) -> StorageResult<&str> {
    let ok = !id.is_empty()
        && id.chars().count() <= 100
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_!.*'() &$@=;:+,?-".contains(c));
    if ok {
        Ok(id)
    } else {
        Err(StorageError::invalid_bucket(id))
    }
}

/// An object name: 1–1024 bytes of segments joined by single slashes; no empty, `.` or `..` segment, no NUL or
/// other control character, no backslash.
pub fn object_name(name: &str) -> StorageResult<&str> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && !name.chars().any(|c| c.is_control() || c == '\\')
        && name
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..");
    if ok {
        Ok(name)
    } else {
        Err(StorageError::invalid_key(name))
    }
}

/// A listing prefix (a folder): empty, or a valid name with an optional trailing slash; returned with exactly
/// one trailing slash (or empty).
pub fn prefix(prefix: &str) -> StorageResult<String> {
    let trimmed = prefix.trim_start_matches('/').trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    object_name(trimmed)?;
    Ok(format!("{trimmed}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_and_control_characters_are_refused() {
        for bad in [
            "", "..", "../x", "a/../b", "a/./b", "a//b", "/a", "a/", "a\0b", "a\\b", "a\nb", ".", "a/..",
        ] {
            assert!(object_name(bad).is_err(), "{bad:?}");
        }
        assert!(object_name(&"x".repeat(1025)).is_err());
        for good in ["a", "a/b/c.png", "folder/my file (1).txt", "é/ü.txt", "a..b", ".hidden"] {
            assert!(object_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn bucket_ids_follow_supabase() {
        for bad in ["", ".", "..", "a/b", "a\\b", "é", &"b".repeat(101)] {
            assert!(bucket_id(bad).is_err(), "{bad:?}");
        }
        for good in ["avatars", "my-bucket_1", "a.b"] {
            assert!(bucket_id(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn prefixes_end_with_one_slash() {
        assert_eq!(prefix("").ok().as_deref(), Some(""));
        assert_eq!(prefix("/").ok().as_deref(), Some(""));
        assert_eq!(prefix("a/b").ok().as_deref(), Some("a/b/"));
        assert_eq!(prefix("a/b/").ok().as_deref(), Some("a/b/"));
        assert!(prefix("a/../b").is_err());
    }
}
