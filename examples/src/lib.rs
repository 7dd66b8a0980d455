//! Shared helpers for the examples.

/// Logs `tracing` events to stderr, with colours only when stderr is a terminal.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// The first command-line argument parsed as a number of epochs, or `default`.
pub fn epochs_arg(default: u64) -> anyhow::Result<u64> {
    Ok(std::env::args()
        .nth(1)
        .map(|e| e.parse())
        .transpose()?
        .unwrap_or(default))
}
