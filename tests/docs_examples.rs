//! The `console` examples of the README and the docs, run on the bundled data and compared
//! with the real binary's output (trycmd, the convention of clap's own documentation): the
//! documentation cannot drift from the binary. `sh` blocks are not run here (the walkthroughs
//! are, in `walkthroughs.rs`).

#[test]
fn console_examples_in_the_docs_print_what_they_show() {
    trycmd::TestCases::new()
        .register_bin("startpoint", trycmd::cargo::cargo_bin!("startpoint"))
        .env("TZ", "UTC")
        .case("README.md");
}
