//! The `tributary` binary: parse the command line and hand over to the library.

/// jemalloc instead of the system allocator: under ingest, glibc's malloc and free took about a
/// third of the server's CPU (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    tributary::cli::main()
}
