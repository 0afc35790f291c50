//! The correctness rules (issue 20): a bucket is linearizable per key in a process, every wait
//! of single flight has a deadline, and helper files are never opened through a link.

mod helper_files;
mod linearizable;
mod single_flight_deadline;
