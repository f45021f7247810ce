//! Reading a zone file into the builder: records stream from the parser
//! straight into the node table, and a large zone is parsed on a second
//! thread while this one compiles, so start-up and reload use two cores.

use std::path::Path;
use std::sync::mpsc::sync_channel;

use super::build::{Built, ZoneBuilder};
use super::memory;
use crate::policy::PolicyConfig;
use crate::proto::{diag, Diagnostic, Name, Position};
use crate::zonefile::{self, Record};

/// Zones of about this many records or more are parsed on a second thread.
const PIPELINE_MIN_RECORDS: usize = 50_000;
/// Records handed from the parser thread to the builder at a time.
const PIPELINE_BATCH: usize = 4096;

/// Parses and compiles one zone file, resolving routing-policy annotations
/// against `policy` (health checks, regions, CIDR collections of the
/// config). Syntax and semantic errors are reported together, in file
/// order.
pub(super) fn zone_file(
    origin: &Name,
    file: &Path,
    policy: &std::sync::Arc<PolicyConfig>,
) -> Result<Built, Vec<Diagnostic>> {
    // A master-file line is rarely under 40 bytes; the estimate only sizes
    // the name table up front.
    let estimate = std::fs::metadata(file).map_or(0, |m| (m.len() / 40) as usize);
    let mut builder =
        ZoneBuilder::with_capacity(origin, file, estimate.min(1 << 24)).with_policy(policy.clone());
    // Parsing and compiling take about the same time; small zones are not
    // worth a thread.
    let parsed = if estimate < PIPELINE_MIN_RECORDS {
        zonefile::parse_file_each(file, origin, &mut |r| builder.add(r))
    } else {
        pipelined(file, origin, &mut builder)
    };
    match parsed {
        Ok(warnings) => {
            builder.warn_all(warnings);
            builder.finish()
        }
        Err(mut errors) => {
            errors.extend(builder.into_errors());
            diag::sort(&mut errors);
            Err(errors)
        }
    }
}

fn pipelined(
    file: &Path,
    origin: &Name,
    builder: &mut ZoneBuilder,
) -> Result<Vec<Diagnostic>, Vec<Diagnostic>> {
    let (tx, rx) = sync_channel::<Vec<Record>>(8);
    std::thread::scope(|scope| {
        let parser = scope.spawn(move || {
            let mut batch = Vec::with_capacity(PIPELINE_BATCH);
            let result = zonefile::parse_file_each(file, origin, &mut |r| {
                batch.push(r);
                if batch.len() == PIPELINE_BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(PIPELINE_BATCH));
                    // The builder only stops receiving when this thread ends.
                    let _ = tx.send(full);
                }
            });
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
            result
        });
        for batch in rx {
            for record in batch {
                builder.add(record);
            }
        }
        let result = parser.join();
        // The parser thread's records were freed on this thread.
        memory::release_free_pages();
        result.unwrap_or_else(|_| {
            Err(vec![Diagnostic::new(
                Position::file_start(file),
                "the zone parser failed unexpectedly; please report this",
            )])
        })
    })
}
