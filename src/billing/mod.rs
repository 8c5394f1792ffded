//! Money: exact arithmetic now; holds, settlement and the ledger build on it.

pub mod money;
