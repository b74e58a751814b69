//! Downloading an original with the system's `curl` or `wget` (whichever exists), into a
//! given file. `curl` also takes `file://` URLs (tests, local mirrors).

use std::path::Path;
use std::process::Command;

use crate::error::{Error, Result};

/// The download tool found on `PATH`: `curl` preferred, else `wget`.
pub fn tool() -> Option<&'static str> {
    ["curl", "wget"].into_iter().find(|t| {
        Command::new(t).arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
    })
}

/// Download `url` into `to` (overwritten). Errors name the URL, the tool and its message.
pub fn download(url: &str, to: &Path) -> Result<()> {
    let tool = tool().ok_or_else(|| {
        Error::Io(format!(
            "cannot download {url}: neither curl nor wget is installed; download it by hand and pass \
             its folder with --from DIR"
        ))
    })?;
    let mut cmd = Command::new(tool);
    if tool == "curl" {
        cmd.args(["-fsSL", "--retry", "2", "--connect-timeout", "30", "-o"]).arg(to).arg(url);
    } else {
        cmd.args(["-q", "--tries=3", "--timeout=30", "-O"]).arg(to).arg(url);
    }
    let out = cmd.output().map_err(|e| Error::Io(format!("cannot run {tool} for {url}: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut lines: Vec<&str> = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        lines.dedup(); // curl repeats its message on every retry
        let msg = lines.join(" / ");
        return Err(Error::Io(format!(
            "download of {url} with {tool} failed ({}){}",
            out.status,
            if msg.is_empty() { String::new() } else { format!(": {msg}") }
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_download_and_missing_ones_fail_with_the_url() {
        if tool() != Some("curl") {
            crate::util::test_skip::skip("file_urls_download_and_missing_ones_fail_with_the_url", "curl is not installed (scripts/setup.sh installs it)");
            return;
        }
        let dir = std::env::temp_dir().join(format!("advseg-dl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("src.bin");
        std::fs::write(&src, b"payload").unwrap();
        let dst = dir.join("dst.bin");
        download(&format!("file://{}", src.display()), &dst).unwrap();
        assert_eq!(std::fs::read(&dst).unwrap(), b"payload");
        let url = format!("file://{}/missing.bin", dir.display());
        let e = download(&url, &dir.join("x")).unwrap_err().to_string();
        assert!(e.contains(&url) && e.contains("curl"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
