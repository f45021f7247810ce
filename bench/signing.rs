//! Cold-cache signing rate: signatures per second on one core for each
//! algorithm, over RRSIG-sized inputs (`cargo bench --bench signing`).
//! Quote it next to a peer's figure from the same machine, not alone.

use std::time::Instant;

use signpost::dnssec::keys::{self, SigningAlgorithm};
use signpost::proto::Name;

fn main() {
    let zone = Name::parse("bench.test.", None).expect("name");
    let dir = std::env::temp_dir().join(format!("signpost-signing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    for algorithm in [SigningAlgorithm::EcdsaP256Sha256, SigningAlgorithm::Ed25519] {
        let (key, _) = keys::generate(&zone, algorithm, &dir).expect("key");
        // An RRSIG header plus a small A RRset in canonical form.
        let data = vec![0x5a; 120];
        let rounds = 20_000;
        let started = Instant::now();
        for i in 0..rounds {
            let mut input = data.clone();
            input[0] = i as u8;
            std::hint::black_box(key.sign(&input));
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{algorithm:?}: {:.0} signatures/s on one core",
            f64::from(rounds) / secs
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
