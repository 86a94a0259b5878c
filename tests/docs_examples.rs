//! The `console` examples of the README and the docs, run on the bundled data and compared
//! with the real binary's output (trycmd, the convention of clap's own documentation): the
//! documentation cannot drift from the binary. `sh` blocks are not run here (the walkthroughs
//! are, in `walkthroughs.rs`).

#[test]
fn console_examples_in_the_docs_print_what_they_show() {
    // A summary cache of its own, empty: what a first run prints, whatever ran before.
    let cache = tempfile::tempdir().unwrap();
    {
        // The cases run when `TestCases` is dropped, at the end of this block.
        trycmd::TestCases::new()
            .register_bin("startpoint", trycmd::cargo::cargo_bin!("startpoint"))
            .env("TZ", "UTC")
            .env("XDG_CACHE_HOME", cache.path().display().to_string())
            .case("README.md");
    }
    drop(cache);
}
