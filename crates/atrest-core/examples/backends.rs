//! Lists the backends this host supports. `--names` prints bare names, one per line, for scripts.

fn main() {
    let names_only = std::env::args().any(|a| a == "--names");
    for backend in atrest_core::backend::supported() {
        if names_only {
            println!("{backend}");
        } else {
            let best = if backend == atrest_core::backend::best_supported() { " (auto)" } else { "" };
            println!("{backend}{best}");
        }
    }
    if !names_only {
        println!("cpu features: {}", atrest_core::CpuFeatures::get().names().join(" "));
    }
}
