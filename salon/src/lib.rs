//! The salon binary's library: wiring of the whole application (`app`), the CLI's commands
//! (`export`, `bench`), and throwaway databases for tests and benchmarks (`scratch`).

pub mod app;
pub mod bench;
pub mod bench_availability;
pub mod export;
pub mod scratch;
