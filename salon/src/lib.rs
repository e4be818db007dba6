//! The salon binary's library: wiring of the whole application (`app`), the CLI's commands
//! (`export`, `status`, `bench`, `clients`, `import`), the intake (`intake`), and throwaway databases for tests and benchmarks (`scratch`).

pub mod app;
pub mod bench;
pub mod bench_api;
pub mod bench_availability;
pub mod bench_chaos;
pub mod bench_export;
pub mod bench_replay;
pub mod clients;
pub mod export;
pub mod import;
pub mod intake;
pub mod scratch;
pub mod status;
