//! The timing family: `elapsed`, the virtual time the whole flow took.

use super::{Expect, Mismatch};
use crate::observe::Observation;

/// Checks `expect.elapsed`.
pub(crate) fn check(expect: &Expect, obs: &Observation, out: &mut Vec<Mismatch>) {
    if let Some(want) = expect.elapsed
        && want.0 != obs.elapsed
    {
        out.push(Mismatch::new(
            "expect.elapsed",
            want.to_string(),
            amt_sim::faults::DurationText(obs.elapsed).to_string(),
        ));
    }
}
