use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = incidex_api::cli::Cli::parse();
    match incidex_api::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // One line saying what is wrong: the error and its causes.
            eprintln!("incidex: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
