use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sportello::telemetry::init();
    sportello::cli::run(sportello::cli::Cli::parse()).await
}
