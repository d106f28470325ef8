//! Runs the runtime over oracle-format JSONL from stdin (see `osmosis_runtime::oracle`).

fn main() -> std::io::Result<()> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    osmosis_runtime::oracle::run_jsonl(stdin.lock(), std::io::BufWriter::new(stdout.lock()))
}
