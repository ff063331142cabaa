//! The `sohoa` command. All behaviour lives in the library; this only hands over to the CLI.

fn main() -> std::process::ExitCode {
    sohoa::cli::main()
}
