use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = incidex_api::cli::Cli::parse();
    match incidex_api::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // One line saying what is wrong: the error and its causes, with
            // multi-line messages (libpq, TOML snippets) folded.
            let message = format!("{e:#}");
            let folded: Vec<&str> = message
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && l.chars().any(char::is_alphanumeric))
                .collect();
            eprintln!("incidex: error: {}", folded.join(" "));
            std::process::ExitCode::FAILURE
        }
    }
}
