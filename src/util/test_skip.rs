//! How a test that cannot run says so: the one place that records skips, for the unit tests
//! here and the integration tests (`tests/common`). A skip is never silent: the reason goes to
//! stderr past the test harness's capture, and a line `test: reason` is appended to the file
//! named by `ADVSEG_SKIP_LOG`, which `scripts/test.sh` counts in its closing line. With
//! `ADVSEG_FORBID_SKIPS=1` (`.ci/run` sets it) a skip fails the test instead.

use std::io::Write;

/// Records that `test` skips its checks because of `reason` (see the module doc); panics
/// under `ADVSEG_FORBID_SKIPS=1` or when the skip log cannot be written.
#[doc(hidden)]
pub fn skip(test: &str, reason: &str) {
    let reason = reason.replace('\n', " ");
    if std::env::var("ADVSEG_FORBID_SKIPS").is_ok_and(|v| v == "1") {
        panic!("{test} would skip ({reason}), but ADVSEG_FORBID_SKIPS=1: every test must run");
    }
    // a direct write to the stream: `eprintln!` is captured, and dropped when the test passes
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
    if let Some(log) = std::env::var_os("ADVSEG_SKIP_LOG") {
        let line = format!("{test}: {reason}\n");
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&log);
        if let Err(e) = file.and_then(|mut f| f.write_all(line.as_bytes())) {
            panic!("{test}: cannot record the skip in ADVSEG_SKIP_LOG={}: {e}", std::path::Path::new(&log).display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_is_logged_with_its_reason() {
        let log = std::env::temp_dir().join(format!("advseg-skip-{}.log", std::process::id()));
        let _ = std::fs::remove_file(&log);
        // in a child process, so that this run's own skip log and settings stay out of it
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new(exe)
            .args(["--exact", "util::test_skip::tests::skip_in_child", "--nocapture"])
            .env("ADVSEG_SKIP_LOG", &log)
            .env_remove("ADVSEG_FORBID_SKIPS")
            .env("ADVSEG_SKIP_CHILD", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stderr).contains("SKIPPED child: two\tlines"));
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "child: two\tlines\n");
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "util::test_skip::tests::skip_in_child"])
            .env("ADVSEG_FORBID_SKIPS", "1")
            .env_remove("ADVSEG_SKIP_LOG")
            .env("ADVSEG_SKIP_CHILD", "1")
            .output()
            .unwrap();
        assert!(!out.status.success(), "a forbidden skip must fail the test");
        std::fs::remove_file(&log).unwrap();
    }

    /// Only does something in the child started above.
    #[test]
    fn skip_in_child() {
        if std::env::var_os("ADVSEG_SKIP_CHILD").is_some() {
            skip("child", "two\tlines");
        }
    }
}
